//! A file linked by invoice tells the email on file, as a link by code does (`docs/rules.md#link-notice`: every
//! successful link sends a notice). On the memory store and outbox, and on DynamoDB Local and
//! moto — where the IAM recording sees `check-invoice` send email, which no other test walks.

use crate::common;

use common::{Backend, spawn_app};

on_both_backends!(an_invoice_link_sends_the_notice_to_the_email_on_file);

async fn an_invoice_link_sends_the_notice_to_the_email_on_file(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let me = app.token("holder-invoice-with-email");
    let matched = app.lookup(&me, "AG-100001", "1980-02-29").await;
    matched.assert(200, "matched");
    assert!(matched.body["options"].as_array().unwrap().contains(&"invoice".into()), "{}", matched.body);

    app.invoice(&me, "F-2026-0101").await.assert(200, "linked");

    let mail = app.emails_to(&app.email_of("AG-100001")).await;
    assert_eq!(mail.len(), 1, "the link notice alone: {mail:?}");
    assert_eq!(mail[0].subject, "Votre dossier de certificat a été associé à un compte");
    assert!(mail[0].body.contains("AG100001"), "{}", mail[0].body);
    let events = app.audit("AG-100001").await;
    let actions: Vec<_> = events.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect();
    for expected in [("invoice_try", "accepted"), ("link", "linked"), ("link_notice", "sent")] {
        assert!(actions.contains(&expected), "{expected:?} missing from {actions:?}");
    }
    app.stop().await;
}
