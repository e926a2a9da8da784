//! The fault matrix (issue 9, item 1): for every route, every store or mailer call it makes on
//! a walk, and every kind of fault (`fault_layer::Fault`: the call fails, stalls before reaching
//! the store or SES, or takes effect and stalls on its answer), the holder or employee gets a
//! 503 problem (the exact body of `service_unavailable`, no internals) and nothing is half-done;
//! or — where the failed call is best-effort by design — the walk's own answer with the walk's
//! result, less exactly what that call would have done. Once on the memory store and outbox,
//! once on DynamoDB Local and moto.
//!
//! Each scenario first walks its route without a fault on a file of its own, recording the calls
//! (the table below must match them: a new call fails this test until its row says what a fault
//! there must do). Then each cell takes a fresh file and account, does the same setup, fails one
//! call, and compares what stands afterwards — session, link, the file's owner and email, the six
//! 24 h counters, the certificate's last code send, assistance requests, the audit trail, the
//! mail that went out — with either the state before (nothing done) or the walk's result.
//!
//! The cases where something stands after a failure are each written down with why (`Why`):
//! counts kept on the strict side, best-effort writes after a commit, and commits whose answer
//! was lost (the route answers 503; a retry shows the result).

use crate::common::{self, TestApp};
use crate::fault_layer;

use certificate_recovery::clock::{Clock, ManualClock};
use certificate_recovery::domain::*;
use certificate_recovery::http::problem::{ErrorCode, Problem};
use certificate_recovery::store::{Counter, Store};
use common::Backend;
use fault_layer::{Fault, Plan};
use local_api::{LocalApi, Options};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// The matrix: one scenario per walk of a route.

/// What a fault at one call leaves: the answer, and the state to compare with.
#[derive(Clone, Copy)]
struct Expect {
    answer: Answer,
    state: Base,
    adjust: Option<fn(&mut Facts)>,
    why: Why,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    /// 503 `service_unavailable`.
    Unavailable,
    /// The walk's own answer.
    AsWalked,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Base {
    /// The state before the request: nothing done.
    Before,
    /// The walk's result.
    Walked,
}

/// Why something stands after a failure (the written-down cases).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Why {
    /// Nothing stands.
    Nothing,
    /// The code's mail was refused: the send is taken back and the failure audited.
    MailRefused,
    /// Reads, or a failure nothing depended on.
    AllDone,
    /// A count that went through with its answer lost stays counted: the library never learned
    /// of it and cannot give it back. Limits only get stricter, never looser.
    LostCountStays,
    /// A refused guess whose audit event cannot be written stays counted: the comparison was
    /// made; the 503 tells the guesser nothing.
    RefusedGuessStaysCounted,
    /// Giving a count back after success is best-effort: a count not given back only makes a
    /// limit stricter until its window ends.
    GiveBackIsBestEffort,
    /// The audit event written after a mail went out is best-effort: the answer is the mail's.
    EventAfterMailIsBestEffort,
    /// A notice after a committed link or email change is best-effort; its failure is audited.
    NoticeIsBestEffort,
    /// SES took the code's mail but its answer was lost: the send is taken back like any failed
    /// send (the code that may arrive is dead; a retry sends a new one).
    MailAnswerLost,
    /// The route's one write went through and its answer was lost: 503, and the result stands
    /// whole (a retry shows it: the same session, request or view record).
    CommittedAnswerLost,
    /// An employee's opening of a file's trail is recorded before the read (README: "every page
    /// counts"): it stays on record when the read then fails.
    OpeningIsRecordedFirst,
}

const NOTHING: Expect = Expect { answer: Answer::Unavailable, state: Base::Before, adjust: None, why: Why::Nothing };
const SUCCESS: Expect = Expect { answer: Answer::AsWalked, state: Base::Walked, adjust: None, why: Why::AllDone };

const fn nothing_but(adjust: fn(&mut Facts), why: Why) -> Expect {
    Expect { answer: Answer::Unavailable, state: Base::Before, adjust: Some(adjust), why }
}
const fn walked_but_503(why: Why) -> Expect {
    Expect { answer: Answer::Unavailable, state: Base::Walked, adjust: None, why }
}
const fn walked_less_but_503(adjust: fn(&mut Facts), why: Why) -> Expect {
    Expect { answer: Answer::Unavailable, state: Base::Walked, adjust: Some(adjust), why }
}
const fn success_but(adjust: fn(&mut Facts), why: Why) -> Expect {
    Expect { answer: Answer::AsWalked, state: Base::Walked, adjust: Some(adjust), why }
}

/// One call of a walk: what a fault there must leave when the call did not reach the store or
/// SES (fail, stall before) and when it did (stall after).
struct Step {
    call: &'static str,
    not_reached: Expect,
    reached: Expect,
    /// A plain read: whether it reached the store or not, the route sees a failed read.
    read: bool,
}

const fn step(call: &'static str, not_reached: Expect, reached: Expect) -> Step {
    Step { call, not_reached, reached, read: false }
}

/// A read: a fault there leaves nothing, whatever its kind.
const fn read(call: &'static str) -> Step {
    Step { call, not_reached: NOTHING, reached: NOTHING, read: true }
}

#[derive(Clone, Copy, Debug)]
enum Setup {
    Lookup,
    SendCode,
    /// Five wrong dates of birth: the account's lookups are locked.
    WrongLookups,
    Assistance,
    LinkByInvoice,
}

#[derive(Clone, Copy, Debug)]
enum Request {
    Lookup { right: bool },
    SendCode,
    Verify { right: bool },
    Invoice { right: bool },
    Assistance,
    State,
    MyCertificate,
    Queue,
    StaffView,
    Resolve,
    AuditTrail,
    ReportDescribe,
    ReportConfirm,
}

