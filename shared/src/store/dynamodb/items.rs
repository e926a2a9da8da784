//! Domain types to and from DynamoDB items.

use super::Item;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::domain::{
    AccountSubject, AssistanceRequest, AssistanceStatus, CertificateFile, CertificateNumber, CertificateStatus,
    DateOfBirth, Delivery, EmailAddress, EmailDeliveryProblem, Invoice, InvoiceNumber, IssuedCode, Language,
    MessagePurpose, PreferredTime, RecoverySession, Report, ReportKind, SentMessage,
};
use crate::store::{Counter, EmailHold, MESSAGE_RETENTION, StoreError, StoreResult, WindowCount};
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

pub const TTL_ATTRIBUTE: &str = "expires_at";
pub const GSI_OPEN_ASSISTANCE: &str = "gsi1";
pub const OPEN_ASSISTANCE_PK: &str = "ASSISTANCE#open";
pub const CERT_PREFIX: &str = "CERT#";
pub const ACCOUNT_PREFIX: &str = "ACCOUNT#";
pub const COUNTER_PREFIX: &str = "COUNTER#";
pub const AUDIT_PREFIX: &str = "AUDIT#";
pub const FILE_SK: &str = "FILE";
/// The email an employee set after a phone call: its own item, so a registry import (a plain
/// put of `FILE`) never undoes it; with the change's hold while it runs. Sorts right after
/// `FILE` (and `FILE#DELIVERY`).
pub const EMPLOYEE_EMAIL_SK: &str = "FILE#EMAIL";
/// A failed delivery (bounce, complaint) to the file's current address: its own item, so a
/// registry import never drops it; a new email deletes it.
pub const FILE_DELIVERY_SK: &str = "FILE#DELIVERY";
/// The file's self-service recovery frozen by "this wasn't me" reports: the string set
/// `open_reports` of their requests' references, while any is open.
pub const FROZEN_SK: &str = "FILE#FROZEN";
/// Sorts after `FILE` and every `FILE#…` item: a query from `FILE` reads a file, its employee
/// email, its delivery problem, its freeze and its owner.
pub const OWNER_SK: &str = "OWNER";
/// The partition of the markers that let a repeated refusal reach the audit trail once per
/// window (`REFUSAL#<number>#<actor>`, sort key `<action>#<outcome>`).
pub const REFUSAL_PREFIX: &str = "REFUSAL#";
pub const INVOICE_SK: &str = "INVOICE";
pub const SESSION_SK: &str = "SESSION";
pub const LINK_SK: &str = "LINK";
pub const ASSISTANCE_SK: &str = "ASSISTANCE";
pub const REQUEST_SK: &str = "REQUEST";
pub const REPORT_SK: &str = "REPORT";
pub const MESSAGE_SK: &str = "MESSAGE";

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn ms(at: OffsetDateTime) -> AttributeValue {
    n(millis(at))
}

/// The TTL attribute: epoch seconds, rounded up so an item never disappears early.
pub fn ttl(at: OffsetDateTime) -> AttributeValue {
    n((millis(at) + 999).div_euclid(1000))
}

pub fn cert_pk(number: &CertificateNumber) -> String {
    format!("{CERT_PREFIX}{number}")
}

pub fn invoice_pk(number: &InvoiceNumber) -> String {
    format!("INVOICE#{number}")
}

pub fn account_pk(account: &AccountSubject) -> String {
    format!("{ACCOUNT_PREFIX}{account}")
}

pub fn assistance_pk(reference: &str) -> String {
    format!("ASSISTANCE#{reference}")
}

/// A "this wasn't me" link's record, under its token's keyed hash.
pub fn report_pk(token_hash: &str) -> String {
    format!("REPORT#{token_hash}")
}

/// A message sent, under its SES message id.
pub fn message_pk(message_id: &str) -> String {
    format!("MESSAGE#{message_id}")
}

