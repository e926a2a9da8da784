//! The 24 h limits: a counter added to under its limit in one conditional write and given
//! back when the try was no failure, and the tries a session counts on its code and its
//! invoices. The lookup, code and invoice tries of [`RecoveryStore`](crate::store::RecoveryStore)
//! reserve and release here.

use super::items::*;
use super::{DynamoStore, is_condition_failure, item_before_refusal, retry_conflicts, unavailable};
use crate::domain::{AccountSubject, CertificateNumber};
use crate::store::{
    CodeTry, CodeTryCounted, CodeTryReservation, Counter, InvoiceTry, InvoiceTryCounted, InvoiceTryReservation,
    LookupLimits, LookupReservation, StoreError, StoreResult, WindowCount,
};
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;
use std::time::Duration;
use time::OffsetDateTime;

impl DynamoStore {
    /// Adds one to a 24 h counter unless it reached `max` in its current window; answers the
    /// count with this one and the window's end, or when the lock ends.
    async fn reserve(
        &self,
        pk: &str,
        counter: Counter,
        max: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> StoreResult<Result<WindowCount, OffsetDateTime>> {
        let sk = counter_sk(counter);
        for _ in 0..5 {
            // One round trip whether the counter exists or not: a missing counter is made here
            // (count 1, a new window); only a window that ended needs the second write below.
            let ends = now + window;
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .update_expression(
                    "SET #count = if_not_exists(#count, :zero) + :one, \
                     window_ends_ms = if_not_exists(window_ends_ms, :ends), #ttl = if_not_exists(#ttl, :ttl)",
                )
                .condition_expression("attribute_not_exists(pk) OR (window_ends_ms > :now AND #count < :max)")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":ends", ms(ends))
                .expression_attribute_values(":ttl", ttl(ends))
                .expression_attribute_values(":now", ms(now))
                .expression_attribute_values(":max", n(max as i64))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            let added = retry_conflicts(|| update.clone().send()).await;
            match added {
                Ok(out) => {
                    let item = out.attributes.unwrap_or_default();
                    return Ok(Ok(count_from_item(&item)?));
                }
                Err(e) if is_condition_failure(&e) => {
                    let old = item_before_refusal(&e);
                    let current = old.as_ref().map(count_from_item).transpose()?.filter(|c| c.window_ends > now);
                    match current {
                        Some(c) if c.count >= max => return Ok(Err(c.window_ends)),
                        // Changed between the two reads of the condition: try again.
                        Some(_) => continue,
                        None => {}
                    }
                }
                Err(e) => return Err(unavailable(e)),
            }
            let restarted = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(counter_item(pk.to_owned(), counter, 1, ends)))
                .condition_expression("attribute_not_exists(pk) OR window_ends_ms <= :now")
                .expression_attribute_values(":now", ms(now))
                .send()
                .await;
            match restarted {
                Ok(_) => return Ok(Ok(WindowCount { count: 1, window_ends: ends })),
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable("counter kept changing under concurrent writes".into()))
    }

    /// When a refusal on one counter ends, given that the other counter of the same try may be
    /// used up too and end later: the holder is told the later time (one read, refusals only).
    async fn locked_until_also(
        &self,
        pk: &str,
        counter: Counter,
        max: u32,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<OffsetDateTime> {
        let other = self.get(pk.to_owned(), counter_sk(counter)).await?;
        let other = other.as_ref().map(count_from_item).transpose()?.and_then(|c| WindowCount::current(Some(c), now));
        Ok(match other {
            Some(c) if c.count >= max => until.max(c.window_ends),
            _ => until,
        })
    }

    /// Takes one back from a counter, if it is still in the window it was added in.
    async fn release(&self, pk: &str, counter: Counter, window_ends: OffsetDateTime) -> StoreResult<()> {
        let released = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(counter_sk(counter)))
            .update_expression("SET #count = #count - :one")
            .condition_expression("window_ends_ms = :ends AND #count > :zero")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":ends", ms(window_ends))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Takes one back from a session's count of tries — `code_attempts` of the code `code_id`,
    /// or `invoice_attempts` — if it is still that session (and code).
    async fn release_session_try(
        &self,
        account: &AccountSubject,
        session_id: &str,
        attribute: &str,
        code_id: Option<&str>,
    ) -> StoreResult<()> {
        let mut condition = "session_id = :sid AND #tries > :zero".to_owned();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(account)))
            .key("sk", s(SESSION_SK))
            .update_expression("SET #tries = #tries - :one")
            .expression_attribute_names("#tries", attribute)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":sid", s(session_id));
        if let Some(code_id) = code_id {
            condition.push_str(" AND code_id = :cid");
            update = update.expression_attribute_values(":cid", s(code_id));
        }
        match update.condition_expression(condition).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_code_attempt(&self, code_try: &CodeTry) -> StoreResult<()> {
        self.release_session_try(&code_try.account, &code_try.session_id, "code_attempts", Some(&code_try.code_id))
            .await
    }

    async fn release_invoice_attempt(&self, invoice_try: &InvoiceTry) -> StoreResult<()> {
        self.release_session_try(&invoice_try.account, &invoice_try.session_id, "invoice_attempts", None).await
    }
}