impl Request {
    /// The route, as `http::ROUTES` names it.
    fn route(self) -> (&'static str, &'static str) {
        match self {
            Self::Lookup { .. } => ("POST", "/recovery/lookup"),
            Self::SendCode => ("POST", "/recovery/code"),
            Self::Verify { .. } => ("POST", "/recovery/verify"),
            Self::Invoice { .. } => ("POST", "/recovery/invoice"),
            Self::Assistance => ("POST", "/recovery/assistance"),
            Self::State => ("GET", "/recovery"),
            Self::MyCertificate => ("GET", "/me/certificate"),
            Self::Queue => ("GET", "/agent/assistance-requests"),
            Self::StaffView => ("GET", "/agent/assistance-requests/{reference}"),
            Self::Resolve => ("POST", "/agent/assistance-requests/{reference}/resolve"),
            Self::AuditTrail => ("GET", "/agent/certificates/{number}/audit"),
            Self::ReportDescribe => ("GET", "/report/{token}"),
            Self::ReportConfirm => ("POST", "/report/{token}"),
        }
    }
}

struct Scenario {
    setup: &'static [Setup],
    request: Request,
    /// The walk's answer: status, and `state` (or problem `code`; empty when neither).
    answer: (u16, &'static str),
    steps: &'static [Step],
}

// Adjustments: what a failed best-effort call did not do, or what a lost answer left.
fn lookup_counted(f: &mut Facts) {
    f.count("lookup_failures_of_account", 1);
    f.count("lookup_failures_of_certificate", 1);
}
fn code_try_counted(f: &mut Facts) {
    f.session.as_mut().expect("a session").code_attempts += 1;
    f.count("wrong_codes_of_certificate", 1);
}
fn wrong_code_kept(f: &mut Facts) {
    f.count("wrong_codes_of_certificate", 1);
}
fn invoice_try_counted(f: &mut Facts) {
    f.session.as_mut().expect("a session").invoice_attempts += 1;
    f.count("refused_invoices_of_account", 1);
    f.count("refused_invoices_of_certificate", 1);
}
fn invoice_counts_kept(f: &mut Facts) {
    f.count("refused_invoices_of_account", 1);
    f.count("refused_invoices_of_certificate", 1);
}
fn mail_failed_recorded(f: &mut Facts) {
    f.add_event("code_send/mail_failed");
}
fn mail_failed_but_delivered(f: &mut Facts) {
    f.add_event("code_send/mail_failed");
    f.mail.push("original:code".into());
    f.mail.sort();
}
fn no_sent_event(f: &mut Facts) {
    f.remove_event("code_send/sent");
}
fn no_lookup_event(f: &mut Facts) {
    f.remove_event("lookup/no_match");
}
fn no_wrong_code_event(f: &mut Facts) {
    f.remove_event("code_verify/wrong_code");
}
fn no_invoice_event(f: &mut Facts) {
    f.remove_event("invoice_try/invoice_not_accepted");
}
fn link_notice_not_sent(f: &mut Facts) {
    f.replace_event("link_notice/sent", "link_notice/failed");
    f.remove_mail("original:link_notice");
}
fn link_notice_answer_lost(f: &mut Facts) {
    f.replace_event("link_notice/sent", "link_notice/failed");
}
fn no_link_notice_event(f: &mut Facts) {
    f.remove_event("link_notice/sent");
}
fn new_address_not_told(f: &mut Facts) {
    f.replace_event("email_change/new_address_sent", "email_change/new_address_failed");
    f.remove_mail("new:email_changed_new");
}
fn new_address_answer_lost(f: &mut Facts) {
    f.replace_event("email_change/new_address_sent", "email_change/new_address_failed");
}
fn no_new_address_event(f: &mut Facts) {
    f.remove_event("email_change/new_address_sent");
}
fn old_address_not_told(f: &mut Facts) {
    f.replace_event("email_change/old_address_sent", "email_change/old_address_failed");
    f.remove_mail("original:email_changed_old");
}
fn old_address_answer_lost(f: &mut Facts) {
    f.replace_event("email_change/old_address_sent", "email_change/old_address_failed");
}
fn no_old_address_event(f: &mut Facts) {
    f.remove_event("email_change/old_address_sent");
}

const LOOKUP_MATCHED: Scenario = Scenario {
    setup: &[],
    request: Request::Lookup { right: true },
    answer: (200, "matched"),
    steps: &[
        step("store.reserve_lookup", NOTHING, nothing_but(lookup_counted, Why::LostCountStays)),
        read("store.certificate"),
        step("store.release_lookup", success_but(lookup_counted, Why::GiveBackIsBestEffort), SUCCESS),
        step("store.open_session", NOTHING, walked_but_503(Why::CommittedAnswerLost)),
    ],
};

const LOOKUP_NO_MATCH: Scenario = Scenario {
    setup: &[],
    request: Request::Lookup { right: false },
    answer: (422, "no_match"),
    steps: &[
        step("store.reserve_lookup", NOTHING, nothing_but(lookup_counted, Why::LostCountStays)),
        read("store.certificate"),
        step(
            "store.append_audit",
            walked_less_but_503(no_lookup_event, Why::RefusedGuessStaysCounted),
            walked_but_503(Why::CommittedAnswerLost),
        ),
    ],
};

const LOOKUP_LOCKED: Scenario = Scenario {
    setup: &[Setup::WrongLookups],
    request: Request::Lookup { right: true },
    answer: (429, "locked"),
    steps: &[
        // A refused reservation counts nothing, answer or not.
        step("store.reserve_lookup", NOTHING, NOTHING),
        // Read alongside, not needed once locked: the answer stands.
        step("store.certificate", SUCCESS, SUCCESS),
        step("store.append_audit_once", NOTHING, walked_but_503(Why::CommittedAnswerLost)),
    ],
};

const SEND_CODE: Scenario = Scenario {
    setup: &[Setup::Lookup],
    request: Request::SendCode,
    answer: (200, "code_sent"),
    steps: &[
        read("store.session_context"),
        // Its answer lost, the send is taken back: no mail went out.
        step("store.record_code_sent", NOTHING, NOTHING),
        step(
            "mailer.send",
            nothing_but(mail_failed_recorded, Why::MailRefused),
            nothing_but(mail_failed_but_delivered, Why::MailAnswerLost),
        ),
        // The message (for SES's delivery events) and the send's audit event, in one write.
        step("store.record_message", success_but(no_sent_event, Why::EventAfterMailIsBestEffort), SUCCESS),
    ],
};

const VERIFY_RIGHT: Scenario = Scenario {
    setup: &[Setup::Lookup, Setup::SendCode],
    request: Request::Verify { right: true },
    answer: (200, "linked"),
    steps: &[
        read("store.session_context"),
        step("store.reserve_code_try", NOTHING, nothing_but(code_try_counted, Why::LostCountStays)),
        // Its answer lost, the link is read back: it stands, and the notice goes.
        step("store.link", NOTHING, SUCCESS),
        step(
            "mailer.send",
            success_but(link_notice_not_sent, Why::NoticeIsBestEffort),
            success_but(link_notice_answer_lost, Why::NoticeIsBestEffort),
        ),
        step("store.record_message", success_but(no_link_notice_event, Why::NoticeIsBestEffort), SUCCESS),
        step("store.release_code_try", success_but(wrong_code_kept, Why::GiveBackIsBestEffort), SUCCESS),
    ],
};

const VERIFY_WRONG: Scenario = Scenario {
    setup: &[Setup::Lookup, Setup::SendCode],
    request: Request::Verify { right: false },
    answer: (422, "wrong_code"),
    steps: &[
        read("store.session_context"),
        step("store.reserve_code_try", NOTHING, walked_less_but_503(no_wrong_code_event, Why::LostCountStays)),
        step(
            "store.append_audit",
            walked_less_but_503(no_wrong_code_event, Why::RefusedGuessStaysCounted),
            walked_but_503(Why::CommittedAnswerLost),
        ),
    ],
};

const INVOICE_ACCEPTED: Scenario = Scenario {
    setup: &[Setup::Lookup],
    request: Request::Invoice { right: true },
    answer: (200, "linked"),
    steps: &[
        read("store.session_context"),
        step("store.reserve_invoice_try", NOTHING, nothing_but(invoice_try_counted, Why::LostCountStays)),
        read("store.invoice"),
        step("store.link", NOTHING, SUCCESS),
        step(
            "mailer.send",
            success_but(link_notice_not_sent, Why::NoticeIsBestEffort),
            success_but(link_notice_answer_lost, Why::NoticeIsBestEffort),
        ),
        step("store.record_message", success_but(no_link_notice_event, Why::NoticeIsBestEffort), SUCCESS),
        step("store.release_invoice_try", success_but(invoice_counts_kept, Why::GiveBackIsBestEffort), SUCCESS),
    ],
};

const INVOICE_REFUSED: Scenario = Scenario {
    setup: &[Setup::Lookup],
    request: Request::Invoice { right: false },
    answer: (422, "invoice_not_accepted"),
    steps: &[
        read("store.session_context"),
        step("store.reserve_invoice_try", NOTHING, walked_less_but_503(no_invoice_event, Why::LostCountStays)),
        read("store.invoice"),
        step(
            "store.append_audit",
            walked_less_but_503(no_invoice_event, Why::RefusedGuessStaysCounted),
            walked_but_503(Why::CommittedAnswerLost),
        ),
    ],
};

const ASSISTANCE: Scenario = Scenario {
    setup: &[Setup::Lookup],
    request: Request::Assistance,
    answer: (201, "assistance_requested"),
    steps: &[
        read("store.session_context"),
        step("store.open_assistance_request", NOTHING, walked_but_503(Why::CommittedAnswerLost)),
    ],
};

const STATE: Scenario = Scenario {
    setup: &[Setup::Lookup, Setup::SendCode],
    request: Request::State,
    answer: (200, "code_sent"),
    steps: &[read("store.account_view"), read("store.certificate")],
};

const MY_CERTIFICATE: Scenario = Scenario {
    setup: &[Setup::Lookup, Setup::LinkByInvoice],
    request: Request::MyCertificate,
    answer: (200, ""),
    steps: &[read("store.account_view"), read("store.certificate")],
};

const QUEUE: Scenario = Scenario {
    setup: &[Setup::Lookup, Setup::Assistance],
    request: Request::Queue,
    answer: (200, ""),
    steps: &[read("store.open_assistance_requests"), read("store.certificates")],
};

const REQUEST_VIEW: Scenario = Scenario {
    setup: &[Setup::Lookup, Setup::Assistance],
    request: Request::StaffView,
    answer: (200, ""),
    steps: &[
        read("store.assistance_request"),
        read("store.certificate"),
        step("store.append_audit", NOTHING, walked_but_503(Why::CommittedAnswerLost)),
    ],
};

const RESOLVE: Scenario = Scenario {
    setup: &[Setup::Lookup, Setup::Assistance],
    request: Request::Resolve,
    answer: (200, ""),
    steps: &[
        read("store.assistance_request"),
        read("store.certificate"),
        // Its answer lost, the request is read back: closed by this employee now, so the
        // notices go.
        step("store.close_assistance_request", NOTHING, SUCCESS),
        step(
            "mailer.send",
            success_but(new_address_not_told, Why::NoticeIsBestEffort),
            success_but(new_address_answer_lost, Why::NoticeIsBestEffort),
        ),
        step("store.record_message", success_but(no_new_address_event, Why::NoticeIsBestEffort), SUCCESS),
        step(
            "mailer.send",
            success_but(old_address_not_told, Why::NoticeIsBestEffort),
            success_but(old_address_answer_lost, Why::NoticeIsBestEffort),
        ),
        step("store.record_message", success_but(no_old_address_event, Why::NoticeIsBestEffort), SUCCESS),
    ],
};

const AUDIT_TRAIL: Scenario = Scenario {
    setup: &[Setup::Lookup],
    request: Request::AuditTrail,
    answer: (200, ""),
    steps: &[
        step("store.append_audit", NOTHING, walked_but_503(Why::CommittedAnswerLost)),
        step(
            "store.audit_trail",
            walked_but_503(Why::OpeningIsRecordedFirst),
            walked_but_503(Why::OpeningIsRecordedFirst),
        ),
    ],
};

const REPORT_DESCRIBE: Scenario = Scenario {
    setup: &[Setup::Lookup, Setup::LinkByInvoice],
    request: Request::ReportDescribe,
    answer: (200, ""),
    steps: &[read("store.report")],
};

const REPORT_CONFIRM: Scenario = Scenario {
    setup: &[Setup::Lookup, Setup::LinkByInvoice],
    request: Request::ReportConfirm,
    answer: (200, "reported"),
    steps: &[
        read("store.report"),
        read("store.certificate"),
        // Its answer lost, the report is read back: used by this very request, so it stands.
        step("store.file_report", NOTHING, SUCCESS),
    ],
};

const SCENARIOS: [&Scenario; 17] = [
    &LOOKUP_MATCHED,
    &LOOKUP_NO_MATCH,
    &LOOKUP_LOCKED,
    &SEND_CODE,
    &VERIFY_RIGHT,
    &VERIFY_WRONG,
    &INVOICE_ACCEPTED,
    &INVOICE_REFUSED,
    &ASSISTANCE,
    &STATE,
    &MY_CERTIFICATE,
    &QUEUE,
    &REQUEST_VIEW,
    &RESOLVE,
    &AUDIT_TRAIL,
    &REPORT_DESCRIBE,
    &REPORT_CONFIRM,
];

#[test]
fn every_route_is_in_the_matrix() {
    let covered: std::collections::BTreeSet<_> = SCENARIOS.iter().map(|s| s.request.route()).collect();
    let routes: std::collections::BTreeSet<_> =
        certificate_recovery::http::ROUTES.iter().map(|(method, path, _)| (*method, *path)).collect();
    assert_eq!(covered, routes, "a route without a scenario in the fault matrix (or one that is gone)");
    // The size the closing note gives: 17 walks over 13 routes, 58 call positions; 3 kinds of
    // fault for each on the memory store, fewer on the emulators (`faults_on`).
    let positions: usize = SCENARIOS.iter().map(|s| s.steps.len()).sum();
    let cells =
        |backend| -> usize { SCENARIOS.iter().flat_map(|s| s.steps).map(|step| faults_on(backend, step).len()).sum() };
    assert_eq!((SCENARIOS.len(), positions), (17, 58));
    assert_eq!((cells(Backend::Memory), cells(Backend::Emulators)), (174, 93));
}

macro_rules! matrix {
    ($($name:ident: $scenario:expr),* $(,)?) => { $(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() { run(Backend::Memory, &$scenario).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb_local_and_moto() { run(Backend::Emulators, &$scenario).await }
        }
    )* };
}

matrix!(
    lookup_matched: LOOKUP_MATCHED,
    lookup_no_match: LOOKUP_NO_MATCH,
    lookup_locked: LOOKUP_LOCKED,
    send_code: SEND_CODE,
    verify_right_code: VERIFY_RIGHT,
    verify_wrong_code: VERIFY_WRONG,
    invoice_accepted: INVOICE_ACCEPTED,
    invoice_refused: INVOICE_REFUSED,
    assistance_request: ASSISTANCE,
    recovery_state: STATE,
    my_certificate: MY_CERTIFICATE,
    staff_queue: QUEUE,
    staff_request_view: REQUEST_VIEW,
    staff_resolve_with_new_email: RESOLVE,
    staff_audit_trail: AUDIT_TRAIL,
    report_describe: REPORT_DESCRIBE,
    report_confirm: REPORT_CONFIRM,
);

// ---------------------------------------------------------------------------------------------
// Running a scenario.

/// The kinds of fault a call is tried with on a backend: every kind on the memory store and
/// outbox. The emulators, where each cell costs real calls, are spared what no backend changes:
/// a stall before the call (the layer's alone: the call never reaches the store or SES), and a
/// read that reached the store before its answer was lost (nothing new in the store: the route
/// sees a failed read, as with `Fail`).
fn faults_on(backend: Backend, step: &Step) -> &'static [Fault] {
    match backend {
        Backend::Memory => &Fault::ALL,
        Backend::Emulators if step.read => &[Fault::Fail],
        Backend::Emulators => &[Fault::Fail, Fault::StallAfter],
    }
}

