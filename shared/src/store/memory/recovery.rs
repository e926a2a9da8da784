//! A holder's recovery ([`RecoveryStore`]): the 24 h limits, sessions and codes, the link, the
//! holder's assistance request.

use super::MemoryStore;
use crate::audit::AuditEvent;
use crate::domain::{AccountSubject, AssistanceRequest, CertificateNumber, RecoverySession};
use crate::store::{
    AccountView, AssistanceOpened, CodeSend, CodeSendRefused, CodeSendUndo, CodeTry, CodeTryCounted,
    CodeTryReservation, Counter, InvoiceTry, InvoiceTryCounted, InvoiceTryReservation, LinkCommand, LinkOutcome,
    LinkProof, LookupLimits, LookupReservation, RecoveryStore, SessionContext, StoreError, StoreResult, WindowCount,
};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl RecoveryStore for MemoryStore {
    async fn reserve_lookup(
        &self,
        account: &AccountSubject,
        certificate: &CertificateNumber,
        limits: LookupLimits,
        now: OffsetDateTime,
    ) -> StoreResult<Result<LookupReservation, OffsetDateTime>> {
        let mut state = self.state();
        let checks = [
            (Counter::LookupFailuresOfAccount, account.as_str(), limits.per_account),
            (Counter::LookupFailuresOfCertificate, certificate.as_str(), limits.per_certificate),
        ];
        let locked_until = checks
            .iter()
            .filter_map(|(counter, key, max)| state.counter(*counter, key, now).filter(|c| c.count >= *max))
            .map(|c| c.window_ends)
            .max();
        if let Some(until) = locked_until {
            return Ok(Err(until));
        }
        let mut ends = checks.iter().map(|(counter, key, _)| {
            state.bump(*counter, key, 1, limits.window, now);
            state.counter(*counter, key, now).expect("just counted").window_ends
        });
        let (account_window_ends, certificate_window_ends) = (ends.next().unwrap(), ends.next().unwrap());
        Ok(Ok(LookupReservation {
            account: account.clone(),
            certificate: certificate.clone(),
            account_window_ends,
            certificate_window_ends,
        }))
    }

    async fn release_lookup(&self, reservation: &LookupReservation) -> StoreResult<()> {
        let mut state = self.state();
        for (counter, key, ends) in [
            (Counter::LookupFailuresOfAccount, reservation.account.as_str(), reservation.account_window_ends),
            (
                Counter::LookupFailuresOfCertificate,
                reservation.certificate.as_str(),
                reservation.certificate_window_ends,
            ),
        ] {
            if let Some(c) = state.counters.get_mut(&(counter, key.to_owned())).filter(|c| c.window_ends == ends) {
                c.count = c.count.saturating_sub(1);
            }
        }
        Ok(())
    }

    async fn open_session(&self, session: &RecoverySession, audit: AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        state.sessions.insert(session.account.clone(), session.clone());
        state.audit(audit);
        Ok(())
    }

    async fn session_context(
        &self,
        account: &AccountSubject,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SessionContext>> {
        let state = self.state();
        let Some(session) = state.session(account, now).cloned() else {
            return Ok(None);
        };
        let number = session.certificate_number.as_str().to_owned();
        Ok(Some(SessionContext {
            file: state.files.get(&session.certificate_number).cloned(),
            code_sends_of_certificate: state.counter(Counter::CodeSendsOfCertificate, &number, now),
            last_code_sent_for_certificate: state.last_code_sent.get(&session.certificate_number).copied(),
            wrong_codes_of_certificate: state.counter(Counter::WrongCodesOfCertificate, &number, now),
            account_link: state.links.get(account).cloned(),
            session,
        }))
    }

    async fn account_view(&self, account: &AccountSubject, now: OffsetDateTime) -> StoreResult<AccountView> {
        let state = self.state();
        Ok(AccountView {
            session: state.session(account, now).cloned(),
            link: state.links.get(account).cloned(),
            open_assistance: state
                .open_assistance
                .get(account)
                .and_then(|reference| state.assistance.get(reference))
                .cloned(),
        })
    }

    async fn record_code_sent(&self, send: &CodeSend) -> StoreResult<Result<(), CodeSendRefused>> {
        let mut state = self.state();
        let Some(session) = state.session(&send.account, send.now) else {
            return Ok(Err(CodeSendRefused::SessionChanged));
        };
        if session.id != send.session_id || session.sends != send.sends_before {
            return Ok(Err(CodeSendRefused::SessionChanged));
        }
        if session.sends >= send.max_sends {
            return Ok(Err(CodeSendRefused::SessionSendsUsedUp));
        }
        if session.last_sent_at.is_some_and(|at| at + send.cooldown > send.now) {
            return Ok(Err(CodeSendRefused::TooSoon));
        }
        if state.last_code_sent.get(&send.certificate_number).is_some_and(|at| *at + send.cooldown > send.now) {
            return Ok(Err(CodeSendRefused::TooSoon));
        }
        let key = send.certificate_number.as_str();
        if state
            .counter(Counter::CodeSendsOfCertificate, key, send.now)
            .is_some_and(|c| c.count >= send.max_sends_per_certificate)
        {
            return Ok(Err(CodeSendRefused::CertificateSendsUsedUp));
        }
        state.bump(Counter::CodeSendsOfCertificate, key, 1, send.window, send.now);
        state.last_code_sent.insert(send.certificate_number.clone(), send.now);
        let session = state.sessions.get_mut(&send.account).expect("checked above");
        if let Some(old) = session.code.take() {
            session.replaced_code_hashes.push(old.hash);
        }
        session.code = Some(send.code.clone());
        session.sends += 1;
        session.last_sent_at = Some(send.now);
        Ok(Ok(()))
    }

    async fn undo_code_sent(&self, undo: &CodeSendUndo) -> StoreResult<()> {
        let mut state = self.state();
        let matches = state
            .sessions
            .get(&undo.account)
            .is_some_and(|s| s.id == undo.session_id && s.code.as_ref().is_some_and(|c| c.id == undo.code_id));
        if !matches {
            return Ok(());
        }
        let session = state.sessions.get_mut(&undo.account).expect("checked above");
        session.code = undo.previous_code.clone();
        session.sends = session.sends.saturating_sub(1);
        session.last_sent_at = undo.previous_last_sent_at;
        session.replaced_code_hashes = undo.previous_replaced_code_hashes.clone();
        if state.last_code_sent.get(&undo.certificate_number) == Some(&undo.sent_at) {
            if let Some(c) =
                state.counters.get_mut(&(Counter::CodeSendsOfCertificate, undo.certificate_number.as_str().to_owned()))
            {
                c.count = c.count.saturating_sub(1);
            }
            match undo.previous_certificate_last_sent {
                Some(at) => state.last_code_sent.insert(undo.certificate_number.clone(), at),
                None => state.last_code_sent.remove(&undo.certificate_number),
            };
        }
        Ok(())
    }

    async fn reserve_code_try(&self, code_try: &CodeTry) -> StoreResult<CodeTryCounted> {
        let mut state = self.state();
        let Some(session) = state.session(&code_try.account, code_try.now) else {
            return Ok(CodeTryCounted::CodeGone);
        };
        let Some(code) =
            session.code.as_ref().filter(|c| session.id == code_try.session_id && c.id == code_try.code_id)
        else {
            return Ok(CodeTryCounted::CodeGone);
        };
        if code.attempts >= code_try.max_attempts {
            return Ok(CodeTryCounted::AttemptsUsedUp);
        }
        let certificate = match state.reserve(
            Counter::WrongCodesOfCertificate,
            code_try.certificate_number.as_str(),
            code_try.max_wrong_per_certificate,
            code_try.window,
            code_try.now,
        ) {
            Ok(count) => count,
            Err(until) => return Ok(CodeTryCounted::CertificateUsedUp { until }),
        };
        let code = state.sessions.get_mut(&code_try.account).and_then(|s| s.code.as_mut()).expect("checked above");
        code.attempts += 1;
        Ok(CodeTryCounted::Reserved(CodeTryReservation {
            attempts: code.attempts,
            certificate_window_ends: certificate.window_ends,
        }))
    }

    async fn release_code_try(
        &self,
        code_try: &CodeTry,
        reservation: &CodeTryReservation,
        code_too: bool,
    ) -> StoreResult<()> {
        let mut state = self.state();
        state.release(
            Counter::WrongCodesOfCertificate,
            code_try.certificate_number.as_str(),
            reservation.certificate_window_ends,
        );
        let code = state
            .sessions
            .get_mut(&code_try.account)
            .filter(|s| code_too && s.id == code_try.session_id)
            .and_then(|s| s.code.as_mut())
            .filter(|c| c.id == code_try.code_id);
        if let Some(code) = code {
            code.attempts = code.attempts.saturating_sub(1);
        }
        Ok(())
    }

    async fn reserve_invoice_try(&self, invoice_try: &InvoiceTry) -> StoreResult<InvoiceTryCounted> {
        let mut state = self.state();
        let (account, certificate) = (invoice_try.account.as_str(), invoice_try.certificate_number.as_str());
        let (window, now) = (invoice_try.window, invoice_try.now);
        let locked_until = [
            (Counter::RefusedInvoicesOfAccount, account, invoice_try.max_per_account),
            (Counter::RefusedInvoicesOfCertificate, certificate, invoice_try.max_per_certificate),
        ]
        .iter()
        .filter_map(|(counter, key, max)| state.counter(*counter, key, now).filter(|c| c.count >= *max))
        .map(|c| c.window_ends)
        .max();
        if let Some(until) = locked_until {
            return Ok(InvoiceTryCounted::Locked { until });
        }
        let Some(session) = state.session(&invoice_try.account, now).filter(|s| s.id == invoice_try.session_id) else {
            return Ok(InvoiceTryCounted::SessionGone);
        };
        if session.invoice_attempts >= invoice_try.max_per_session {
            return Ok(InvoiceTryCounted::SessionUsedUp);
        }
        let of_account = state.reserve(Counter::RefusedInvoicesOfAccount, account, u32::MAX, window, now);
        let of_certificate = state.reserve(Counter::RefusedInvoicesOfCertificate, certificate, u32::MAX, window, now);
        let session = state.sessions.get_mut(&invoice_try.account).expect("checked above");
        session.invoice_attempts += 1;
        Ok(InvoiceTryCounted::Reserved(InvoiceTryReservation {
            session_attempts: session.invoice_attempts,
            of_account: of_account.expect("no limit"),
            of_certificate: of_certificate.expect("no limit"),
        }))
    }

    async fn release_invoice_try(
        &self,
        invoice_try: &InvoiceTry,
        reservation: &InvoiceTryReservation,
        session_too: bool,
    ) -> StoreResult<()> {
        let mut state = self.state();
        state.release(
            Counter::RefusedInvoicesOfAccount,
            invoice_try.account.as_str(),
            reservation.of_account.window_ends,
        );
        state.release(
            Counter::RefusedInvoicesOfCertificate,
            invoice_try.certificate_number.as_str(),
            reservation.of_certificate.window_ends,
        );
        if let Some(session) =
            state.sessions.get_mut(&invoice_try.account).filter(|s| session_too && s.id == invoice_try.session_id)
        {
            session.invoice_attempts = session.invoice_attempts.saturating_sub(1);
        }
        Ok(())
    }

    async fn link(&self, command: &LinkCommand) -> StoreResult<LinkOutcome> {
        let mut state = self.state();
        let now = command.now;
        let session_ok = state.session(&command.account, now).is_some_and(|s| {
            s.id == command.session_id
                && s.certificate_number == command.certificate_number
                && match &command.proof {
                    LinkProof::SecurityCode { code_id, max_attempts, .. } => s
                        .code
                        .as_ref()
                        .is_some_and(|c| &c.id == code_id && c.attempts <= *max_attempts && c.expires_at > now),
                    LinkProof::Invoice { max_attempts } => s.invoice_attempts <= *max_attempts,
                }
        });
        let Some(file) = state.files.get(&command.certificate_number) else {
            return Ok(LinkOutcome::Conflict);
        };
        let code_issued_after_email_change = match &command.proof {
            LinkProof::SecurityCode { issued_at, .. } => file.email_changed_at.is_none_or(|at| at <= *issued_at),
            LinkProof::Invoice { .. } => true,
        };
        let file_ok = file.linked_account == command.file_linked_account
            && code_issued_after_email_change
            && !file.protection.frozen()
            && (matches!(command.proof, LinkProof::SecurityCode { .. }) || file.linked_account.is_none());
        let account_ok = state.links.get(&command.account) == command.account_linked_certificate.as_ref();
        if !(session_ok && file_ok && account_ok) {
            return Ok(LinkOutcome::Conflict);
        }
        if let Some(previous) = &command.file_linked_account
            && previous != &command.account
        {
            state.links.remove(previous);
        }
        if let Some(old) = &command.account_linked_certificate
            && old != &command.certificate_number
            && let Some(old_file) = state.files.get_mut(old)
        {
            old_file.linked_account = None;
        }
        state.files.get_mut(&command.certificate_number).expect("checked above").linked_account =
            Some(command.account.clone());
        state.links.insert(command.account.clone(), command.certificate_number.clone());
        state.sessions.remove(&command.account);
        for report in &command.reports {
            state.reports.insert(report.token_hash.clone(), report.clone());
        }
        for event in &command.audit {
            state.audit(event.clone());
        }
        Ok(LinkOutcome::Linked)
    }

    async fn open_assistance_request(
        &self,
        request: &AssistanceRequest,
        audit: AuditEvent,
    ) -> StoreResult<AssistanceOpened> {
        let mut state = self.state();
        if let Some(existing) = state.open_assistance.get(&request.account) {
            let existing = state
                .assistance
                .get(existing)
                .cloned()
                .ok_or_else(|| StoreError::Corrupt("open assistance marker without its request".into()))?;
            return Ok(AssistanceOpened::AlreadyOpen(existing));
        }
        state.open_assistance.insert(request.account.clone(), request.reference.clone());
        state.assistance.insert(request.reference.clone(), request.clone());
        state.audit(audit);
        Ok(AssistanceOpened::Created)
    }

    async fn counter(&self, counter: Counter, key: &str, now: OffsetDateTime) -> StoreResult<Option<WindowCount>> {
        Ok(self.state().counter(counter, key, now))
    }
}
