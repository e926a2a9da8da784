//! A holder's recovery ([`RecoveryStore`]): sessions, their codes and the holder's assistance
//! request here; the limits' counters and tries in `limits.rs`, the link in `link.rs`.

use super::items::*;
use super::transact::{Condition, key, put, update};
use super::{DynamoStore, is_condition_failure, unavailable};
use crate::audit::AuditEvent;
use crate::domain::{AccountSubject, AssistanceRequest, CertificateNumber, RecoverySession};
use crate::store::{
    AccountView, AssistanceOpened, CodeSend, CodeSendRefused, CodeSendUndo, CodeTry, CodeTryCounted,
    CodeTryReservation, Counter, InvoiceTry, InvoiceTryCounted, InvoiceTryReservation, LinkCommand, LinkOutcome,
    LookupLimits, LookupReservation, RecoveryStore, SessionContext, StoreError, StoreResult, WindowCount,
};
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

#[async_trait::async_trait]
impl RecoveryStore for DynamoStore {
    async fn reserve_lookup(
        &self,
        account: &AccountSubject,
        certificate: &CertificateNumber,
        limits: LookupLimits,
        now: OffsetDateTime,
    ) -> StoreResult<Result<LookupReservation, OffsetDateTime>> {
        self.reserve_lookup_counters(account, certificate, limits, now).await
    }

    async fn release_lookup(&self, reservation: &LookupReservation) -> StoreResult<()> {
        self.release_lookup_counters(reservation).await
    }