async fn run(backend: Backend, scenario: &Scenario) {
    let cells = 1 + scenario.steps.iter().map(|step| faults_on(backend, step).len()).sum::<usize>();
    let Some(app) = FaultApp::spawn(backend, cells).await else { return };
    let expected_calls: Vec<&str> = scenario.steps.iter().map(|s| s.call).collect();

    // The walk, without a fault.
    let mut walk = app.cell(0);
    app.setup(&mut walk, scenario.setup).await;
    let before = app.raw(&walk).await;
    app.plan.arm(None);
    let walked = app.send(&walk, scenario.request).await;
    let armed = app.plan.disarm();
    let (status, state) = scenario.answer;
    assert_eq!(walked.status, status, "the walk of {:?}: {}", scenario.request, walked.body);
    assert_eq!(walked.state_or_code(), state, "the walk of {:?}: {}", scenario.request, walked.body);
    assert_eq!(armed.calls, expected_calls, "the calls of {:?} changed: update its steps", scenario.request);
    let none = Facts::of(&walk, &before.view.session, &before);
    let done = Facts::of(&walk, &before.view.session, &app.raw(&walk).await);

    let mut index = 1;
    for (position, step) in scenario.steps.iter().enumerate() {
        let faults = faults_on(backend, step);
        for &fault in faults {
            let mut cell = app.cell(index);
            let first = index == 1;
            index += 1;
            app.setup(&mut cell, scenario.setup).await;
            let context = format!("{:?}, call {} ({}), {fault:?}", scenario.request, position + 1, step.call);
            // The session before the request (what `same` and `before` compare with); the whole
            // state once, to hold the cells' setup to the walk's.
            let before = if first {
                let before = app.raw(&cell).await;
                assert_eq!(Facts::of(&cell, &before.view.session, &before), none, "{context}: the setup differs");
                before.view.session
            } else {
                app.api.app.store.account_view(&cell.account, app.clock.now()).await.unwrap().session
            };

            app.plan.arm(Some((position + 1, fault)));
            let answer = app.send(&cell, scenario.request).await;
            let armed = app.plan.disarm();
            assert_eq!(armed.hit.as_deref(), Some(step.call), "{context}: the fault hit {:?}", armed.calls);
            assert_eq!(armed.calls[..=position], expected_calls[..=position], "{context}");

            let expect = if fault.reaches() { step.reached } else { step.not_reached };
            match expect.answer {
                Answer::Unavailable => assert_unavailable(&answer, &context),
                Answer::AsWalked => {
                    assert_eq!(answer.status, walked.status, "{context}: {}", answer.body);
                    assert_eq!(answer.state_or_code(), walked.state_or_code(), "{context}: {}", answer.body);
                }
            }
            let mut expected = match expect.state {
                Base::Before => none.clone(),
                Base::Walked => done.clone(),
            };
            if let Some(adjust) = expect.adjust {
                adjust(&mut expected);
            }
            let after = Facts::of(&cell, &before, &app.raw(&cell).await);
            assert_eq!(after, expected, "{context}: what stands after the fault ({:?})", expect.why);
        }
    }
    app.api.stop().await;
}