/// The tries of the recovery routes, counted and given back: `recovery.rs` answers the port's
/// methods with these.
impl DynamoStore {
    /// [`RecoveryStore::reserve_lookup`](crate::store::RecoveryStore::reserve_lookup): the account's failures, then the certificate's.
    pub(super) async fn reserve_lookup_counters(
        &self,
        account: &AccountSubject,
        certificate: &CertificateNumber,
        limits: LookupLimits,
        now: OffsetDateTime,
    ) -> StoreResult<Result<LookupReservation, OffsetDateTime>> {
        let account_pk = account_pk(account);
        let cert_pk = cert_pk(certificate);
        // The account first, then the certificate: a certificate slot is only taken by a try
        // that holds an account slot, so one account's burst cannot lock the certificate.
        let account_window_ends = match self
            .reserve(&account_pk, Counter::LookupFailuresOfAccount, limits.per_account, limits.window, now)
            .await?
        {
            Ok(count) => count.window_ends,
            Err(until) => {
                let until = self
                    .locked_until_also(
                        &cert_pk,
                        Counter::LookupFailuresOfCertificate,
                        limits.per_certificate,
                        now,
                        until,
                    )
                    .await?;
                return Ok(Err(until));
            }
        };
        let reserved = self
            .reserve(&cert_pk, Counter::LookupFailuresOfCertificate, limits.per_certificate, limits.window, now)
            .await;
        match reserved {
            Ok(Ok(certificate_count)) => Ok(Ok(LookupReservation {
                account: account.clone(),
                certificate: certificate.clone(),
                account_window_ends,
                certificate_window_ends: certificate_count.window_ends,
            })),
            Ok(Err(until)) => {
                self.release(&account_pk, Counter::LookupFailuresOfAccount, account_window_ends).await?;
                Ok(Err(until))
            }
            Err(e) => {
                self.release(&account_pk, Counter::LookupFailuresOfAccount, account_window_ends).await?;
                Err(e)
            }
        }
    }

    /// [`RecoveryStore::release_lookup`](crate::store::RecoveryStore::release_lookup).
    pub(super) async fn release_lookup_counters(&self, reservation: &LookupReservation) -> StoreResult<()> {
        let (account, certificate) = (account_pk(&reservation.account), cert_pk(&reservation.certificate));
        let (a, c) = tokio::join!(
            self.release(&account, Counter::LookupFailuresOfAccount, reservation.account_window_ends),
            self.release(&certificate, Counter::LookupFailuresOfCertificate, reservation.certificate_window_ends),
        );
        a.and(c)
    }