    async fn open_session(&self, session: &RecoverySession, audit: AuditEvent) -> StoreResult<()> {
        let items = vec![self.put_item(session_item(session))?, self.put_item(audit_item(&audit))?];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Unavailable("unconditional session write was cancelled".into())),
        }
    }

    async fn session_context(
        &self,
        account: &AccountSubject,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SessionContext>> {
        let account_items = self.partition(account_pk(account), None).await?;
        let Some(session) = self.session_of(&account_items, now)? else {
            return Ok(None);
        };
        let account_link = account_items.iter().find(|i| sk_of(i) == LINK_SK).map(link_from_item).transpose()?;
        // Counters and the file sort after "COUNTER#", audit events before: one query.
        let certificate_items = self.partition(cert_pk(&session.certificate_number), Some(COUNTER_PREFIX)).await?;
        let counter = |c: Counter| -> StoreResult<Option<WindowCount>> {
            let sk = counter_sk(c);
            Ok(certificate_items
                .iter()
                .find(|i| sk_of(i) == sk)
                .map(count_from_item)
                .transpose()?
                .and_then(|c| WindowCount::current(Some(c), now)))
        };
        let sends_sk = counter_sk(Counter::CodeSendsOfCertificate);
        let last_code_sent_for_certificate = match certificate_items.iter().find(|i| sk_of(i) == sends_sk) {
            Some(item) => last_sent_from_item(item)?,
            None => None,
        };
        Ok(Some(SessionContext {
            file: file_from_items(&certificate_items)?,
            code_sends_of_certificate: counter(Counter::CodeSendsOfCertificate)?,
            last_code_sent_for_certificate,
            wrong_codes_of_certificate: counter(Counter::WrongCodesOfCertificate)?,
            account_link,
            session,
        }))
    }

    async fn account_view(&self, account: &AccountSubject, now: OffsetDateTime) -> StoreResult<AccountView> {
        let items = self.partition(account_pk(account), None).await?;
        Ok(AccountView {
            session: self.session_of(&items, now)?,
            link: items.iter().find(|i| sk_of(i) == LINK_SK).map(link_from_item).transpose()?,
            open_assistance: items.iter().find(|i| sk_of(i) == ASSISTANCE_SK).map(assistance_from_item).transpose()?,
        })
    }

    async fn record_code_sent(&self, send: &CodeSend) -> StoreResult<Result<(), CodeSendRefused>> {
        let cert = &send.certificate_number;
        let edge = send.now - send.cooldown;
        // The counter item outlives its window while the cooldown of its last send runs.
        let counter_ttl = ttl((send.now + send.window).max(send.now + send.cooldown));
        let mut as_read = Some((send.certificate_sends, send.certificate_last_sent));
        for _ in 0..3 {
            let (current, last_sent) = match as_read.take() {
                Some(read) => read,
                None => {
                    let item = self.get(cert_pk(cert), counter_sk(Counter::CodeSendsOfCertificate)).await?;
                    match item {
                        Some(item) => {
                            (WindowCount::current(Some(count_from_item(&item)?), send.now), last_sent_from_item(&item)?)
                        }
                        None => (None, None),
                    }
                }
            };
            if last_sent.is_some_and(|at| at > edge) {
                return Ok(Err(CodeSendRefused::TooSoon));
            }
            if current.is_some_and(|c| c.count >= send.max_sends_per_certificate) {
                return Ok(Err(CodeSendRefused::CertificateSendsUsedUp));
            }
            // The cooldown and the count are the certificate's, whatever the session or account.
            let cooled = "(attribute_not_exists(last_sent_ms) OR last_sent_ms <= :edge)";
            let counter_write = match current {
                None => {
                    let mut item =
                        counter_item(cert_pk(cert), Counter::CodeSendsOfCertificate, 1, send.now + send.window);
                    item.insert("last_sent_ms".into(), ms(send.now));
                    item.insert(TTL_ATTRIBUTE.into(), counter_ttl.clone());
                    let condition =
                        Condition::new(format!("(attribute_not_exists(pk) OR window_ends_ms <= :now) AND {cooled}"))
                            .values([(":now", ms(send.now)), (":edge", ms(edge))]);
                    put(&self.table, item, condition)?
                }
                Some(c) => update(
                    &self.table,
                    key(cert_pk(cert), counter_sk(Counter::CodeSendsOfCertificate)),
                    "SET #count = #count + :one, last_sent_ms = :now, #ttl = :ttl",
                    Condition::new(format!("window_ends_ms = :ends AND #count < :max AND {cooled}"))
                        .name("#count", "count")
                        .name("#ttl", TTL_ATTRIBUTE)
                        .values([
                            (":one", n(1)),
                            (":now", ms(send.now)),
                            (":edge", ms(edge)),
                            (":ttl", counter_ttl.clone()),
                            (":ends", ms(c.window_ends)),
                            (":max", n(send.max_sends_per_certificate as i64)),
                        ]),
                )?,
            };
            let code = &send.code;
            let mut session_values = vec![
                (":cid", s(&code.id)),
                (":hash", s(&code.hash)),
                (":now", ms(send.now)),
                (":cexp", ms(code.expires_at)),
                (":zero", n(0)),
                (":one", n(1)),
                (":sid", s(&send.session_id)),
                (":before", n(send.sends_before as i64)),
                (":max", n(send.max_sends as i64)),
                (":edge", ms(edge)),
            ];
            // A new code starts as sent: what SES reported of the old one is not its.
            session_values.push((":sent", s(crate::domain::Delivery::Sent.as_str())));
            let mut session_update = "SET code_id = :cid, code_hash = :hash, code_issued_ms = :now, code_expires_ms = :cexp, code_attempts = :zero, code_delivery = :sent, sends = sends + :one, last_sent_ms = :now".to_owned();
            if let Some(replaced) = &send.replaced_hash {
                session_update
                    .push_str(", replaced_hashes = list_append(if_not_exists(replaced_hashes, :empty), :replaced)");
                session_values.push((":empty", AttributeValue::L(vec![])));
                session_values.push((":replaced", AttributeValue::L(vec![s(replaced)])));
            }
            let session_write = update(
                &self.table,
                key(account_pk(&send.account), SESSION_SK),
                session_update,
                Condition::new(
                    "session_id = :sid AND sends = :before AND sends < :max AND session_expires_ms > :now AND (attribute_not_exists(last_sent_ms) OR last_sent_ms <= :edge)",
                )
                .values(session_values),
            )?;
            match self.transact(vec![session_write, counter_write]).await? {
                Ok(()) => return Ok(Ok(())),
                Err(failed) if failed.first() == Some(&true) => {
                    let items = self.partition(account_pk(&send.account), Some(SESSION_SK)).await?;
                    let session = self.session_of(&items, send.now)?;
                    return Ok(Err(match session {
                        Some(s) if s.id == send.session_id && s.sends >= send.max_sends => {
                            CodeSendRefused::SessionSendsUsedUp
                        }
                        Some(s)
                            if s.id == send.session_id
                                && s.last_sent_at.is_some_and(|at| at + send.cooldown > send.now) =>
                        {
                            CodeSendRefused::TooSoon
                        }
                        _ => CodeSendRefused::SessionChanged,
                    }));
                }
                // The certificate's counter moved under us (another send, from any session):
                // read it again, then refuse or retry.
                Err(_) => continue,
            }
        }
        Err(StoreError::Unavailable("certificate send counter kept changing".into()))
    }

    async fn undo_code_sent(&self, undo: &CodeSendUndo) -> StoreResult<()> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(&undo.account)))
            .key("sk", s(SESSION_SK))
            .condition_expression("session_id = :sid AND code_id = :new")
            .expression_attribute_values(":sid", s(&undo.session_id))
            .expression_attribute_values(":new", s(&undo.code_id))
            .expression_attribute_values(":one", n(1));
        let mut set = vec!["sends = sends - :one".to_owned()];
        let mut remove = Vec::new();
        match &undo.previous_code {
            Some(code) => {
                set.push("code_id = :pcid, code_hash = :phash, code_issued_ms = :pissued, code_expires_ms = :pexp, code_attempts = :pattempts, code_delivery = :pdelivery".into());
                update = update
                    .expression_attribute_values(":pdelivery", s(code.delivery.as_str()))
                    .expression_attribute_values(":pcid", s(&code.id))
                    .expression_attribute_values(":phash", s(&code.hash))
                    .expression_attribute_values(":pissued", ms(code.issued_at))
                    .expression_attribute_values(":pexp", ms(code.expires_at))
                    .expression_attribute_values(":pattempts", n(code.attempts as i64));
            }
            None => remove.extend([
                "code_id",
                "code_hash",
                "code_issued_ms",
                "code_expires_ms",
                "code_attempts",
                "code_delivery",
            ]),
        }
        if undo.previous_replaced_code_hashes.is_empty() {
            remove.push("replaced_hashes");
        } else {
            set.push("replaced_hashes = :preplaced".into());
            let hashes = undo.previous_replaced_code_hashes.iter().map(s).collect();
            update = update.expression_attribute_values(":preplaced", AttributeValue::L(hashes));
        }
        match undo.previous_last_sent_at {
            Some(at) => {
                set.push("last_sent_ms = :plast".into());
                update = update.expression_attribute_values(":plast", ms(at));
            }
            None => remove.push("last_sent_ms"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match update.update_expression(expression).send().await {
            Ok(_) => {}
            Err(e) if is_condition_failure(&e) => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        }
        // The send never happened: its count and its cooldown are given back, unless a later
        // send already replaced them.
        let restore = match undo.previous_certificate_last_sent {
            Some(_) => "SET #count = #count - :one, last_sent_ms = :previous",
            None => "SET #count = #count - :one REMOVE last_sent_ms",
        };
        let taken_back = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(cert_pk(&undo.certificate_number)))
            .key("sk", s(counter_sk(Counter::CodeSendsOfCertificate)))
            .update_expression(restore)
            .condition_expression("#count > :zero AND last_sent_ms = :sent")
            .expression_attribute_names("#count", "count")
            .set_expression_attribute_values(Some(
                [(":one".to_owned(), n(1)), (":zero".to_owned(), n(0)), (":sent".to_owned(), ms(undo.sent_at))]
                    .into_iter()
                    .chain(undo.previous_certificate_last_sent.map(|at| (":previous".to_owned(), ms(at))))
                    .collect(),
            ))
            .send()
            .await;
        match taken_back {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn reserve_code_try(&self, code_try: &CodeTry) -> StoreResult<CodeTryCounted> {
        self.reserve_code_try_counters(code_try).await
    }

    async fn release_code_try(
        &self,
        code_try: &CodeTry,
        reservation: &CodeTryReservation,
        code_too: bool,
    ) -> StoreResult<()> {
        self.release_code_try_counters(code_try, reservation, code_too).await
    }

    async fn reserve_invoice_try(&self, invoice_try: &InvoiceTry) -> StoreResult<InvoiceTryCounted> {
        self.reserve_invoice_try_counters(invoice_try).await
    }

    async fn release_invoice_try(
        &self,
        invoice_try: &InvoiceTry,
        reservation: &InvoiceTryReservation,
        session_too: bool,
    ) -> StoreResult<()> {
        self.release_invoice_try_counters(invoice_try, reservation, session_too).await
    }

    async fn link(&self, command: &LinkCommand) -> StoreResult<LinkOutcome> {
        self.link_transaction(command).await
    }

    async fn open_assistance_request(
        &self,
        request: &AssistanceRequest,
        audit: AuditEvent,
    ) -> StoreResult<AssistanceOpened> {
        let marker = put(&self.table, assistance_marker_item(request), Condition::new("attribute_not_exists(pk)"))?;
        let items = vec![marker, self.put_item(assistance_item(request))?, self.put_item(audit_item(&audit))?];
        match self.transact(items).await? {
            Ok(()) => Ok(AssistanceOpened::Created),
            Err(_) => {
                let existing = self
                    .get(account_pk(&request.account), ASSISTANCE_SK)
                    .await?
                    .ok_or_else(|| StoreError::Unavailable("assistance marker changed during the request".into()))?;
                Ok(AssistanceOpened::AlreadyOpen(assistance_from_item(&existing)?))
            }
        }
    }

    async fn counter(&self, counter: Counter, key: &str, now: OffsetDateTime) -> StoreResult<Option<WindowCount>> {
        self.read_counter(counter, key, now).await
    }
}