/// The one answer to a failed dependency: 503 `service_unavailable`, nothing else in the body.
#[track_caller]
fn assert_unavailable(answer: &Reply, context: &str) {
    assert_eq!(answer.status, 503, "{context}: {}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json", "{context}");
    let expected = Problem::new(ErrorCode::ServiceUnavailable).body(Language::Fr);
    assert_eq!(answer.body, expected, "{context}: the body holds only the problem");
    assert!(!answer.text.contains(fault_layer::INJECTED) && !answer.text.contains("timed out"), "{context}");
}

// ---------------------------------------------------------------------------------------------
// The local API with the fault layer, on files of its own.

struct FaultApp {
    api: LocalApi,
    plan: Arc<Plan>,
    clock: Arc<ManualClock>,
    client: reqwest::Client,
    tag: String,
    staff: String,
    files: usize,
}

/// One cell's holder, file and (after setup) session details.
#[derive(Debug, Clone)]
struct Cell {
    certificate: CertificateNumber,
    date_of_birth: String,
    account: AccountSubject,
    token: String,
    email: String,
    new_email: String,
    invoice: String,
    /// Another file's invoice.
    other_invoice: String,
    reference: Option<String>,
    code: Option<String>,
    /// The "this wasn't me" token of the link notice.
    report_token: Option<String>,
}