/// The sort key of both lookup failure counters: the account's, in `ACCOUNT#<sub>`, and the
/// certificate's, in `CERT#<number>`. Both count failed lookups (`docs/rules.md#lookup-limits`) and the partition
/// tells whose, so [`Counter::LookupFailuresOfAccount`] and
/// [`Counter::LookupFailuresOfCertificate`] share this one sort key. Clearing both lookup locks
/// (an assistance request closed with a new email) deletes it in the certificate's partition
/// and in the account's.
pub const LOOKUP_FAILURES_SK: &str = "COUNTER#lookup_failures";
pub const CODE_SENDS_SK: &str = "COUNTER#code_sends";
pub const WRONG_CODES_SK: &str = "COUNTER#wrong_codes";
/// The sort key of both refused invoice counters, the account's and the certificate's, as
/// [`LOOKUP_FAILURES_SK`] is for the lookups.
pub const REFUSED_INVOICES_SK: &str = "COUNTER#refused_invoices";

/// Where a counter is kept in its partition (`COUNTER#<kind>`: they sort together).
pub fn counter_sk(counter: Counter) -> &'static str {
    match counter {
        Counter::LookupFailuresOfAccount | Counter::LookupFailuresOfCertificate => LOOKUP_FAILURES_SK,
        Counter::CodeSendsOfCertificate => CODE_SENDS_SK,
        Counter::WrongCodesOfCertificate => WRONG_CODES_SK,
        Counter::RefusedInvoicesOfAccount | Counter::RefusedInvoicesOfCertificate => REFUSED_INVOICES_SK,
    }
}

fn corrupt(field: &str) -> StoreError {
    StoreError::Corrupt(format!("attribute {field} is missing or of the wrong type"))
}

pub fn get_s<'a>(item: &'a Item, field: &str) -> StoreResult<&'a str> {
    item.get(field).and_then(|v| v.as_s().ok()).map(String::as_str).ok_or_else(|| corrupt(field))
}

pub fn opt_s(item: &Item, field: &str) -> Option<String> {
    item.get(field).and_then(|v| v.as_s().ok()).cloned()
}

pub fn get_n(item: &Item, field: &str) -> StoreResult<i64> {
    item.get(field).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).ok_or_else(|| corrupt(field))
}

pub fn get_ms(item: &Item, field: &str) -> StoreResult<OffsetDateTime> {
    let value = get_n(item, field)?;
    OffsetDateTime::from_unix_timestamp_nanos(value as i128 * 1_000_000).map_err(|_| corrupt(field))
}

fn opt_ms(item: &Item, field: &str) -> StoreResult<Option<OffsetDateTime>> {
    if item.contains_key(field) { get_ms(item, field).map(Some) } else { Ok(None) }
}

pub fn sk_of(item: &Item) -> &str {
    get_s(item, "sk").unwrap_or_default()
}

fn parsed<T, E>(item: &Item, field: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> StoreResult<T> {
    parse(get_s(item, field)?).map_err(|_| corrupt(field))
}

fn date(item: &Item, field: &str) -> StoreResult<time::Date> {
    crate::time_format::date::parse(get_s(item, field)?).ok_or_else(|| corrupt(field))
}

/// A file's registry fields. Who it is linked to lives in its own item (`OWNER`), so that a
/// registry import (a plain put, batched) never drops a link.
pub fn file_item(file: &CertificateFile) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(cert_pk(&file.number))),
        ("sk".into(), s(FILE_SK)),
        ("number".into(), s(file.number.as_str())),
        ("holder_name".into(), s(&file.holder_name)),
        ("date_of_birth".into(), s(crate::time_format::date::format(&file.date_of_birth.date()))),
        ("phone".into(), s(&file.phone)),
        ("language".into(), s(file.language.code())),
        ("status".into(), s(file.status.as_str())),
        ("expires_on".into(), s(crate::time_format::date::format(&file.expires_on))),
    ]);
    if let Some(email) = &file.email {
        item.insert("email".into(), s(email.as_str()));
    }
    item
}

/// The account a file is linked to.
pub fn owner_item(number: &CertificateNumber, account: &AccountSubject, at: OffsetDateTime) -> Item {
    Item::from([
        ("pk".into(), s(cert_pk(number))),
        ("sk".into(), s(OWNER_SK)),
        ("linked_account".into(), s(account.as_str())),
        ("linked_ms".into(), ms(at)),
    ])
}

/// The partition of one actor's refusal markers on one file.
pub fn refusal_pk(number: &CertificateNumber, actor: &Actor) -> String {
    format!("{REFUSAL_PREFIX}{}#{}#{}", number.as_str(), actor.kind(), actor.id())
}

