//! The store wrapper that names, for the recording, the port method each AWS call is made in
//! ([`RecordingStore`]), and the hook the tests' call log and fault layer plug into it.

use super::STORE_METHOD;
use crate::audit::AuditEvent;
use crate::domain::{
    AccountSubject, AssistanceRequest, CertificateFile, CertificateNumber, Invoice, InvoiceNumber, RecoverySession,
    Report, SentMessage,
};
use crate::store::{
    AccountView, AssistanceOpened, AuditPosition, AuditStore, CloseOutcome, CloseRequest, CodeSend, CodeSendRefused,
    CodeSendUndo, CodeTry, CodeTryCounted, CodeTryReservation, Counter, DeliveryStore, DeliveryUpdate, DeskStore,
    EmployeeEmail, FileReport, InvoiceTry, InvoiceTryCounted, InvoiceTryReservation, LinkCommand, LinkOutcome,
    LookupLimits, LookupReservation, QueuePosition, RecoveryStore, RegistryStore, ReportFiled, ReportStore,
    SessionContext, Store, StoreResult, WindowCount,
};
use time::OffsetDateTime;

/// Told of each call a [`RecordingStore`] passes on, by the port method's name: the tests' call
/// log and fault layer (`local-api/tests/api/fault_layer`). Either step may answer an error in the
/// store's place.
#[async_trait::async_trait]
pub trait StoreCallHook: Send + Sync {
    /// Before the call reaches the store: an error here means it never does. Otherwise a number
    /// for this call, handed back to [`StoreCallHook::after`] (calls may run concurrently).
    async fn before(&self, method: &'static str) -> StoreResult<u64>;
    /// After the store answered: an error here replaces the answer (the call took effect, but
    /// its answer was lost — a timed-out write that went through).
    async fn after(&self, method: &'static str, call: u64) -> StoreResult<()>;
}

/// A store that names, for the recording, the port method each AWS call is made in; otherwise
/// the store it wraps, unchanged — unless a [`StoreCallHook`] is given. The local API wraps its
/// DynamoDB store in it when recording, and so does the store contract.
#[derive(Clone)]
pub struct RecordingStore<S> {
    inner: S,
    hook: Option<std::sync::Arc<dyn StoreCallHook>>,
}

impl<S: Store> RecordingStore<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, hook: None }
    }

    /// The same store, each call also going through `hook`.
    pub fn with_hook(self, hook: std::sync::Arc<dyn StoreCallHook>) -> Self {
        Self { hook: Some(hook), ..self }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S> RecordingStore<S> {
    /// Runs `future` (a call of the wrapped store) as the port method `method`.
    async fn in_method<F: Future<Output = StoreResult<T>>, T>(&self, method: &'static str, future: F) -> F::Output {
        let Some(hook) = &self.hook else {
            return STORE_METHOD.scope(method, future).await;
        };
        let call = hook.before(method).await?;
        let answer = STORE_METHOD.scope(method, future).await;
        hook.after(method, call).await?;
        answer
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for RecordingStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingStore").field("inner", &self.inner).field("hooked", &self.hook.is_some()).finish()
    }
}

#[async_trait::async_trait]
impl<S: RegistryStore> RegistryStore for RecordingStore<S> {
    async fn certificate(&self, number: &CertificateNumber) -> StoreResult<Option<CertificateFile>> {
        self.in_method("certificate", self.inner.certificate(number)).await
    }
    async fn invoice(&self, number: &InvoiceNumber) -> StoreResult<Option<Invoice>> {
        self.in_method("invoice", self.inner.invoice(number)).await
    }
    async fn certificates(&self, numbers: &[CertificateNumber]) -> StoreResult<Vec<CertificateFile>> {
        self.in_method("certificates", self.inner.certificates(numbers)).await
    }
    async fn upsert_certificate(&self, file: &CertificateFile, employee_email: EmployeeEmail) -> StoreResult<bool> {
        self.in_method("upsert_certificate", self.inner.upsert_certificate(file, employee_email)).await
    }
    async fn upsert_invoice(&self, invoice: &Invoice) -> StoreResult<()> {
        self.in_method("upsert_invoice", self.inner.upsert_invoice(invoice)).await
    }
}

#[async_trait::async_trait]
impl<S: RecoveryStore> RecoveryStore for RecordingStore<S> {
    async fn reserve_lookup(
        &self,
        account: &AccountSubject,
        certificate: &CertificateNumber,
        limits: LookupLimits,
        now: OffsetDateTime,
    ) -> StoreResult<Result<LookupReservation, OffsetDateTime>> {
        self.in_method("reserve_lookup", self.inner.reserve_lookup(account, certificate, limits, now)).await
    }
    async fn release_lookup(&self, reservation: &LookupReservation) -> StoreResult<()> {
        self.in_method("release_lookup", self.inner.release_lookup(reservation)).await
    }
    async fn open_session(&self, session: &RecoverySession, audit: AuditEvent) -> StoreResult<()> {
        self.in_method("open_session", self.inner.open_session(session, audit)).await
    }
    async fn session_context(
        &self,
        account: &AccountSubject,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SessionContext>> {
        self.in_method("session_context", self.inner.session_context(account, now)).await
    }
    async fn account_view(&self, account: &AccountSubject, now: OffsetDateTime) -> StoreResult<AccountView> {
        self.in_method("account_view", self.inner.account_view(account, now)).await
    }
    async fn record_code_sent(&self, send: &CodeSend) -> StoreResult<Result<(), CodeSendRefused>> {
        self.in_method("record_code_sent", self.inner.record_code_sent(send)).await
    }
    async fn undo_code_sent(&self, undo: &CodeSendUndo) -> StoreResult<()> {
        self.in_method("undo_code_sent", self.inner.undo_code_sent(undo)).await
    }
    async fn reserve_code_try(&self, code_try: &CodeTry) -> StoreResult<CodeTryCounted> {
        self.in_method("reserve_code_try", self.inner.reserve_code_try(code_try)).await
    }
    async fn release_code_try(
        &self,
        code_try: &CodeTry,
        reservation: &CodeTryReservation,
        code_too: bool,
    ) -> StoreResult<()> {
        self.in_method("release_code_try", self.inner.release_code_try(code_try, reservation, code_too)).await
    }
    async fn reserve_invoice_try(&self, invoice_try: &InvoiceTry) -> StoreResult<InvoiceTryCounted> {
        self.in_method("reserve_invoice_try", self.inner.reserve_invoice_try(invoice_try)).await
    }
    async fn release_invoice_try(
        &self,
        invoice_try: &InvoiceTry,
        reservation: &InvoiceTryReservation,
        session_too: bool,
    ) -> StoreResult<()> {
        self.in_method("release_invoice_try", self.inner.release_invoice_try(invoice_try, reservation, session_too))
            .await
    }
    async fn link(&self, command: &LinkCommand) -> StoreResult<LinkOutcome> {
        self.in_method("link", self.inner.link(command)).await
    }
    async fn open_assistance_request(
        &self,
        request: &AssistanceRequest,
        audit: AuditEvent,
    ) -> StoreResult<AssistanceOpened> {
        self.in_method("open_assistance_request", self.inner.open_assistance_request(request, audit)).await
    }
    async fn counter(&self, counter: Counter, key: &str, now: OffsetDateTime) -> StoreResult<Option<WindowCount>> {
        self.in_method("counter", self.inner.counter(counter, key, now)).await
    }
}

#[async_trait::async_trait]
impl<S: DeskStore> DeskStore for RecordingStore<S> {
    async fn open_assistance_requests(
        &self,
        limit: usize,
        after: Option<&QueuePosition>,
    ) -> StoreResult<(Vec<AssistanceRequest>, Option<QueuePosition>)> {
        self.in_method("open_assistance_requests", self.inner.open_assistance_requests(limit, after)).await
    }
    async fn assistance_request(&self, reference: &str) -> StoreResult<Option<AssistanceRequest>> {
        self.in_method("assistance_request", self.inner.assistance_request(reference)).await
    }
    async fn close_assistance_request(&self, close: &CloseRequest) -> StoreResult<CloseOutcome> {
        self.in_method("close_assistance_request", self.inner.close_assistance_request(close)).await
    }
}

#[async_trait::async_trait]
impl<S: AuditStore> AuditStore for RecordingStore<S> {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.in_method("append_audit", self.inner.append_audit(event)).await
    }
    async fn append_audit_once(&self, event: &AuditEvent, until: OffsetDateTime) -> StoreResult<bool> {
        self.in_method("append_audit_once", self.inner.append_audit_once(event, until)).await
    }
    async fn audit_trail(
        &self,
        certificate: &CertificateNumber,
        limit: usize,
        after: Option<&AuditPosition>,
        now: OffsetDateTime,
    ) -> StoreResult<(Vec<AuditEvent>, Option<AuditPosition>)> {
        self.in_method("audit_trail", self.inner.audit_trail(certificate, limit, after, now)).await
    }
}

#[async_trait::async_trait]
impl<S: ReportStore> ReportStore for RecordingStore<S> {
    async fn report(&self, token_hash: &str, now: OffsetDateTime) -> StoreResult<Option<Report>> {
        self.in_method("report", self.inner.report(token_hash, now)).await
    }
    async fn file_report(&self, filing: &FileReport) -> StoreResult<ReportFiled> {
        self.in_method("file_report", self.inner.file_report(filing)).await
    }
}

#[async_trait::async_trait]
impl<S: DeliveryStore> DeliveryStore for RecordingStore<S> {
    async fn record_message(&self, message: &SentMessage, audit: &AuditEvent) -> StoreResult<()> {
        self.in_method("record_message", self.inner.record_message(message, audit)).await
    }
    async fn message(&self, message_id: &str, now: OffsetDateTime) -> StoreResult<Option<SentMessage>> {
        self.in_method("message", self.inner.message(message_id, now)).await
    }
    async fn record_delivery(&self, update: &DeliveryUpdate) -> StoreResult<()> {
        self.in_method("record_delivery", self.inner.record_delivery(update)).await
    }
}
