//! A holder's recovery: the 24 h limits and their counters, the recovery session and its
//! security code, the link of an account to its file, and the holder's own assistance request.
//! What the use cases of `recovery` send to the store and read back.

use super::StoreResult;
use crate::audit::AuditEvent;
use crate::domain::{
    AccountSubject, AssistanceRequest, CertificateFile, CertificateNumber, IssuedCode, RecoverySession,
};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// A count inside a window that started with its first event (the 24 h limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u32,
    pub window_ends: OffsetDateTime,
}

impl WindowCount {
    pub fn current(count: Option<WindowCount>, now: OffsetDateTime) -> Option<WindowCount> {
        count.filter(|c| c.window_ends > now)
    }
}

/// The counters a rule limits over 24 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    LookupFailuresOfAccount,
    LookupFailuresOfCertificate,
    CodeSendsOfCertificate,
    WrongCodesOfCertificate,
    RefusedInvoicesOfAccount,
    RefusedInvoicesOfCertificate,
}

/// The lookup failure limits (`docs/rules.md#lookup-limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupLimits {
    pub per_account: u32,
    pub per_certificate: u32,
    pub window: Duration,
}

/// A lookup try counted in advance against both failure limits, so that concurrent guesses
/// can never exceed them; given back when the lookup matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupReservation {
    pub account: AccountSubject,
    pub certificate: CertificateNumber,
    pub account_window_ends: OffsetDateTime,
    pub certificate_window_ends: OffsetDateTime,
}

/// What the code routes read in one go.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub session: RecoverySession,
    pub file: Option<CertificateFile>,
    pub code_sends_of_certificate: Option<WindowCount>,
    /// When a code was last sent for this certificate, by any session of any account: the
    /// resend cooldown holds across sessions.
    pub last_code_sent_for_certificate: Option<OffsetDateTime>,
    pub wrong_codes_of_certificate: Option<WindowCount>,
    /// The certificate the account is linked to now, if any.
    pub account_link: Option<CertificateNumber>,
}

/// An account's recovery items, read together.
#[derive(Debug, Clone, Default)]
pub struct AccountView {
    pub session: Option<RecoverySession>,
    pub link: Option<CertificateNumber>,
    pub open_assistance: Option<AssistanceRequest>,
}

#[derive(Debug, Clone)]
pub struct CodeSend {
    pub account: AccountSubject,
    pub session_id: String,
    pub certificate_number: CertificateNumber,
    pub code: IssuedCode,
    /// The hash of the code this send replaces, as read.
    pub replaced_hash: Option<String>,
    /// The session's send count as read: the write happens only if it is unchanged.
    pub sends_before: u32,
    /// The certificate's sends in 24 h and its last send, as read with the session (saves a
    /// read; re-read only when a concurrent send changed them).
    pub certificate_sends: Option<WindowCount>,
    pub certificate_last_sent: Option<OffsetDateTime>,
    pub max_sends: u32,
    pub cooldown: Duration,
    pub max_sends_per_certificate: u32,
    pub window: Duration,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSendRefused {
    /// The session ended, was replaced, or another send got in first.
    SessionChanged,
    TooSoon,
    SessionSendsUsedUp,
    CertificateSendsUsedUp,
}

/// Undo of a recorded send whose email could not be sent.
#[derive(Debug, Clone)]
pub struct CodeSendUndo {
    pub account: AccountSubject,
    pub session_id: String,
    pub certificate_number: CertificateNumber,
    pub code_id: String,
    pub previous_code: Option<IssuedCode>,
    pub previous_last_sent_at: Option<OffsetDateTime>,
    pub previous_replaced_code_hashes: Vec<String>,
    /// When the failed send was recorded, and the certificate's last send before it.
    pub sent_at: OffsetDateTime,
    pub previous_certificate_last_sent: Option<OffsetDateTime>,
}

/// A code try, counted before the comparison against the code's tries and the certificate's
/// wrong codes in 24 h, so that concurrent tries never get past either limit.
#[derive(Debug, Clone)]
pub struct CodeTry {
    pub account: AccountSubject,
    pub session_id: String,
    pub code_id: String,
    pub certificate_number: CertificateNumber,
    pub max_attempts: u32,
    pub max_wrong_per_certificate: u32,
    pub window: Duration,
    pub now: OffsetDateTime,
}

/// A counted code try: this many tries on the code so far (this one included), and the
/// window of the certificate's count it was added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeTryReservation {
    pub attempts: u32,
    pub certificate_window_ends: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeTryCounted {
    Reserved(CodeTryReservation),
    /// Not counted: the code's tries were already used up.
    AttemptsUsedUp,
    /// Not counted: the code was replaced, used or the session ended.
    CodeGone,
    /// Not counted: the certificate's wrong codes in 24 h are used up until then.
    CertificateUsedUp {
        until: OffsetDateTime,
    },
}

/// An invoice try, counted before the comparison against the session's tries and the refused
/// invoices of the account and of the certificate in 24 h.
#[derive(Debug, Clone)]
pub struct InvoiceTry {
    pub account: AccountSubject,
    pub session_id: String,
    pub certificate_number: CertificateNumber,
    pub max_per_session: u32,
    pub max_per_account: u32,
    pub max_per_certificate: u32,
    pub window: Duration,
    pub now: OffsetDateTime,
}

/// A counted invoice try: the session's tries and both 24 h counts, this one included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoiceTryReservation {
    pub session_attempts: u32,
    pub of_account: WindowCount,
    pub of_certificate: WindowCount,
}

