//! The in-process store: every operation runs under one lock, so each is atomic exactly as
//! its DynamoDB counterpart is; expired items read as absent.

use super::*;
use crate::audit::AuditEvent;
use crate::domain::{
    AccountSubject, AssistanceRequest, AssistanceStatus, CertificateFile, CertificateNumber, Invoice, InvoiceNumber,
    RecoverySession,
};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Default)]
struct State {
    files: HashMap<CertificateNumber, CertificateFile>,
    invoices: HashMap<InvoiceNumber, Invoice>,
    sessions: HashMap<AccountSubject, RecoverySession>,
    links: HashMap<AccountSubject, CertificateNumber>,
    counters: HashMap<(Counter, String), WindowCount>,
    assistance: HashMap<String, AssistanceRequest>,
    open_assistance: HashMap<AccountSubject, String>,
    audit: HashMap<CertificateNumber, Vec<AuditEvent>>,
    /// When a code was last sent for each certificate, by any session.
    last_code_sent: HashMap<CertificateNumber, OffsetDateTime>,
    /// Files whose email is the one an employee set (a registry import keeps it).
    employee_emails: std::collections::HashSet<CertificateNumber>,
    /// Refusals recorded once per window: (file, actor, action and outcome) → until.
    refusals: HashMap<(CertificateNumber, String, String), OffsetDateTime>,
}

impl State {
    fn session(&self, account: &AccountSubject, now: OffsetDateTime) -> Option<&RecoverySession> {
        self.sessions.get(account).filter(|s| s.expires_at > now)
    }

    fn counter(&self, counter: Counter, key: &str, now: OffsetDateTime) -> Option<WindowCount> {
        WindowCount::current(self.counters.get(&(counter, key.to_owned())).copied(), now)
    }

    /// Counts one unless the counter reached `max` in its window: the count with this one, or
    /// when the window ends.
    fn reserve(
        &mut self,
        counter: Counter,
        key: &str,
        max: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<WindowCount, OffsetDateTime> {
        if let Some(c) = self.counter(counter, key, now).filter(|c| c.count >= max) {
            return Err(c.window_ends);
        }
        self.bump(counter, key, 1, window, now);
        Ok(self.counter(counter, key, now).expect("just counted"))
    }

    /// Takes one back, if the counter is still in the window it was added in.
    fn release(&mut self, counter: Counter, key: &str, window_ends: OffsetDateTime) {
        if let Some(c) = self.counters.get_mut(&(counter, key.to_owned())).filter(|c| c.window_ends == window_ends) {
            c.count = c.count.saturating_sub(1);
        }
    }

    fn bump(&mut self, counter: Counter, key: &str, by: i64, window: Duration, now: OffsetDateTime) {
        let slot = self
            .counters
            .entry((counter, key.to_owned()))
            .or_insert(WindowCount { count: 0, window_ends: now + window });
        if slot.window_ends <= now {
            *slot = WindowCount { count: 0, window_ends: now + window };
        }
        slot.count = (slot.count as i64 + by).max(0) as u32;
    }

    fn audit(&mut self, event: AuditEvent) {
        self.audit.entry(event.certificate_number.clone()).or_default().push(event);
    }
}

pub struct MemoryStore {
    state: Mutex<State>,
    audit_retention: Duration,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store keeping audit events for the default retention (SPEC §4).
    pub fn new() -> Self {
        Self { state: Mutex::default(), audit_retention: crate::settings::RuleSettings::default().audit_retention }
    }

