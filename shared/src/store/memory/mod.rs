//! The in-process store: every operation runs under one lock, so each is atomic exactly as
//! its DynamoDB counterpart is; expired items read as absent. The port's traits are
//! implemented one per file: `registry.rs`, `recovery.rs`, `desk.rs`, `audit.rs`, `report.rs`,
//! `delivery.rs`.

mod audit;
mod delivery;
mod desk;
mod recovery;
mod registry;
mod report;

use super::{Counter, WindowCount};
use crate::audit::AuditEvent;
use crate::domain::{
    AccountSubject, AssistanceRequest, CertificateFile, CertificateNumber, Invoice, InvoiceNumber, RecoverySession,
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
    /// "This wasn't me" links, by their token's keyed hash.
    reports: HashMap<String, crate::domain::Report>,
    /// Messages sent, by message id.
    messages: HashMap<String, crate::domain::SentMessage>,
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
    /// An empty store keeping audit events for the default retention (`docs/rules.md#audit-retention`).
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