/// The email an employee set on a file, and when; with its hold, until when codes wait and
/// the address it replaced (absent without one).
pub fn employee_email_item(
    number: &CertificateNumber,
    email: &EmailAddress,
    at: OffsetDateTime,
    agent: &str,
    hold: Option<&EmailHold>,
) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(cert_pk(number))),
        ("sk".into(), s(EMPLOYEE_EMAIL_SK)),
        ("email".into(), s(email.as_str())),
        ("changed_ms".into(), ms(at)),
        ("changed_by".into(), s(agent)),
    ]);
    if let Some(hold) = hold {
        item.insert("hold_until_ms".into(), ms(hold.until));
        item.insert("previous_email".into(), s(hold.previous_email.as_str()));
    }
    item
}

/// On `FILE#EMAIL`: the email is the one a report put back (the reference of its request), not
/// an employee's: a registry import replaces it as it would the registry's own.
pub const RESTORED_BY_REPORT: &str = "restored_by_report";

/// A failed delivery to the file's address.
pub fn file_delivery_item(number: &CertificateNumber, state: Delivery, at: OffsetDateTime) -> Item {
    Item::from([
        ("pk".into(), s(cert_pk(number))),
        ("sk".into(), s(FILE_DELIVERY_SK)),
        ("state".into(), s(state.as_str())),
        ("at_ms".into(), ms(at)),
    ])
}

/// A file from its registry item and, when present, its employee email, delivery problem,
/// freeze and owner items (all of one partition, in `items`).
pub fn file_from_items(items: &[Item]) -> StoreResult<Option<CertificateFile>> {
    let Some(file) = items.iter().find(|i| sk_of(i) == FILE_SK) else {
        return Ok(None);
    };
    let mut file = file_from_item(file)?;
    if let Some(employee) = items.iter().find(|i| sk_of(i) == EMPLOYEE_EMAIL_SK) {
        // Without `email`, a registry import replaced the employee's: only the time remains.
        if employee.contains_key("email") {
            file.email = Some(parsed(employee, "email", EmailAddress::parse)?);
        }
        file.email_changed_at = Some(get_ms(employee, "changed_ms")?);
        file.protection.email_hold_until = opt_ms(employee, "hold_until_ms")?;
        file.protection.previous_email = opt_s(employee, "previous_email")
            .map(|e| EmailAddress::parse(&e).map_err(|_| corrupt("previous_email")))
            .transpose()?;
    }
    if let Some(frozen) = items.iter().find(|i| sk_of(i) == FROZEN_SK) {
        file.protection.open_reports = match frozen.get("open_reports") {
            None => Vec::new(),
            Some(set) => {
                let mut references = set.as_ss().map_err(|_| corrupt("open_reports"))?.clone();
                references.sort();
                references
            }
        };
    }
    if let Some(problem) = items.iter().find(|i| sk_of(i) == FILE_DELIVERY_SK) {
        file.protection.email_delivery = Some(EmailDeliveryProblem {
            state: parsed(problem, "state", |d| Delivery::parse(d).ok_or(()))?,
            at: get_ms(problem, "at_ms")?,
        });
    }
    file.linked_account = items
        .iter()
        .find(|i| sk_of(i) == OWNER_SK)
        .map(|owner| parsed(owner, "linked_account", AccountSubject::parse))
        .transpose()?;
    Ok(Some(file))
}

fn file_from_item(item: &Item) -> StoreResult<CertificateFile> {
    Ok(CertificateFile {
        number: parsed(item, "number", CertificateNumber::parse)?,
        holder_name: get_s(item, "holder_name")?.to_owned(),
        date_of_birth: DateOfBirth::from_date(date(item, "date_of_birth")?),
        email: opt_s(item, "email").map(|e| EmailAddress::parse(&e).map_err(|_| corrupt("email"))).transpose()?,
        phone: get_s(item, "phone")?.to_owned(),
        language: parsed(item, "language", |l| Language::parse(l).ok_or(()))?,
        status: parsed(item, "status", |l| CertificateStatus::parse(l).ok_or(()))?,
        expires_on: date(item, "expires_on")?,
        linked_account: None,
        email_changed_at: None,
        protection: Default::default(),
    })
}