struct Reply {
    status: u16,
    content_type: String,
    text: String,
    body: Value,
}

impl Reply {
    fn state_or_code(&self) -> &str {
        self.body["state"].as_str().or_else(|| self.body["code"].as_str()).unwrap_or_default()
    }
}

impl FaultApp {
    async fn spawn(backend: Backend, files: usize) -> Option<Self> {
        let start = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let plan = Plan::new();
        let TestApp { api, tag, .. } = TestApp::builder(backend).clock(clock.clone()).faults(&plan).spawn().await?;
        let staff = api.staff_token("agent-faults", &["agent"]);
        let app = Self { api, plan, clock, client: reqwest::Client::new(), tag, staff, files };
        let today = start.date();
        let mut seeding = tokio::task::JoinSet::new();
        for i in 0..files {
            let (cell, store) = (app.cell(i), app.api.app.store.clone());
            seeding.spawn(async move {
                let file = CertificateFile {
                    number: cell.certificate.clone(),
                    holder_name: format!("Titulaire {i}"),
                    date_of_birth: DateOfBirth::parse(&cell.date_of_birth, today).unwrap(),
                    email: Some(EmailAddress::parse(&cell.email).unwrap()),
                    phone: "514-555-0199".into(),
                    language: Language::Fr,
                    status: CertificateStatus::Active,
                    expires_on: today + time::Duration::days(365),
                    linked_account: None,
                    email_changed_at: None,
                    protection: Default::default(),
                };
                store.upsert_certificate(&file, certificate_recovery::store::EmployeeEmail::Keep).await.unwrap();
                let invoice = Invoice {
                    number: InvoiceNumber::parse(&cell.invoice).unwrap(),
                    certificate_number: cell.certificate.clone(),
                    issued_on: today - time::Duration::days(30),
                    amount_cents: 24500,
                };
                store.upsert_invoice(&invoice).await.unwrap();
            });
        }
        while let Some(seeded) = seeding.join_next().await {
            seeded.unwrap();
        }
        Some(app)
    }

