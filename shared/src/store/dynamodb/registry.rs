//! The registry's files and invoices ([`RegistryStore`]), and the registry import's batches.

use super::items::*;
use super::transact::key;
use super::{DynamoStore, Item, built, is_condition_failure, unavailable};
use crate::domain::{CertificateFile, CertificateNumber, Invoice, InvoiceNumber};
use crate::store::{EmployeeEmail, RegistryStore, StoreError, StoreResult};
use aws_sdk_dynamodb::types::KeysAndAttributes;
use std::collections::HashMap;

/// What one registry batch took: retries of unprocessed items, and the files whose
/// employee-set email was kept over the registry's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistryBatch {
    pub retries: u32,
    pub kept_employee_emails: u32,
}

/// One row of the registry, ready to put.
#[derive(Debug, Clone)]
pub enum RegistryRow {
    Certificate(CertificateFile),
    Invoice(Invoice),
}

impl RegistryRow {
    /// The item's key: a batch may not name one twice.
    pub fn key(&self) -> String {
        match self {
            Self::Certificate(file) => cert_pk(&file.number),
            Self::Invoice(invoice) => invoice_pk(&invoice.number),
        }
    }
}

impl DynamoStore {
    /// Registry import: puts up to 25 files and invoices in one `BatchWriteItem`, retrying the
    /// unprocessed ones with exponential backoff. Files are plain puts of their registry
    /// fields: links and audit events are other items and stay. Answers how many retries it
    /// took.
    pub async fn put_registry_batch(
        &self,
        rows: &[RegistryRow],
        employee_email: EmployeeEmail,
    ) -> StoreResult<RegistryBatch> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let files: Vec<CertificateFile> = rows
            .iter()
            .filter_map(|row| match row {
                RegistryRow::Certificate(file) => Some(file.clone()),
                RegistryRow::Invoice(_) => None,
            })
            .collect();
        let kept_employee_emails = self.employee_emails_kept(&files, employee_email).await?.len() as u32;
        let mut pending: Vec<WriteRequest> = rows
            .iter()
            .map(|row| {
                let item = match row {
                    RegistryRow::Certificate(file) => file_item(file),
                    RegistryRow::Invoice(invoice) => invoice_item(invoice),
                };
                let put = built(PutRequest::builder().set_item(Some(item)).build())?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<StoreResult<_>>()?;
        let mut retries = 0;
        for attempt in 0..10u32 {
            if pending.is_empty() {
                return Ok(RegistryBatch { retries, kept_employee_emails });
            }
            if attempt > 0 {
                retries += 1;
                tokio::time::sleep(std::time::Duration::from_millis((50u64 << attempt.min(6)).min(3_000))).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(unavailable)?;
            pending = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
        }
        if pending.is_empty() {
            Ok(RegistryBatch { retries, kept_employee_emails })
        } else {
            Err(StoreError::Unavailable(format!("{} items stayed unprocessed after retries", pending.len())))
        }
    }

    /// The files among `files` whose email an employee set, differing from the registry's:
    /// kept (answered) or, with `Replace`, dropped with its hold so the registry's email
    /// applies. An email a report put back is no employee's: dropped whatever the mode.
    async fn employee_emails_kept(
        &self,
        files: &[CertificateFile],
        employee_email: EmployeeEmail,
    ) -> StoreResult<Vec<CertificateNumber>> {
        let keys = files.iter().map(|f| (cert_pk(&f.number), EMPLOYEE_EMAIL_SK.to_owned())).collect();
        let mut kept = Vec::new();
        for item in self.batch_get(keys).await? {
            let pk = get_s(&item, "pk")?;
            let Some(file) = files.iter().find(|f| cert_pk(&f.number) == pk) else { continue };
            let Some(employee) = opt_s(&item, "email") else { continue };
            let restored = item.contains_key(RESTORED_BY_REPORT);
            match employee_email {
                EmployeeEmail::Keep if !restored => {
                    if file.email.as_ref().map(|e| e.as_str()) != Some(employee.as_str()) {
                        kept.push(file.number.clone());
                    }
                }
                // The registry's email applies again, and the employee's hold goes with the
                // employee's email; when it changed stays, so codes sent before that change
                // stay dead.
                // (Unless an employee changed it again since it was read: that one stays.)
                EmployeeEmail::Keep | EmployeeEmail::Replace => {
                    let removed = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .key("pk", s(pk))
                        .key("sk", s(EMPLOYEE_EMAIL_SK))
                        .update_expression("REMOVE email, hold_until_ms, previous_email, #restored")
                        .condition_expression("changed_ms = :read")
                        .expression_attribute_names("#restored", RESTORED_BY_REPORT)
                        .expression_attribute_values(":read", get_n(&item, "changed_ms").map(n)?)
                        .send()
                        .await;
                    match removed {
                        Ok(_) => {}
                        Err(e) if is_condition_failure(&e) => kept.push(file.number.clone()),
                        Err(e) => return Err(unavailable(e)),
                    }
                }
            }
        }
        Ok(kept)
    }

    /// `BatchGetItem` of any number of keys, 100 (DynamoDB's most) per request.
    async fn batch_get(&self, keys: Vec<(String, String)>) -> StoreResult<Vec<Item>> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            items.extend(self.batch_get_100(chunk.to_vec()).await?);
        }
        Ok(items)
    }