    /// Audit events read as absent once this long has passed (`AUDIT_RETENTION_DAYS`).
    pub fn with_audit_retention(mut self, retention: Duration) -> Self {
        self.audit_retention = retention;
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl RegistryStore for MemoryStore {
    async fn certificate(&self, number: &CertificateNumber) -> StoreResult<Option<CertificateFile>> {
        Ok(self.state().files.get(number).cloned())
    }

    async fn invoice(&self, number: &InvoiceNumber) -> StoreResult<Option<Invoice>> {
        Ok(self.state().invoices.get(number).cloned())
    }

    async fn certificates(&self, numbers: &[CertificateNumber]) -> StoreResult<Vec<CertificateFile>> {
        let state = self.state();
        Ok(numbers.iter().filter_map(|n| state.files.get(n).cloned()).collect())
    }

    async fn upsert_certificate(&self, file: &CertificateFile, employee_email: EmployeeEmail) -> StoreResult<bool> {
        let mut state = self.state();
        let existing = state.files.get(&file.number).cloned();
        let linked_account = existing.as_ref().and_then(|f| f.linked_account.clone());
        // When an employee changed the email stays whatever: codes sent before stay dead.
        let email_changed_at = existing.as_ref().and_then(|f| f.email_changed_at);
        let mut updated = CertificateFile { linked_account, email_changed_at, ..file.clone() };
        let mut kept = false;
        if state.employee_emails.contains(&file.number) {
            match employee_email {
                EmployeeEmail::Keep => {
                    let employee = existing.and_then(|f| f.email);
                    kept = employee != file.email;
                    updated.email = employee;
                }
                EmployeeEmail::Replace => {
                    state.employee_emails.remove(&file.number);
                }
            }
        }
        state.files.insert(file.number.clone(), updated);
        Ok(kept)
    }

    async fn upsert_invoice(&self, invoice: &Invoice) -> StoreResult<()> {
        self.state().invoices.insert(invoice.number.clone(), invoice.clone());
        Ok(())
    }
}

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
        if let Some(session) = state.sessions.get_mut(&invoice_try.account).filter(|s| s.id == invoice_try.session_id) {
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
            && (matches!(command.proof, LinkProof::SecurityCode { .. }) || file.linked_account.is_none());
        let account_ok = state.links.get(&command.account) == command.account_linked_certificate.as_ref();
        if !(session_ok && file_ok && account_ok) {
            return Ok(LinkOutcome::Conflict);
        }
        if let Some(previous) = &command.file_linked_account {
            if previous != &command.account {
                state.links.remove(previous);
            }
        }
        if let Some(old) = &command.account_linked_certificate {
            if old != &command.certificate_number {
                if let Some(old_file) = state.files.get_mut(old) {
                    old_file.linked_account = None;
                }
            }
        }
        state.files.get_mut(&command.certificate_number).expect("checked above").linked_account =
            Some(command.account.clone());
        state.links.insert(command.account.clone(), command.certificate_number.clone());
        state.sessions.remove(&command.account);
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

#[async_trait::async_trait]
impl DeskStore for MemoryStore {
    async fn open_assistance_requests(
        &self,
        limit: usize,
        after: Option<&QueuePosition>,
    ) -> StoreResult<(Vec<AssistanceRequest>, Option<QueuePosition>)> {
        let state = self.state();
        let mut open: Vec<&AssistanceRequest> = state.assistance.values().filter(|r| r.is_open()).collect();
        open.sort_by(|a, b| (a.created_at, &a.reference).cmp(&(b.created_at, &b.reference)));
        let page: Vec<AssistanceRequest> = open
            .into_iter()
            .filter(|r| after.is_none_or(|p| (r.created_at, &r.reference) > (p.created_at, &p.reference)))
            .take(limit)
            .cloned()
            .collect();
        let next = (page.len() == limit)
            .then(|| page.last().map(|r| QueuePosition { created_at: r.created_at, reference: r.reference.clone() }))
            .flatten();
        Ok((page, next))
    }

    async fn assistance_request(&self, reference: &str) -> StoreResult<Option<AssistanceRequest>> {
        Ok(self.state().assistance.get(reference).cloned())
    }

    async fn close_assistance_request(&self, close: &CloseRequest) -> StoreResult<CloseOutcome> {
        let mut state = self.state();
        let Some(request) = state.assistance.get(&close.reference) else {
            return Err(StoreError::Corrupt("closing an assistance request that does not exist".into()));
        };
        if !request.is_open() {
            return Ok(CloseOutcome::AlreadyClosed);
        }
        if close.new_email.is_some() && !state.files.contains_key(&close.certificate_number) {
            return Err(StoreError::Corrupt("the request's certificate file does not exist".into()));
        }
        let request = state.assistance.get_mut(&close.reference).expect("checked above");
        request.status =
            AssistanceStatus::Closed { outcome: close.outcome.clone(), by: close.agent.clone(), at: close.now };
        if state.open_assistance.get(&close.account) == Some(&close.reference) {
            state.open_assistance.remove(&close.account);
        }
        if let Some(email) = &close.new_email {
            let file = state.files.get_mut(&close.certificate_number).expect("checked above");
            file.email = Some(email.clone());
            file.email_changed_at = Some(close.now);
            state.employee_emails.insert(close.certificate_number.clone());
            state
                .counters
                .remove(&(Counter::LookupFailuresOfCertificate, close.certificate_number.as_str().to_owned()));
            state.counters.remove(&(Counter::LookupFailuresOfAccount, close.account.as_str().to_owned()));
        }
        for event in &close.audit {
            state.audit(event.clone());
        }
        Ok(CloseOutcome::Closed)
    }
}

#[async_trait::async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.state().audit(event.clone());
        Ok(())
    }

    async fn append_audit_once(&self, event: &AuditEvent, until: OffsetDateTime) -> StoreResult<bool> {
        let mut state = self.state();
        let key = (
            event.certificate_number.clone(),
            format!("{}#{}", event.actor.kind(), event.actor.id()),
            format!("{}#{}", event.action.as_str(), event.outcome),
        );
        if state.refusals.get(&key).is_some_and(|recorded_until| *recorded_until > event.at) {
            return Ok(false);
        }
        state.refusals.insert(key, until);
        state.audit(event.clone());
        Ok(true)
    }

    async fn audit_trail(
        &self,
        certificate: &CertificateNumber,
        limit: usize,
        after: Option<&AuditPosition>,
        now: OffsetDateTime,
    ) -> StoreResult<(Vec<AuditEvent>, Option<AuditPosition>)> {
        let limit = limit.clamp(1, 100);
        let after = after.map(AuditPosition::sort_key);
        let mut events: Vec<AuditEvent> = self
            .state()
            .audit
            .get(certificate)
            .into_iter()
            .flatten()
            .filter(|e| e.expires_at(self.audit_retention) > now)
            .filter(|e| after.as_ref().is_none_or(|after| e.sort_key() < *after))
            .cloned()
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
        events.truncate(limit + 1);
        let next = (events.len() > limit).then(|| AuditPosition::of(&events[limit - 1]));
        events.truncate(limit);
        Ok((events, next))
    }
}