pub fn invoice_item(invoice: &Invoice) -> Item {
    Item::from([
        ("pk".into(), s(invoice_pk(&invoice.number))),
        ("sk".into(), s(INVOICE_SK)),
        ("number".into(), s(invoice.number.as_str())),
        ("certificate_number".into(), s(invoice.certificate_number.as_str())),
        ("issued_on".into(), s(crate::time_format::date::format(&invoice.issued_on))),
        ("amount_cents".into(), n(invoice.amount_cents)),
    ])
}

pub fn invoice_from_item(item: &Item) -> StoreResult<Invoice> {
    Ok(Invoice {
        number: parsed(item, "number", InvoiceNumber::parse)?,
        certificate_number: parsed(item, "certificate_number", CertificateNumber::parse)?,
        issued_on: date(item, "issued_on")?,
        amount_cents: get_n(item, "amount_cents")?,
    })
}

pub fn session_item(session: &RecoverySession) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(account_pk(&session.account))),
        ("sk".into(), s(SESSION_SK)),
        ("session_id".into(), s(&session.id)),
        ("certificate_number".into(), s(session.certificate_number.as_str())),
        ("opened_ms".into(), ms(session.opened_at)),
        ("session_expires_ms".into(), ms(session.expires_at)),
        (TTL_ATTRIBUTE.into(), ttl(session.expires_at)),
        ("sends".into(), n(session.sends as i64)),
        ("invoice_attempts".into(), n(session.invoice_attempts as i64)),
    ]);
    if let Some(at) = session.last_sent_at {
        item.insert("last_sent_ms".into(), ms(at));
    }
    if !session.replaced_code_hashes.is_empty() {
        item.insert("replaced_hashes".into(), AttributeValue::L(session.replaced_code_hashes.iter().map(s).collect()));
    }
    if let Some(code) = &session.code {
        item.insert("code_id".into(), s(&code.id));
        item.insert("code_hash".into(), s(&code.hash));
        item.insert("code_issued_ms".into(), ms(code.issued_at));
        item.insert("code_expires_ms".into(), ms(code.expires_at));
        item.insert("code_attempts".into(), n(code.attempts as i64));
        item.insert("code_delivery".into(), s(code.delivery.as_str()));
    }
    item
}

pub fn session_from_item(item: &Item) -> StoreResult<RecoverySession> {
    let code = match opt_s(item, "code_id") {
        None => None,
        Some(id) => Some(IssuedCode {
            id,
            hash: get_s(item, "code_hash")?.to_owned(),
            issued_at: get_ms(item, "code_issued_ms")?,
            expires_at: get_ms(item, "code_expires_ms")?,
            attempts: get_n(item, "code_attempts")? as u32,
            // Absent on a code sent before deliveries were recorded: sent.
            delivery: match opt_s(item, "code_delivery") {
                None => Delivery::Sent,
                Some(d) => Delivery::parse(&d).ok_or_else(|| corrupt("code_delivery"))?,
            },
        }),
    };
    Ok(RecoverySession {
        id: get_s(item, "session_id")?.to_owned(),
        account: parsed(item, "pk", |pk| {
            pk.strip_prefix(ACCOUNT_PREFIX).ok_or(()).and_then(|a| AccountSubject::parse(a).map_err(|_| ()))
        })?,
        certificate_number: parsed(item, "certificate_number", CertificateNumber::parse)?,
        opened_at: get_ms(item, "opened_ms")?,
        expires_at: get_ms(item, "session_expires_ms")?,
        code,
        sends: get_n(item, "sends")? as u32,
        last_sent_at: opt_ms(item, "last_sent_ms")?,
        invoice_attempts: get_n(item, "invoice_attempts")? as u32,
        replaced_code_hashes: match item.get("replaced_hashes") {
            None => Vec::new(),
            Some(list) => list
                .as_l()
                .map_err(|_| corrupt("replaced_hashes"))?
                .iter()
                .map(|v| v.as_s().cloned().map_err(|_| corrupt("replaced_hashes")))
                .collect::<StoreResult<_>>()?,
        },
    })
}

pub fn counter_item(pk: String, counter: Counter, count: u32, window_ends: OffsetDateTime) -> Item {
    Item::from([
        ("pk".into(), s(pk)),
        ("sk".into(), s(counter_sk(counter))),
        ("count".into(), n(count as i64)),
        ("window_ends_ms".into(), ms(window_ends)),
        (TTL_ATTRIBUTE.into(), ttl(window_ends)),
    ])
}