    /// [`RecoveryStore::reserve_code_try`](crate::store::RecoveryStore::reserve_code_try): the code's tries and the certificate's wrong codes at once.
    pub(super) async fn reserve_code_try_counters(&self, code_try: &CodeTry) -> StoreResult<CodeTryCounted> {
        let cert = cert_pk(&code_try.certificate_number);
        let on_code = async {
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(account_pk(&code_try.account)))
                .key("sk", s(SESSION_SK))
                .update_expression("SET code_attempts = code_attempts + :one")
                .condition_expression(
                    "session_id = :sid AND code_id = :cid AND code_attempts < :max AND session_expires_ms > :now",
                )
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":sid", s(&code_try.session_id))
                .expression_attribute_values(":cid", s(&code_try.code_id))
                .expression_attribute_values(":max", n(code_try.max_attempts as i64))
                .expression_attribute_values(":now", ms(code_try.now))
                .return_values(ReturnValue::UpdatedNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            let counted = retry_conflicts(|| update.clone().send()).await;
            match counted {
                Ok(out) => Ok(Ok(get_n(out.attributes.as_ref().unwrap_or(&HashMap::new()), "code_attempts")? as u32)),
                Err(e) if is_condition_failure(&e) => {
                    let old = item_before_refusal(&e);
                    let same_code = old.as_ref().is_some_and(|item| {
                        opt_s(item, "session_id").as_deref() == Some(code_try.session_id.as_str())
                            && opt_s(item, "code_id").as_deref() == Some(code_try.code_id.as_str())
                            && get_ms(item, "session_expires_ms").is_ok_and(|at| at > code_try.now)
                    });
                    Ok(Err(if same_code { CodeTryCounted::AttemptsUsedUp } else { CodeTryCounted::CodeGone }))
                }
                Err(e) => Err(unavailable(e)),
            }
        };
        let on_certificate = self.reserve(
            &cert,
            Counter::WrongCodesOfCertificate,
            code_try.max_wrong_per_certificate,
            code_try.window,
            code_try.now,
        );
        let (on_code, on_certificate) = tokio::join!(on_code, on_certificate);
        match (on_code, on_certificate) {
            (Ok(Ok(attempts)), Ok(Ok(count))) => Ok(CodeTryCounted::Reserved(CodeTryReservation {
                attempts,
                certificate_window_ends: count.window_ends,
            })),
            // One side refused or failed: the other side's count is given back.
            (on_code, on_certificate) => {
                if let Ok(Ok(count)) = &on_certificate {
                    self.release(&cert, Counter::WrongCodesOfCertificate, count.window_ends).await?;
                }
                if let Ok(Ok(_)) = &on_code {
                    self.release_code_attempt(code_try).await?;
                }
                match (on_code?, on_certificate?) {
                    (Err(refused), _) => Ok(refused),
                    (_, Err(until)) => Ok(CodeTryCounted::CertificateUsedUp { until }),
                    (Ok(_), Ok(_)) => unreachable!("both reserved is answered above"),
                }
            }
        }
    }

    /// [`RecoveryStore::release_code_try`](crate::store::RecoveryStore::release_code_try).
    pub(super) async fn release_code_try_counters(
        &self,
        code_try: &CodeTry,
        reservation: &CodeTryReservation,
        code_too: bool,
    ) -> StoreResult<()> {
        let cert = cert_pk(&code_try.certificate_number);
        let certificate = self.release(&cert, Counter::WrongCodesOfCertificate, reservation.certificate_window_ends);
        if code_too {
            let (a, b) = tokio::join!(certificate, self.release_code_attempt(code_try));
            a.and(b)
        } else {
            certificate.await
        }
    }

    /// [`RecoveryStore::reserve_invoice_try`](crate::store::RecoveryStore::reserve_invoice_try): the account's refused invoices, then the certificate's and the session's tries at once.
    pub(super) async fn reserve_invoice_try_counters(
        &self,
        invoice_try: &InvoiceTry,
    ) -> StoreResult<InvoiceTryCounted> {
        let (account, cert) = (account_pk(&invoice_try.account), cert_pk(&invoice_try.certificate_number));
        let (window, now) = (invoice_try.window, invoice_try.now);
        // The account first: a certificate slot is only taken by a try that holds an account
        // slot, so one account's burst cannot close the certificate's invoice path alone.
        let of_account = match self
            .reserve(&account, Counter::RefusedInvoicesOfAccount, invoice_try.max_per_account, window, now)
            .await?
        {
            Ok(count) => count,
            Err(until) => {
                let until = self
                    .locked_until_also(
                        &cert,
                        Counter::RefusedInvoicesOfCertificate,
                        invoice_try.max_per_certificate,
                        now,
                        until,
                    )
                    .await?;
                return Ok(InvoiceTryCounted::Locked { until });
            }
        };
        let on_certificate =
            self.reserve(&cert, Counter::RefusedInvoicesOfCertificate, invoice_try.max_per_certificate, window, now);
        let on_session = async {
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(account.clone()))
                .key("sk", s(SESSION_SK))
                .update_expression("SET invoice_attempts = invoice_attempts + :one")
                .condition_expression("session_id = :sid AND invoice_attempts < :max AND session_expires_ms > :now")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":sid", s(&invoice_try.session_id))
                .expression_attribute_values(":max", n(invoice_try.max_per_session as i64))
                .expression_attribute_values(":now", ms(now))
                .return_values(ReturnValue::UpdatedNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            let counted = retry_conflicts(|| update.clone().send()).await;
            match counted {
                Ok(out) => {
                    Ok(Ok(get_n(out.attributes.as_ref().unwrap_or(&HashMap::new()), "invoice_attempts")? as u32))
                }
                Err(e) if is_condition_failure(&e) => {
                    let old = item_before_refusal(&e);
                    let same_session = old.as_ref().is_some_and(|item| {
                        opt_s(item, "session_id").as_deref() == Some(invoice_try.session_id.as_str())
                            && get_ms(item, "session_expires_ms").is_ok_and(|at| at > now)
                    });
                    Ok(Err(if same_session {
                        InvoiceTryCounted::SessionUsedUp
                    } else {
                        InvoiceTryCounted::SessionGone
                    }))
                }
                Err(e) => Err(unavailable(e)),
            }
        };
        let (on_certificate, on_session) = tokio::join!(on_certificate, on_session);
        match (on_certificate, on_session) {
            (Ok(Ok(of_certificate)), Ok(Ok(session_attempts))) => {
                Ok(InvoiceTryCounted::Reserved(InvoiceTryReservation { session_attempts, of_account, of_certificate }))
            }
            (on_certificate, on_session) => {
                self.release(&account, Counter::RefusedInvoicesOfAccount, of_account.window_ends).await?;
                if let Ok(Ok(count)) = &on_certificate {
                    self.release(&cert, Counter::RefusedInvoicesOfCertificate, count.window_ends).await?;
                }
                if let Ok(Ok(_)) = &on_session {
                    self.release_invoice_attempt(invoice_try).await?;
                }
                match (on_certificate?, on_session?) {
                    (Err(until), _) => Ok(InvoiceTryCounted::Locked { until }),
                    (_, Err(refused)) => Ok(refused),
                    (Ok(_), Ok(_)) => unreachable!("both reserved is answered above"),
                }
            }
        }
    }

    /// [`RecoveryStore::release_invoice_try`](crate::store::RecoveryStore::release_invoice_try).
    pub(super) async fn release_invoice_try_counters(
        &self,
        invoice_try: &InvoiceTry,
        reservation: &InvoiceTryReservation,
        session_too: bool,
    ) -> StoreResult<()> {
        let (account, cert) = (account_pk(&invoice_try.account), cert_pk(&invoice_try.certificate_number));
        let session = async { if session_too { self.release_invoice_attempt(invoice_try).await } else { Ok(()) } };
        let (a, c, s) = tokio::join!(
            self.release(&account, Counter::RefusedInvoicesOfAccount, reservation.of_account.window_ends),
            self.release(&cert, Counter::RefusedInvoicesOfCertificate, reservation.of_certificate.window_ends),
            session,
        );
        a.and(c).and(s)
    }

    /// [`RecoveryStore::counter`](crate::store::RecoveryStore::counter).
    pub(super) async fn read_counter(
        &self,
        counter: Counter,
        key: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<WindowCount>> {
        let pk = match counter {
            Counter::LookupFailuresOfAccount | Counter::RefusedInvoicesOfAccount => format!("{ACCOUNT_PREFIX}{key}"),
            Counter::LookupFailuresOfCertificate
            | Counter::CodeSendsOfCertificate
            | Counter::WrongCodesOfCertificate
            | Counter::RefusedInvoicesOfCertificate => format!("{CERT_PREFIX}{key}"),
        };
        Ok(self
            .get(pk, counter_sk(counter))
            .await?
            .as_ref()
            .map(count_from_item)
            .transpose()?
            .and_then(|c| WindowCount::current(Some(c), now)))
    }
}