    fn cell(&self, index: usize) -> Cell {
        let account = format!("holder-{index}");
        Cell {
            certificate: CertificateNumber::parse(&format!("FM-{index:04}")).unwrap(),
            date_of_birth: format!("1980-01-{:02}", 1 + index % 28),
            token: self.api.citizen_token(&account),
            account: AccountSubject::parse(&account).unwrap(),
            email: format!("holder{index}@{}.faults.test", self.tag),
            new_email: format!("new{index}@{}.faults.test", self.tag),
            invoice: format!("FI-{index:04}"),
            other_invoice: format!("FI-{:04}", (index + 1) % self.files),
            reference: None,
            code: None,
            report_token: None,
        }
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method.parse().unwrap(), self.api.url(path));
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("an answer (a panic would close the connection)");
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, content_type, text, body }
    }

    async fn send(&self, cell: &Cell, request: Request) -> Reply {
        let t = &cell.token;
        match request {
            Request::Lookup { right } => {
                let date = if right { cell.date_of_birth.clone() } else { "1970-06-30".to_owned() };
                let body = json!({"certificateNumber": cell.certificate.as_str(), "dateOfBirth": date});
                self.call("POST", "/recovery/lookup", t, Some(body)).await
            }
            Request::SendCode => self.call("POST", "/recovery/code", t, Some(json!({}))).await,
            Request::Verify { right } => {
                let code = cell.code.clone().expect("a code was sent");
                let code = if right {
                    code
                } else if code == "000000" {
                    "000001".into()
                } else {
                    "000000".into()
                };
                self.call("POST", "/recovery/verify", t, Some(json!({"code": code}))).await
            }
            Request::Invoice { right } => {
                let number = if right { &cell.invoice } else { &cell.other_invoice };
                self.call("POST", "/recovery/invoice", t, Some(json!({"invoiceNumber": number}))).await
            }
            Request::Assistance => {
                let body = json!({"preferredTime": "any", "language": "fr"});
                self.call("POST", "/recovery/assistance", t, Some(body)).await
            }
            Request::State => self.call("GET", "/recovery", t, None).await,
            Request::MyCertificate => self.call("GET", "/me/certificate", t, None).await,
            Request::Queue => self.call("GET", "/agent/assistance-requests?status=open", &self.staff, None).await,
            Request::StaffView => {
                let path = format!("/agent/assistance-requests/{}", cell.reference.as_ref().unwrap());
                self.call("GET", &path, &self.staff, None).await
            }
            Request::Resolve => {
                let path = format!("/agent/assistance-requests/{}/resolve", cell.reference.as_ref().unwrap());
                let body = json!({"outcome": "email_updated", "newEmail": cell.new_email});
                self.call("POST", &path, &self.staff, Some(body)).await
            }
            Request::AuditTrail => {
                let path = format!("/agent/certificates/{}/audit", cell.certificate);
                self.call("GET", &path, &self.staff, None).await
            }
            Request::ReportDescribe => {
                let path = format!("/report/{}", cell.report_token.as_ref().unwrap());
                self.call("GET", &path, "", None).await
            }
            Request::ReportConfirm => {
                let path = format!("/report/{}", cell.report_token.as_ref().unwrap());
                self.call("POST", &path, "", Some(json!({}))).await
            }
        }
    }

    async fn setup(&self, cell: &mut Cell, steps: &[Setup]) {
        for step in steps {
            match step {
                Setup::Lookup => {
                    let answer = self.send(cell, Request::Lookup { right: true }).await;
                    assert_eq!(answer.status, 200, "setup lookup: {}", answer.body);
                }
                Setup::WrongLookups => {
                    for _ in 0..5 {
                        let answer = self.send(cell, Request::Lookup { right: false }).await;
                        assert_eq!(answer.state_or_code(), "no_match", "setup: {}", answer.body);
                    }
                }
                Setup::SendCode => {
                    let answer = self.send(cell, Request::SendCode).await;
                    assert_eq!(answer.status, 200, "setup send: {}", answer.body);
                    let mail = self.plan.delivered().into_iter().rev().find(|m| m.to == cell.email).expect("the code");
                    cell.code = Some(common::code_in(&mail.text));
                }
                Setup::Assistance => {
                    let answer = self.send(cell, Request::Assistance).await;
                    assert_eq!(answer.status, 201, "setup assistance: {}", answer.body);
                    cell.reference = Some(answer.body["reference"].as_str().unwrap().to_owned());
                }
                Setup::LinkByInvoice => {
                    let answer = self.send(cell, Request::Invoice { right: true }).await;
                    assert_eq!(answer.state_or_code(), "linked", "setup link: {}", answer.body);
                    let notice =
                        self.plan.delivered().into_iter().rev().find(|m| m.to == cell.email).expect("the notice");
                    cell.report_token = Some(common::report_token(&notice.text));
                }
            }
        }
    }

    /// What the store holds for the cell, and the mail its addresses got.
    async fn raw(&self, cell: &Cell) -> Raw {
        let store: &dyn Store = self.api.app.store.as_ref();
        let now = self.clock.now();
        let counter = |counter: Counter, key: &str| {
            let key = key.to_owned();
            async move { store.counter(counter, &key, now).await.unwrap().map_or(0, |c| c.count) }
        };
        let (account, certificate) = (cell.account.as_str(), cell.certificate.as_str());
        let (view, context, file, request, audit, counts) = tokio::join!(
            store.account_view(&cell.account, now),
            store.session_context(&cell.account, now),
            store.certificate(&cell.certificate),
            async {
                match &cell.reference {
                    Some(reference) => store.assistance_request(reference).await,
                    None => Ok(None),
                }
            },
            async {
                let mut audit = Vec::new();
                let mut after = None;
                loop {
                    let (page, next) = store.audit_trail(&cell.certificate, 100, after.as_ref(), now).await.unwrap();
                    audit.extend(page.iter().map(|e| format!("{}/{}", e.action.as_str(), e.outcome)));
                    match next {
                        Some(next) => after = Some(next),
                        None => break audit,
                    }
                }
            },
            futures_join6(
                counter(Counter::LookupFailuresOfAccount, account),
                counter(Counter::LookupFailuresOfCertificate, certificate),
                counter(Counter::CodeSendsOfCertificate, certificate),
                counter(Counter::WrongCodesOfCertificate, certificate),
                counter(Counter::RefusedInvoicesOfAccount, account),
                counter(Counter::RefusedInvoicesOfCertificate, certificate),
            ),
        );
        let names = [
            "lookup_failures_of_account",
            "lookup_failures_of_certificate",
            "code_sends_of_certificate",
            "wrong_codes_of_certificate",
            "refused_invoices_of_account",
            "refused_invoices_of_certificate",
        ];
        let counters = names.into_iter().zip(counts).filter(|(_, count)| *count > 0).collect();
        let mut audit = audit;
        audit.sort();
        let mut mail: Vec<String> = self
            .plan
            .delivered()
            .iter()
            .filter_map(|m| {
                let to = if m.to == cell.email {
                    "original"
                } else if m.to == cell.new_email {
                    "new"
                } else {
                    return None;
                };
                Some(format!("{to}:{}", mail_kind(&m.subject)))
            })
            .collect();
        mail.sort();
        Raw {
            view: view.unwrap(),
            context: context.unwrap(),
            file: file.unwrap(),
            request: request.unwrap(),
            counters,
            audit,
            mail,
        }
    }
}