/// When a code was last sent for the certificate (kept on its send counter).
pub fn last_sent_from_item(item: &Item) -> StoreResult<Option<OffsetDateTime>> {
    opt_ms(item, "last_sent_ms")
}

pub fn count_from_item(item: &Item) -> StoreResult<WindowCount> {
    Ok(WindowCount { count: get_n(item, "count")?.max(0) as u32, window_ends: get_ms(item, "window_ends_ms")? })
}

pub fn link_item(account: &AccountSubject, number: &CertificateNumber, at: OffsetDateTime) -> Item {
    Item::from([
        ("pk".into(), s(account_pk(account))),
        ("sk".into(), s(LINK_SK)),
        ("certificate_number".into(), s(number.as_str())),
        ("linked_ms".into(), ms(at)),
    ])
}

pub fn link_from_item(item: &Item) -> StoreResult<CertificateNumber> {
    parsed(item, "certificate_number", CertificateNumber::parse)
}

pub fn audit_item(event: &AuditEvent) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(cert_pk(&event.certificate_number))),
        ("sk".into(), s(event.sort_key())),
        ("id".into(), s(&event.id)),
        ("at_ms".into(), ms(event.at)),
        ("actor_type".into(), s(event.actor.kind())),
        ("actor_id".into(), s(event.actor.id())),
        ("action".into(), s(event.action.as_str())),
        ("outcome".into(), s(&event.outcome)),
    ]);
    if let Some(detail) = &event.detail {
        item.insert("detail".into(), s(detail));
    }
    if let Some(ip) = &event.source_ip {
        item.insert("source_ip".into(), s(ip.to_string()));
    }
    item
}

/// Gives an audit event's item DynamoDB's TTL attribute: the event's expiry under
/// `retention`. The store passes every item it writes through here, so no audit event is
/// written without one; other items are left as they are.
pub fn with_audit_expiry(mut item: Item, retention: std::time::Duration) -> Item {
    if sk_of(&item).starts_with(AUDIT_PREFIX)
        && !item.contains_key(TTL_ATTRIBUTE)
        && let Ok(event) = audit_from_item(&item)
    {
        item.insert(TTL_ATTRIBUTE.into(), ttl(event.expires_at(retention)));
    }
    item
}

/// The sort keys of a file's live audit events at `now`: from just after the oldest instant
/// still kept (an event expires at its time plus `retention`, [`AuditEvent::expires_at`]) to
/// past the newest possible one.
pub fn audit_key_range(now: OffsetDateTime, retention: std::time::Duration) -> (String, String) {
    let oldest_kept = ((now - retention).unix_timestamp_nanos() + 1).clamp(0, u64::MAX as i128);
    (format!("{AUDIT_PREFIX}{oldest_kept:020}"), format!("{AUDIT_PREFIX}~"))
}

pub fn audit_from_item(item: &Item) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: get_s(item, "id")?.to_owned(),
        certificate_number: parsed(item, "pk", |pk| {
            pk.strip_prefix(CERT_PREFIX).ok_or(()).and_then(|n| CertificateNumber::parse(n).map_err(|_| ()))
        })?,
        at: get_ms(item, "at_ms")?,
        actor: Actor::from_parts(get_s(item, "actor_type")?, get_s(item, "actor_id")?)
            .ok_or_else(|| corrupt("actor_type"))?,
        action: parsed(item, "action", |a| AuditAction::parse(a).ok_or(()))?,
        outcome: get_s(item, "outcome")?.to_owned(),
        detail: opt_s(item, "detail"),
        source_ip: opt_s(item, "source_ip").map(|ip| ip.parse().map_err(|_| corrupt("source_ip"))).transpose()?,
    })
}

fn assistance_attributes(request: &AssistanceRequest) -> Item {
    let mut item = Item::from([
        ("reference".into(), s(&request.reference)),
        ("account".into(), s(request.account.as_str())),
        ("certificate_number".into(), s(request.certificate_number.as_str())),
        ("preferred_time".into(), s(request.preferred_time.as_str())),
        ("language".into(), s(request.language.code())),
        ("created_ms".into(), ms(request.created_at)),
    ]);
    if let Some(message) = &request.message {
        item.insert("message".into(), s(message));
    }
    if let Some(kind) = request.reported {
        item.insert("reported".into(), s(kind.as_str()));
    }
    match &request.status {
        AssistanceStatus::Open => {
            item.insert("status".into(), s("open"));
        }
        AssistanceStatus::Closed { outcome, by, at } => {
            item.insert("status".into(), s("closed"));
            item.insert("outcome".into(), s(outcome));
            item.insert("closed_by".into(), s(by));
            item.insert("closed_ms".into(), ms(*at));
        }
    }
    item
}