impl InvoiceTryReservation {
    /// Tries left before one of the three limits closes the invoice path.
    pub fn attempts_left(&self, try_: &InvoiceTry) -> u32 {
        try_.max_per_session
            .saturating_sub(self.session_attempts)
            .min(try_.max_per_account.saturating_sub(self.of_account.count))
            .min(try_.max_per_certificate.saturating_sub(self.of_certificate.count))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceTryCounted {
    Reserved(InvoiceTryReservation),
    /// Not counted: the session's invoice tries are used up.
    SessionUsedUp,
    /// Not counted: the session ended or was replaced.
    SessionGone,
    /// Not counted: the account's or the certificate's refused invoices in 24 h are used up
    /// until then.
    Locked {
        until: OffsetDateTime,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProof {
    /// A correct security code; the session's code must still be this one, live, within its
    /// tries (this try was counted), and issued after the file's email last changed. Single
    /// use: the link consumes the session.
    SecurityCode { code_id: String, max_attempts: u32, issued_at: OffsetDateTime },
    /// A recent invoice of the file; the session must be within its invoice tries (this try
    /// was counted) and the file must not be linked (invoices never move a link).
    Invoice { max_attempts: u32 },
}

#[derive(Debug, Clone)]
pub struct LinkCommand {
    pub account: AccountSubject,
    pub certificate_number: CertificateNumber,
    pub session_id: String,
    pub proof: LinkProof,
    /// The file's linked account as read; the link happens only if it is unchanged.
    pub file_linked_account: Option<AccountSubject>,
    /// The certificate the caller's account was linked to as read.
    pub account_linked_certificate: Option<CertificateNumber>,
    /// The "this wasn't me" links of the link's notices (to the email on file, and to the
    /// address before an employee's change still on hold), stored with the link.
    pub reports: Vec<crate::domain::Report>,
    pub now: OffsetDateTime,
    pub audit: Vec<AuditEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    Linked,
    /// Something read before changed (a concurrent link, a replaced code, used-up tries, a
    /// report that froze the file):
    /// nothing was written.
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssistanceOpened {
    Created,
    AlreadyOpen(AssistanceRequest),
}

/// A holder's recovery: limits, sessions and codes, the link, the holder's assistance request.
#[async_trait::async_trait]
pub trait RecoveryStore: Send + Sync {
    /// Counts one lookup try against the account's and the certificate's failures, unless
    /// either limit is used up: then nothing is counted and the answer is when the lock ends.
    async fn reserve_lookup(
        &self,
        account: &AccountSubject,
        certificate: &CertificateNumber,
        limits: LookupLimits,
        now: OffsetDateTime,
    ) -> StoreResult<Result<LookupReservation, OffsetDateTime>>;

    /// Gives back a reserved try: the lookup matched, so it was not a failure.
    async fn release_lookup(&self, reservation: &LookupReservation) -> StoreResult<()>;

    /// Opens a recovery session, replacing the account's previous one.
    async fn open_session(&self, session: &RecoverySession, audit: AuditEvent) -> StoreResult<()>;

    async fn session_context(
        &self,
        account: &AccountSubject,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SessionContext>>;

    async fn account_view(&self, account: &AccountSubject, now: OffsetDateTime) -> StoreResult<AccountView>;

    /// Stores a new code in the session (the old one dies) and counts the send, atomically
    /// under the session and certificate limits. No audit event: the use case records `sent`
    /// once the mail went out, so the trail never claims a mail that failed.
    async fn record_code_sent(&self, send: &CodeSend) -> StoreResult<Result<(), CodeSendRefused>>;

    /// Takes back a recorded send whose email failed.
    async fn undo_code_sent(&self, undo: &CodeSendUndo) -> StoreResult<()>;

    /// Counts a code try on the code and on the certificate's wrong codes, unless either is
    /// used up; the comparison comes after.
    async fn reserve_code_try(&self, code_try: &CodeTry) -> StoreResult<CodeTryCounted>;

    /// Gives back a counted code try that was not a wrong code: the certificate's count, and
    /// the code's tries too when `code_too` (the code is still live).
    async fn release_code_try(
        &self,
        code_try: &CodeTry,
        reservation: &CodeTryReservation,
        code_too: bool,
    ) -> StoreResult<()>;

    /// Counts an invoice try on the session and on the refused invoices of the account and of
    /// the certificate, unless one is used up; the comparison comes after.
    async fn reserve_invoice_try(&self, invoice_try: &InvoiceTry) -> StoreResult<InvoiceTryCounted>;

    /// Gives back a counted try that was no refused invoice — accepted, or never compared
    /// because the store failed: the account's and the certificate's counts, and with
    /// `session_too` the session's try while it is still that session (not after a link, which
    /// consumed the session: that write would be refused, and billed, for nothing).
    async fn release_invoice_try(
        &self,
        invoice_try: &InvoiceTry,
        reservation: &InvoiceTryReservation,
        session_too: bool,
    ) -> StoreResult<()>;

    /// Links the account to the file in one atomic write: the file, the account's link, the
    /// session consumed, a previous owner's link removed, the notice's report link, the audit
    /// events. Never while the file's recovery is frozen (a conflict).
    async fn link(&self, command: &LinkCommand) -> StoreResult<LinkOutcome>;

    /// Opens an assistance request unless the account already has one open.
    async fn open_assistance_request(
        &self,
        request: &AssistanceRequest,
        audit: AuditEvent,
    ) -> StoreResult<AssistanceOpened>;

    /// Current value of a 24 h counter (tests and staff views).
    async fn counter(&self, counter: Counter, key: &str, now: OffsetDateTime) -> StoreResult<Option<WindowCount>>;
}

/// A shared store forwards to the store it shares (see [`super::Store`]).
#[async_trait::async_trait]
impl<S: RecoveryStore + ?Sized> RecoveryStore for Arc<S> {
    async fn reserve_lookup(
        &self,
        account: &AccountSubject,
        certificate: &CertificateNumber,
        limits: LookupLimits,
        now: OffsetDateTime,
    ) -> StoreResult<Result<LookupReservation, OffsetDateTime>> {
        (**self).reserve_lookup(account, certificate, limits, now).await
    }
    async fn release_lookup(&self, reservation: &LookupReservation) -> StoreResult<()> {
        (**self).release_lookup(reservation).await
    }
    async fn open_session(&self, session: &RecoverySession, audit: AuditEvent) -> StoreResult<()> {
        (**self).open_session(session, audit).await
    }
    async fn session_context(
        &self,
        account: &AccountSubject,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SessionContext>> {
        (**self).session_context(account, now).await
    }
    async fn account_view(&self, account: &AccountSubject, now: OffsetDateTime) -> StoreResult<AccountView> {
        (**self).account_view(account, now).await
    }
    async fn record_code_sent(&self, send: &CodeSend) -> StoreResult<Result<(), CodeSendRefused>> {
        (**self).record_code_sent(send).await
    }
    async fn undo_code_sent(&self, undo: &CodeSendUndo) -> StoreResult<()> {
        (**self).undo_code_sent(undo).await
    }
    async fn reserve_code_try(&self, code_try: &CodeTry) -> StoreResult<CodeTryCounted> {
        (**self).reserve_code_try(code_try).await
    }
    async fn release_code_try(
        &self,
        code_try: &CodeTry,
        reservation: &CodeTryReservation,
        code_too: bool,
    ) -> StoreResult<()> {
        (**self).release_code_try(code_try, reservation, code_too).await
    }
    async fn reserve_invoice_try(&self, invoice_try: &InvoiceTry) -> StoreResult<InvoiceTryCounted> {
        (**self).reserve_invoice_try(invoice_try).await
    }
    async fn release_invoice_try(
        &self,
        invoice_try: &InvoiceTry,
        reservation: &InvoiceTryReservation,
        session_too: bool,
    ) -> StoreResult<()> {
        (**self).release_invoice_try(invoice_try, reservation, session_too).await
    }
    async fn link(&self, command: &LinkCommand) -> StoreResult<LinkOutcome> {
        (**self).link(command).await
    }
    async fn open_assistance_request(
        &self,
        request: &AssistanceRequest,
        audit: AuditEvent,
    ) -> StoreResult<AssistanceOpened> {
        (**self).open_assistance_request(request, audit).await
    }
    async fn counter(&self, counter: Counter, key: &str, now: OffsetDateTime) -> StoreResult<Option<WindowCount>> {
        (**self).counter(counter, key, now).await
    }
}