async fn futures_join6<T>(
    a: impl Future<Output = T>,
    b: impl Future<Output = T>,
    c: impl Future<Output = T>,
    d: impl Future<Output = T>,
    e: impl Future<Output = T>,
    f: impl Future<Output = T>,
) -> [T; 6] {
    let (a, b, c, d, e, f) = tokio::join!(a, b, c, d, e, f);
    [a, b, c, d, e, f]
}

fn mail_kind(subject: &str) -> String {
    if subject.starts_with("Votre code de sécurité") {
        "code".into()
    } else if subject.contains("associé à un compte") {
        "link_notice".into()
    } else if subject.contains("a été modifiée") {
        "email_changed_old".into()
    } else if subject.starts_with("Cette adresse est maintenant") {
        "email_changed_new".into()
    } else {
        subject.to_owned()
    }
}

struct Raw {
    view: certificate_recovery::store::AccountView,
    context: Option<certificate_recovery::store::SessionContext>,
    file: Option<CertificateFile>,
    request: Option<certificate_recovery::domain::AssistanceRequest>,
    counters: BTreeMap<&'static str, u32>,
    audit: Vec<String>,
    mail: Vec<String>,
}

/// What stands for a cell, in terms that compare across cells (no ids, no names).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Facts {
    session: Option<SessionFacts>,
    /// The account's link is to the cell's file.
    account_linked: bool,
    /// The file's owner: `none`, `caller` or `other`.
    file_owner: &'static str,
    /// The file's email: `original`, `new`, `none` or `other`.
    file_email: &'static str,
    open_assistance: bool,
    /// The status of the cell's assistance request: `open` or `closed:<outcome>`.
    request: Option<String>,
    /// Whether the certificate has a last code send (read with the session, when there is one).
    certificate_last_sent: Option<bool>,
    counters: BTreeMap<&'static str, u32>,
    /// The file's audit trail as `action/outcome`, sorted.
    audit: Vec<String>,
    /// The mail the cell's addresses got, as `original|new:<kind>`, sorted.
    mail: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionFacts {
    /// The same session as before the request.
    same: bool,
    sends: u32,
    /// `none`, `before` (the code before the request) or `new`.
    code: &'static str,
    code_attempts: u32,
    invoice_attempts: u32,
}

impl Facts {
    fn of(cell: &Cell, before: &Option<RecoverySession>, now: &Raw) -> Self {
        let session = now.view.session.as_ref().map(|s| {
            let earlier = before.as_ref();
            let earlier_code = earlier.and_then(|b| b.code.as_ref()).map(|c| c.id.as_str());
            SessionFacts {
                same: earlier.is_some_and(|b| b.id == s.id),
                sends: s.sends,
                code: match &s.code {
                    None => "none",
                    Some(c) if Some(c.id.as_str()) == earlier_code => "before",
                    Some(_) => "new",
                },
                code_attempts: s.code.as_ref().map_or(0, |c| c.attempts),
                invoice_attempts: s.invoice_attempts,
            }
        });
        let file = now.file.as_ref().expect("the cell's file");
        Self {
            session,
            account_linked: now.view.link.as_ref() == Some(&cell.certificate),
            file_owner: match &file.linked_account {
                None => "none",
                Some(owner) if *owner == cell.account => "caller",
                Some(_) => "other",
            },
            file_email: match file.email.as_ref().map(|e| e.as_str()) {
                None => "none",
                Some(e) if e == cell.email => "original",
                Some(e) if e == cell.new_email => "new",
                Some(_) => "other",
            },
            open_assistance: now.view.open_assistance.is_some(),
            request: now.request.as_ref().map(|r| match &r.status {
                certificate_recovery::domain::AssistanceStatus::Open => "open".to_owned(),
                certificate_recovery::domain::AssistanceStatus::Closed { outcome, .. } => {
                    format!("closed:{outcome}")
                }
            }),
            certificate_last_sent: now.context.as_ref().map(|c| c.last_code_sent_for_certificate.is_some()),
            counters: now.counters.clone(),
            audit: now.audit.clone(),
            mail: now.mail.clone(),
        }
    }