/// The open-requests index sorts reported requests first (`0#…`, the others `1#…`), then by
/// creation time (13-digit milliseconds), then reference.
pub fn queue_sort_key(reported: bool, created_at: OffsetDateTime, reference: &str) -> String {
    format!("{}#{:013}#{reference}", if reported { 0 } else { 1 }, millis(created_at))
}

/// The request itself, on the open-requests index while open.
pub fn assistance_item(request: &AssistanceRequest) -> Item {
    let mut item = assistance_attributes(request);
    item.insert("pk".into(), s(assistance_pk(&request.reference)));
    item.insert("sk".into(), s(REQUEST_SK));
    if request.is_open() {
        item.insert("gsi1pk".into(), s(OPEN_ASSISTANCE_PK));
        item.insert(
            "gsi1sk".into(),
            s(queue_sort_key(request.reported.is_some(), request.created_at, &request.reference)),
        );
    }
    item
}

/// The account's marker of its open request (a copy, so the account view is one query).
pub fn assistance_marker_item(request: &AssistanceRequest) -> Item {
    let mut item = assistance_attributes(request);
    item.insert("pk".into(), s(account_pk(&request.account)));
    item.insert("sk".into(), s(ASSISTANCE_SK));
    item
}

pub fn assistance_from_item(item: &Item) -> StoreResult<AssistanceRequest> {
    let status = match get_s(item, "status")? {
        "open" => AssistanceStatus::Open,
        "closed" => AssistanceStatus::Closed {
            outcome: get_s(item, "outcome")?.to_owned(),
            by: get_s(item, "closed_by")?.to_owned(),
            at: get_ms(item, "closed_ms")?,
        },
        _ => return Err(corrupt("status")),
    };
    Ok(AssistanceRequest {
        reference: get_s(item, "reference")?.to_owned(),
        account: parsed(item, "account", AccountSubject::parse)?,
        certificate_number: parsed(item, "certificate_number", CertificateNumber::parse)?,
        preferred_time: parsed(item, "preferred_time", |p| PreferredTime::parse(p).ok_or(()))?,
        language: parsed(item, "language", |l| Language::parse(l).ok_or(()))?,
        message: opt_s(item, "message"),
        created_at: get_ms(item, "created_ms")?,
        status,
        reported: opt_s(item, "reported")
            .map(|kind| ReportKind::parse(&kind).ok_or_else(|| corrupt("reported")))
            .transpose()?,
    })
}

/// A "this wasn't me" link's record; its TTL is its expiry.
pub fn report_item(report: &Report) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(report_pk(&report.token_hash))),
        ("sk".into(), s(REPORT_SK)),
        ("kind".into(), s(report.kind.as_str())),
        ("certificate_number".into(), s(report.certificate_number.as_str())),
        ("account".into(), s(report.account.as_str())),
        ("occurred_ms".into(), ms(report.occurred_at)),
        ("report_expires_ms".into(), ms(report.expires_at)),
        (TTL_ATTRIBUTE.into(), ttl(report.expires_at)),
    ]);
    if let Some((at, reference)) = &report.used {
        item.insert("used_ms".into(), ms(*at));
        item.insert("used_reference".into(), s(reference));
    }
    item
}

pub fn report_from_item(item: &Item) -> StoreResult<Report> {
    let used = match opt_s(item, "used_reference") {
        None => None,
        Some(reference) => Some((get_ms(item, "used_ms")?, reference)),
    };
    Ok(Report {
        token_hash: parsed(item, "pk", |pk| pk.strip_prefix("REPORT#").map(str::to_owned).ok_or(()))?,
        kind: parsed(item, "kind", |k| ReportKind::parse(k).ok_or(()))?,
        certificate_number: parsed(item, "certificate_number", CertificateNumber::parse)?,
        account: parsed(item, "account", AccountSubject::parse)?,
        occurred_at: get_ms(item, "occurred_ms")?,
        expires_at: get_ms(item, "report_expires_ms")?,
        used,
    })
}