    async fn batch_get_100(&self, keys: Vec<(String, String)>) -> StoreResult<Vec<Item>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pending = KeysAndAttributes::builder();
        for (pk, sk) in keys {
            pending = pending.keys(key(pk, sk));
        }
        let mut request = Some(built(pending.build())?);
        let mut items = Vec::new();
        for attempt in 0..6u32 {
            let Some(keys) = request.take() else { break };
            let out =
                self.client.batch_get_item().request_items(&self.table, keys).send().await.map_err(unavailable)?;
            if let Some(mut responses) = out.responses {
                items.extend(responses.remove(&self.table).unwrap_or_default());
            }
            request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
            if request.is_some() {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
        }
        if request.is_some() {
            return Err(StoreError::Unavailable("a batch read left keys unprocessed".into()));
        }
        Ok(items)
    }
}

#[async_trait::async_trait]
impl RegistryStore for DynamoStore {
    async fn certificate(&self, number: &CertificateNumber) -> StoreResult<Option<CertificateFile>> {
        file_from_items(&self.partition(cert_pk(number), Some(FILE_SK)).await?)
    }

    async fn invoice(&self, number: &InvoiceNumber) -> StoreResult<Option<Invoice>> {
        self.get(invoice_pk(number), INVOICE_SK).await?.as_ref().map(invoice_from_item).transpose()
    }

    async fn certificates(&self, numbers: &[CertificateNumber]) -> StoreResult<Vec<CertificateFile>> {
        let mut unique: Vec<&CertificateNumber> = numbers.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique
            .iter()
            .flat_map(|n| {
                [FILE_SK, EMPLOYEE_EMAIL_SK, FILE_DELIVERY_SK, FROZEN_SK].map(|sk| (cert_pk(n), sk.to_owned()))
            })
            .collect();
        let items = self.batch_get(keys).await?;
        let mut by_file: HashMap<String, Vec<Item>> = HashMap::new();
        for item in items {
            by_file.entry(get_s(&item, "pk")?.to_owned()).or_default().push(item);
        }
        let mut files = Vec::with_capacity(by_file.len());
        for items in by_file.values() {
            files.extend(file_from_items(items)?);
        }
        Ok(numbers.iter().filter_map(|n| files.iter().find(|f| &f.number == n).cloned()).collect())
    }

    async fn upsert_certificate(&self, file: &CertificateFile, employee_email: EmployeeEmail) -> StoreResult<bool> {
        let kept = self.employee_emails_kept(std::slice::from_ref(file), employee_email).await?;
        self.put(file_item(file)).await?;
        Ok(!kept.is_empty())
    }

    async fn upsert_invoice(&self, invoice: &Invoice) -> StoreResult<()> {
        self.put(invoice_item(invoice)).await
    }
}
