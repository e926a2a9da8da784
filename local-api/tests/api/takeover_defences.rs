//! Stopping a takeover after the fact (issue 12; `docs/rules.md#this-wasnt-me`,
//! `#email-change-hold`, `#delivery`): the "this wasn't me" link of every notice, the hold on an
//! email an employee set, and SES's delivery reports — each walked end to end through the
//! routes, on the memory store and on DynamoDB Local and moto.

use crate::common::{Backend, TestApp, report_token};
use certificate_recovery::clock::ManualClock;
use serde_json::json;
use std::sync::Arc;

async fn with_clock(backend: Backend) -> Option<TestApp> {
    let start = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    TestApp::builder(backend).clock(Arc::new(ManualClock::new(start))).spawn().await
}

fn instant(raw: &serde_json::Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(raw.as_str().expect("a time"), &time::format_description::well_known::Rfc3339).unwrap()
}

/// The request an employee resolves: `email_updated` with `new_email`, or another outcome.
async fn resolve(app: &TestApp, reference: &str, body: serde_json::Value) -> crate::common::Answer {
    let agent = app.api.staff_token("agent-007", &["agent"]);
    app.request("POST", &format!("/agent/assistance-requests/{reference}/resolve"), Some(&agent), Some(body)).await
}

async fn queue(app: &TestApp) -> Vec<serde_json::Value> {
    let agent = app.api.staff_token("agent-007", &["agent"]);
    let answer = app.request("GET", "/agent/assistance-requests?status=open", Some(&agent), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["items"].as_array().unwrap().clone()
}

/// A link reported from its notice: the account loses the file, nobody can recover it alone
/// any more, and the report heads the Office's queue; the link works once.
async fn a_reported_link_is_undone_and_freezes_the_file(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    // Someone else's request, older: the report must still come first.
    let other = app.token("other-holder");
    app.lookup(&other, "AG-100004", "1968-01-20").await.assert(200, "matched");
    app.assistance(&other).await.assert(201, "assistance_requested");
    app.advance(5);

    let intruder = app.token("intruder");
    app.lookup(&intruder, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&intruder).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100001").await;
    app.verify(&intruder, &code).await.assert(200, "linked");
    let notice = app.emails_to(&app.email_of("AG-100001")).await.pop().expect("the link notice");
    let token = report_token(&notice.body);

    // Anyone holding the link sees what it reports, with the number masked — no sign-in.
    let described = app.request("GET", &format!("/report/{token}"), None, None).await;
    assert_eq!(described.status, 200, "{}", described.body);
    assert_eq!(described.body["kind"], "link");
    assert_eq!(described.body["maskedCertificateNumber"], "•••001");
    assert!(!described.body.to_string().contains("AG100001"));

    let reported = app.request("POST", &format!("/report/{token}"), None, Some(json!({}))).await;
    reported.assert(200, "reported");
    assert_eq!(reported.body["undone"], true, "{}", reported.body);
    let reference = reported.body["reference"].as_str().unwrap().to_owned();

    // The account lost the file; recovery is frozen for every account, after a match only.
    app.my_certificate(&intruder).await.assert(404, "not_linked");
    app.lookup(&intruder, "AG-100001", "1980-02-29").await.assert(423, "recovery_frozen");
    let holder = app.token("real-holder");
    app.lookup(&holder, "AG-100001", "1980-02-29").await.assert(423, "recovery_frozen");
    app.lookup(&holder, "AG-100001", "1970-01-01").await.assert(422, "no_match");

    // Single use: the same answer as an unknown or malformed link.
    for path in [format!("/report/{token}"), "/report/AAAAAAAAAAAAAAAAAAAAAA".into(), "/report/x".into()] {
        app.request("POST", &path, None, Some(json!({}))).await.assert(410, "report_expired");
        app.request("GET", &path, None, None).await.assert(410, "report_expired");
    }

    // First in the queue, marked.
    let items = queue(&app).await;
    assert_eq!(items[0]["reference"], reference.as_str(), "{items:?}");
    assert_eq!(items[0]["reported"], "link");
    assert!(items.len() >= 2 && items[1].get("reported").is_none(), "{items:?}");

    // Audited, without personal data.
    let trail = app.audit("AG-100001").await;
    let has = |action: &str, outcome: &str| trail.iter().any(|e| e.action.as_str() == action && e.outcome == outcome);
    assert!(has("report", "filed") && has("unlink", "reported") && has("assistance_request", "opened"));
    let text = serde_json::to_string(&trail).unwrap();
    assert!(!text.contains(&app.email_of("AG-100001")) && !text.contains(&token) && !text.contains("1980-02-29"));

    // An employee resolving the report lifts the freeze.
    resolve(&app, &reference, json!({"outcome": "identity_not_confirmed"})).await;
    app.lookup(&holder, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.stop().await;
}

/// An employee's email change: codes wait out the hold; the old address is told at once with
/// a link that undoes the change while it is on hold.
async fn an_email_change_is_held_and_the_old_address_can_undo_it(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let holder = app.token("holder-004");
    let old_email = app.email_of("AG-100004");
    app.lookup(&holder, "AG-100004", "1968-01-20").await.assert(200, "matched");
    let asked = app.assistance(&holder).await;
    let reference = asked.body["reference"].as_str().unwrap().to_owned();
    let new_email = format!("marc+{}@ailleurs.ca", app.tag);
    resolve(&app, &reference, json!({"outcome": "email_updated", "newEmail": new_email})).await.assert(200, "");
    let changed_at = app.api.app.clock.now();

    // No code to the new address during the hold: the page is told when.
    app.lookup(&holder, "AG-100004", "1968-01-20").await.assert(200, "matched");
    let state = app.state(&holder).await;
    assert_eq!(instant(&state.body["emailAvailableAt"]), changed_at + time::Duration::days(1), "{}", state.body);
    let refused = app.send_code(&holder).await;
    refused.assert(409, "email_change_pending");
    assert_eq!(instant(&refused.body["availableAt"]), changed_at + time::Duration::days(1));
    assert!(app.emails_to(&new_email).await.iter().all(|e| !e.subject.contains("code")));

    // Both addresses were told, each with its own link.
    let to_new = app.emails_to(&new_email).await.pop().expect("the notice to the new address");
    let to_old = app.emails_to(&old_email).await.pop().expect("the notice to the old address");
    let (new_token, old_token) = (report_token(&to_new.body), report_token(&to_old.body));
    assert_ne!(new_token, old_token);
    let described = app.request("GET", &format!("/report/{old_token}"), None, None).await;
    assert_eq!(described.body["kind"], "email_change", "{}", described.body);

    // The old address says it was not them: the change is undone, recovery frozen.
    app.advance(3600);
    let undone = app.request("POST", &format!("/report/{old_token}"), None, Some(json!({}))).await;
    assert_eq!(undone.assert(200, "reported").body["undone"], true);
    let file = app.file("AG-100004").await;
    assert_eq!(file.email.as_ref().map(|e| e.as_str()), Some(old_email.as_str()));
    assert!(file.protection.email_hold_until.is_none() && file.protection.frozen());
    app.lookup(&holder, "AG-100004", "1968-01-20").await.assert(423, "recovery_frozen");
    // The other notice's link still reports (a second report), but changes no email again.
    let again = app.request("POST", &format!("/report/{new_token}"), None, Some(json!({}))).await;
    assert_eq!(again.assert(200, "reported").body["undone"], false);
    let reported: Vec<_> = queue(&app).await.into_iter().filter(|r| r["reported"] == "email_change").collect();
    assert_eq!(reported.len(), 2);

    // Both reports resolved: the freeze is lifted, and codes go to the old address at once.
    for request in reported {
        resolve(&app, request["reference"].as_str().unwrap(), json!({"outcome": "unreachable"})).await;
    }
    app.lookup(&holder, "AG-100004", "1968-01-20").await.assert(200, "matched");
    app.send_code(&holder).await.assert(200, "code_sent");
    assert!(app.emails_to(&old_email).await.last().unwrap().subject.contains("code"));
    app.stop().await;
}

/// After the hold, the change stands: codes go to the new address and a late report of the
/// change freezes the file without undoing it.
async fn after_the_hold_the_change_stands(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let holder = app.token("holder-007");
    app.lookup(&holder, "AG-100007", "1979-12-03").await.assert(200, "matched");
    let reference = app.assistance(&holder).await.body["reference"].as_str().unwrap().to_owned();
    let new_email = format!("eric+{}@ailleurs.ca", app.tag);
    resolve(&app, &reference, json!({"outcome": "email_updated", "newEmail": new_email})).await.assert(200, "");
    app.advance(86_400);
    app.lookup(&holder, "AG-100007", "1979-12-03").await.assert(200, "matched");
    app.send_code(&holder).await.assert(200, "code_sent");
    let code = app.emails_to(&new_email).await.last().expect("a code at the new address").code();
    let old_token = report_token(&app.emails_to(&app.email_of("AG-100007")).await.pop().unwrap().body);
    let late = app.request("POST", &format!("/report/{old_token}"), None, Some(json!({}))).await;
    assert_eq!(late.assert(200, "reported").body["undone"], false, "the hold had ended");
    let file = app.file("AG-100007").await;
    assert_eq!(file.email.as_ref().map(|e| e.as_str()), Some(new_email.as_str()));
    // Frozen: even the code sent before cannot link now.
    app.verify(&holder, &code).await.assert(423, "recovery_frozen");
    app.stop().await;
}

/// A file without an email before gets no hold: the new address is the only one there is.
async fn no_hold_when_the_file_had_no_email(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let holder = app.token("holder-003");
    app.lookup(&holder, "AG-100003", "1990-11-02").await.assert(200, "matched");
    let reference = app.assistance(&holder).await.body["reference"].as_str().unwrap().to_owned();
    let new_email = format!("lea+{}@exemple.ca", app.tag);
    resolve(&app, &reference, json!({"outcome": "email_updated", "newEmail": new_email})).await.assert(200, "");
    let matched = app.lookup(&holder, "AG-100003", "1990-11-02").await;
    assert!(matched.body.get("emailAvailableAt").is_none(), "{}", matched.body);
    app.send_code(&holder).await.assert(200, "code_sent");
    app.stop().await;
}

/// SES's reports reach the holder's page and the employee's view of the file.
async fn a_bounce_reaches_the_holder_and_the_employee(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let holder = app.token("holder-006");
    app.lookup(&holder, "AG-100006", "1992-08-14").await.assert(200, "matched");
    let sent = app.send_code(&holder).await;
    assert_eq!(sent.body["delivery"], "sent", "{}", sent.body);
    let email = app.emails_to(&app.email_of("AG-100006")).await.pop().unwrap();
    assert!(!email.message_id.is_empty());

    app.ses_event("bounce", &email.message_id).await;
    let state = app.state(&holder).await;
    assert_eq!(state.body["state"], "code_sent");
    assert_eq!(state.body["delivery"], "bounced", "{}", state.body);
    assert_eq!(state.body["options"], json!(["invoice", "assistance"]));
    // A late delivery report never takes the bounce back.
    app.ses_event("delivery", &email.message_id).await;
    assert_eq!(app.state(&holder).await.body["delivery"], "bounced");

    // The employee sees the address bounced, and when.
    let reference = app.assistance(&holder).await.body["reference"].as_str().unwrap().to_owned();
    let agent = app.api.staff_token("agent-007", &["agent"]);
    let view = app.request("GET", &format!("/agent/assistance-requests/{reference}"), Some(&agent), None).await;
    assert_eq!(view.body["emailDelivery"]["state"], "bounced", "{}", view.body);
    assert!(view.body["emailDelivery"]["at"].is_string());
    let trail = app.audit("AG-100006").await;
    assert!(trail.iter().any(|e| e.action.as_str() == "email_delivery" && e.outcome == "bounced"));

    // A new email on file clears it.
    let new_email = format!("olivia+{}@ailleurs.ca", app.tag);
    resolve(&app, &reference, json!({"outcome": "email_updated", "newEmail": new_email})).await.assert(200, "");
    assert!(app.file("AG-100006").await.protection.email_delivery.is_none());
    app.stop().await;
}

/// A delivered code shows as delivered; a complaint after it wins.
async fn deliveries_and_complaints_are_shown(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let holder = app.token("holder-002");
    app.lookup(&holder, "AG-100002", "1975-06-15").await.assert(200, "matched");
    app.send_code(&holder).await.assert(200, "code_sent");
    let email = app.emails_to(&app.email_of("AG-100002")).await.pop().unwrap();
    app.ses_event("delivery", &email.message_id).await;
    assert_eq!(app.state(&holder).await.body["delivery"], "delivered");
    app.ses_event("complaint", &email.message_id).await;
    assert_eq!(app.state(&holder).await.body["delivery"], "complained");
    // A new code starts over.
    app.advance(61);
    let resent = app.send_code(&holder).await;
    assert_eq!(resent.body["delivery"], "sent", "{}", resent.body);
    app.stop().await;
}

/// Help-desk social engineering, then an invoice during the hold: the link notice reaches the
/// holder's own address too, and its link undoes the link.
async fn a_link_during_the_hold_is_told_to_the_address_before_it(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let impostor = app.token("impostor");
    let holders_email = app.email_of("AG-100001");
    app.lookup(&impostor, "AG-100001", "1980-02-29").await.assert(200, "matched");
    let reference = app.assistance(&impostor).await.body["reference"].as_str().unwrap().to_owned();
    let impostors_email = format!("pirate+{}@ailleurs.ca", app.tag);
    resolve(&app, &reference, json!({"outcome": "email_updated", "newEmail": impostors_email})).await.assert(200, "");
    app.lookup(&impostor, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.invoice(&impostor, "F-2026-0101").await.assert(200, "linked");

    let to_holder = app.emails_to(&holders_email).await.pop().expect("a notice to the holder's own address");
    assert!(to_holder.subject.contains("associé"), "{}", to_holder.subject);
    assert!(app.emails_to(&impostors_email).await.iter().any(|e| e.subject.contains("associé")));
    let token = report_token(&to_holder.body);
    let reported = app.request("POST", &format!("/report/{token}"), None, Some(json!({}))).await;
    assert_eq!(reported.assert(200, "reported").body["undone"], true);
    app.my_certificate(&impostor).await.assert(404, "not_linked");
    app.lookup(&impostor, "AG-100001", "1980-02-29").await.assert(423, "recovery_frozen");
    app.stop().await;
}

/// A second email change during the hold never erases the holder's address: the old-address
/// notice goes to the address before the first change, and its link puts that one back.
async fn a_second_change_during_the_hold_keeps_the_holders_address(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let caller = app.token("caller-002");
    let holders_email = app.email_of("AG-100002");
    let (first, second) = (format!("first+{}@ailleurs.ca", app.tag), format!("second+{}@ailleurs.ca", app.tag));
    for new_email in [&first, &second] {
        app.lookup(&caller, "AG-100002", "1975-06-15").await.assert(200, "matched");
        let reference = app.assistance(&caller).await.body["reference"].as_str().unwrap().to_owned();
        resolve(&app, &reference, json!({"outcome": "email_updated", "newEmail": new_email})).await.assert(200, "");
        app.advance(60);
    }
    // The first change's held address was not told as "the old address"; the holder was, twice.
    let to_holder = app.emails_to(&holders_email).await;
    assert_eq!(to_holder.iter().filter(|e| e.subject.contains("modifiée") || e.subject.contains("changed")).count(), 2);
    assert!(
        !app.emails_to(&first).await.iter().any(|e| e.subject.contains("changed") || e.subject.contains("modifiée"))
    );
    let file = app.file("AG-100002").await;
    assert_eq!(file.protection.previous_email.as_ref().map(|e| e.as_str()), Some(holders_email.as_str()));
    // The latest notice's link restores the holder's own address.
    let token = report_token(&to_holder.last().unwrap().body);
    let reported = app.request("POST", &format!("/report/{token}"), None, Some(json!({}))).await;
    assert_eq!(reported.assert(200, "reported").body["undone"], true);
    assert_eq!(app.file("AG-100002").await.email.as_ref().map(|e| e.as_str()), Some(holders_email.as_str()));
    app.stop().await;
}

/// An employee opening another request of a frozen file is warned.
async fn every_request_of_a_frozen_file_says_so(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let someone = app.token("someone-001");
    app.lookup(&someone, "AG-100001", "1980-02-29").await.assert(200, "matched");
    let theirs = app.assistance(&someone).await.body["reference"].as_str().unwrap().to_owned();
    // The file is linked by invoice by another account, and the holder reports it.
    let other = app.token("other-001");
    app.lookup(&other, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.invoice(&other, "F-2026-0101").await.assert(200, "linked");
    let token = report_token(&app.emails_to(&app.email_of("AG-100001")).await.pop().unwrap().body);
    app.request("POST", &format!("/report/{token}"), None, Some(json!({}))).await.assert(200, "reported");
    let agent = app.api.staff_token("agent-007", &["agent"]);
    let view = app.request("GET", &format!("/agent/assistance-requests/{theirs}"), Some(&agent), None).await;
    assert_eq!(view.body["fileFrozen"], true, "{}", view.body);
    app.stop().await;
}

on_both_backends!(
    a_link_during_the_hold_is_told_to_the_address_before_it,
    a_second_change_during_the_hold_keeps_the_holders_address,
    every_request_of_a_frozen_file_says_so,
    a_reported_link_is_undone_and_freezes_the_file,
    an_email_change_is_held_and_the_old_address_can_undo_it,
    after_the_hold_the_change_stands,
    no_hold_when_the_file_had_no_email,
    a_bounce_reaches_the_holder_and_the_employee,
    deliveries_and_complaints_are_shown,
);