const PURPOSE_CODE: &str = "security_code";
const PURPOSE_FILE_ADDRESS: &str = "notice_to_file_address";
const PURPOSE_OLD_ADDRESS: &str = "notice_to_old_address";

/// A message sent (no address, no content), kept [`MESSAGE_RETENTION`] to match SES's events.
pub fn message_item(message: &SentMessage) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(message_pk(&message.message_id))),
        ("sk".into(), s(MESSAGE_SK)),
        ("message_id".into(), s(&message.message_id)),
        ("certificate_number".into(), s(message.certificate_number.as_str())),
        ("sent_ms".into(), ms(message.sent_at)),
        ("delivery".into(), s(message.delivery.as_str())),
        (TTL_ATTRIBUTE.into(), ttl(message.sent_at + MESSAGE_RETENTION)),
    ]);
    let purpose = match &message.purpose {
        MessagePurpose::SecurityCode { account, session_id, code_id } => {
            item.insert("account".into(), s(account.as_str()));
            item.insert("session_id".into(), s(session_id));
            item.insert("code_id".into(), s(code_id));
            PURPOSE_CODE
        }
        MessagePurpose::NoticeToFileAddress => PURPOSE_FILE_ADDRESS,
        MessagePurpose::NoticeToOldAddress => PURPOSE_OLD_ADDRESS,
    };
    item.insert("purpose".into(), s(purpose));
    if let Some(at) = message.file_email_changed_at {
        item.insert("file_email_changed_ms".into(), ms(at));
    }
    item
}

pub fn message_from_item(item: &Item) -> StoreResult<SentMessage> {
    let purpose = match get_s(item, "purpose")? {
        PURPOSE_CODE => MessagePurpose::SecurityCode {
            account: parsed(item, "account", AccountSubject::parse)?,
            session_id: get_s(item, "session_id")?.to_owned(),
            code_id: get_s(item, "code_id")?.to_owned(),
        },
        PURPOSE_FILE_ADDRESS => MessagePurpose::NoticeToFileAddress,
        PURPOSE_OLD_ADDRESS => MessagePurpose::NoticeToOldAddress,
        _ => return Err(corrupt("purpose")),
    };
    Ok(SentMessage {
        message_id: get_s(item, "message_id")?.to_owned(),
        certificate_number: parsed(item, "certificate_number", CertificateNumber::parse)?,
        purpose,
        file_email_changed_at: opt_ms(item, "file_email_changed_ms")?,
        sent_at: get_ms(item, "sent_ms")?,
        delivery: parsed(item, "delivery", |d| Delivery::parse(d).ok_or(()))?,
    })
}

/// The states a message (or a code) may be in for `delivery` to replace it: those it comes
/// after ([`Delivery::after`] never takes a state back). Empty for `Sent`.
pub fn states_before(delivery: Delivery) -> Vec<Delivery> {
    [Delivery::Sent, Delivery::Delivered, Delivery::Bounced, Delivery::Complained]
        .into_iter()
        .filter(|before| before.after(delivery) == delivery && *before != delivery)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_state_replaces_only_those_it_comes_after() {
        use Delivery::*;
        assert_eq!(states_before(Sent), []);
        assert_eq!(states_before(Delivered), [Sent]);
        assert_eq!(states_before(Bounced), [Sent, Delivered]);
        assert_eq!(states_before(Complained), [Sent, Delivered]);
    }

    #[test]
    fn reported_requests_sort_first_then_oldest() {
        let (old, new) = (datetime!(2001-09-09 01:46:39 UTC), datetime!(2026-11-29 12:00:00 UTC));
        let mut keys = [
            queue_sort_key(false, old, "A"),
            queue_sort_key(true, new, "B"),
            queue_sort_key(false, new, "C"),
            queue_sort_key(true, old, "D"),
        ];
        keys.sort();
        let references: Vec<&str> = keys.iter().map(|k| k.rsplit('#').next().unwrap()).collect();
        assert_eq!(references, ["D", "B", "A", "C"]);
        assert_eq!(queue_sort_key(true, new, "B"), "0#1795953600000#B");
    }
}