    fn count(&mut self, counter: &'static str, by: u32) {
        *self.counters.entry(counter).or_default() += by;
    }

    fn add_event(&mut self, event: &str) {
        self.audit.push(event.to_owned());
        self.audit.sort();
    }

    #[track_caller]
    fn remove_event(&mut self, event: &str) {
        let at = self.audit.iter().position(|e| e == event).unwrap_or_else(|| panic!("no {event} to take away"));
        self.audit.remove(at);
    }

    fn replace_event(&mut self, from: &str, to: &str) {
        self.remove_event(from);
        self.add_event(to);
    }

    #[track_caller]
    fn remove_mail(&mut self, mail: &str) {
        let at = self.mail.iter().position(|m| m == mail).unwrap_or_else(|| panic!("no {mail} to take away"));
        self.mail.remove(at);
    }
}

// ---------------------------------------------------------------------------------------------
// The stall, once for real: what the layer's scaled-down timeout stands in for.

/// DynamoDB and SES endpoints that take the connection and never answer (a listener that never
/// accepts: the kernel completes the handshake, nothing reads the request). The SDK's own
/// timeouts (`app::sdk_timeouts`: 1.5 s an attempt, 3 s an operation) give up, and the routes
/// answer the same 503 as for a refused call — with nothing half-done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_dynamodb_or_ses_answers_503_once_the_sdk_gives_up() {
    use certificate_recovery::local_aws;
    use certificate_recovery::mailer::{Mailer, ses::SesMailer};
    use certificate_recovery::store::dynamodb::DynamoStore;

    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let config = local_aws::sdk_config().await;
    let hung_store: Arc<dyn Store> = Arc::new(DynamoStore::new(local_aws::dynamodb(&config, Some(&endpoint)), "hung"));
    let hung_mailer: Arc<dyn Mailer> =
        Arc::new(SesMailer::new(local_aws::sesv2(&config, Some(&endpoint)), "no-reply@opc.local.test"));
    // Seeded on the memory store; then the routes get a DynamoDB, or an SES, that hangs.
    let mut store_hangs = Options::new(0);
    store_hangs.wrap_store = Some(Arc::new(move |_| hung_store.clone()));
    let mut mail_hangs = Options::new(0);
    mail_hangs.wrap_mailer = Some(Arc::new(move |_| hung_mailer.clone()));
    let (store_hangs, mail_hangs) = tokio::join!(LocalApi::start(store_hangs), LocalApi::start(mail_hangs));
    let (store_hangs, mail_hangs) = (store_hangs.unwrap(), mail_hangs.unwrap());
    let client = reqwest::Client::new();
    let timed = |api: &LocalApi, method: &str, path: &str, token: String, body: Option<Value>| {
        let mut request = client.request(method.parse().unwrap(), api.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        async move {
            let start = std::time::Instant::now();
            let response = request.send().await.expect("an answer");
            let status = response.status().as_u16();
            let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
            let text = response.text().await.unwrap();
            let body = serde_json::from_str(&text).unwrap_or(Value::Null);
            (Reply { status, content_type, text, body }, start.elapsed())
        }
    };
    let sdk_gave_up = |elapsed: std::time::Duration, what: &str| {
        // At least one attempt's 1.5 s, at most the operation's 3 s and some slack.
        let seconds = elapsed.as_secs_f64();
        assert!((1.4..10.0).contains(&seconds), "{what}: answered after {seconds:.2} s");
    };

    let holder = store_hangs.citizen_token("holder-hung-store");
    let mailer_holder = mail_hangs.citizen_token("holder-hung-mail");
    let lookup = json!({"certificateNumber": "AG-100001", "dateOfBirth": "1980-02-29"});
    let (matched, _) = timed(&mail_hangs, "POST", "/recovery/lookup", mailer_holder.clone(), Some(lookup)).await;
    assert_eq!(matched.status, 200, "{}", matched.body);
    let ((state, state_took), (sent, send_took)) = tokio::join!(
        timed(&store_hangs, "GET", "/recovery", holder, None),
        timed(&mail_hangs, "POST", "/recovery/code", mailer_holder.clone(), Some(json!({}))),
    );
    assert_unavailable(&state, "GET /recovery, DynamoDB hangs");
    sdk_gave_up(state_took, "GET /recovery, DynamoDB hangs");
    assert_unavailable(&sent, "POST /recovery/code, SES hangs");
    sdk_gave_up(send_took, "POST /recovery/code, SES hangs");

    // The send was taken back: still matched, every send left, no cooldown, the failure on
    // record and no `sent`.
    let (state, _) = timed(&mail_hangs, "GET", "/recovery", mailer_holder, None).await;
    assert_eq!(state.state_or_code(), "matched", "{}", state.body);
    let store = &mail_hangs.app.store;
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        store.counter(Counter::CodeSendsOfCertificate, "AG100001", now).await.unwrap().map(|c| c.count),
        Some(0)
    );
    let account = AccountSubject::parse("holder-hung-mail").unwrap();
    let context = store.session_context(&account, now).await.unwrap().unwrap();
    assert_eq!((context.session.sends, context.last_code_sent_for_certificate), (0, None));
    let number = CertificateNumber::parse("AG-100001").unwrap();
    let (trail, _) = store.audit_trail(&number, 100, None, now).await.unwrap();
    let outcomes: Vec<&str> =
        trail.iter().filter(|e| e.action.as_str() == "code_send").map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["mail_failed"]);
    drop(silent);
    store_hangs.stop().await;
    mail_hangs.stop().await;
}
