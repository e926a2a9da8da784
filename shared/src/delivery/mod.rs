//! Email delivery (`docs/rules.md#delivery`): every message goes out with the SES
//! configuration set whose event destination (an SNS topic) invokes the `delivery-events`
//! function with SES's reports — delivery, bounce, complaint. Each report is put on the
//! message it names, on the security code that message carried (the holder's page shows
//! `delivery`), and, for a failure, on the file while its email is the one it went to (the
//! employee sees it).

pub mod ses_event;

use crate::app::App;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::domain::{CertificateNumber, Delivery, MessagePurpose, SentMessage};
use crate::mailer::MessageId;
use crate::store::{DeliveryUpdate, StoreError};
pub use ses_event::{EventSource, SesEvent, SesEventError};
use time::OffsetDateTime;

/// After a message left (or failed to): the message, to match SES's reports to it, and the
/// send's audit event, in one write. Best effort: the message is on its way; a failure is
/// logged.
#[allow(clippy::too_many_arguments)]
pub async fn record_sent(
    app: &App,
    message_id: Option<MessageId>,
    number: &CertificateNumber,
    purpose: MessagePurpose,
    file_email_changed_at: Option<OffsetDateTime>,
    at: OffsetDateTime,
    event: &AuditEvent,
) {
    let written = match message_id {
        Some(message_id) => {
            let message = SentMessage {
                message_id,
                certificate_number: number.clone(),
                purpose,
                file_email_changed_at,
                sent_at: at,
                delivery: Delivery::Sent,
            };
            app.store.record_message(&message, event).await
        }
        None => app.store.append_audit(event).await,
    };
    if let Err(e) = written {
        tracing::error!(error = %e, "sent message and its audit event not written");
    }
}

/// What a report of SES did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The message's state moved on.
    Updated(Delivery),
    /// Nothing new (a repeated or late event).
    Unchanged,
    /// No message of ours by that id (another sender of the account, or older than 30 days).
    UnknownMessage,
}

/// Puts one SES report on what it concerns.
#[tracing::instrument(skip_all, fields(event = event.delivery.as_str()))]
pub async fn record_event(app: &App, event: &SesEvent) -> Result<Recorded, StoreError> {
    let now = app.clock.now();
    let Some(message) = app.store.message(&event.message_id, now).await? else {
        tracing::info!("SES event for a message not ours");
        return Ok(Recorded::UnknownMessage);
    };
    let delivery = message.delivery.after(event.delivery);
    if delivery == message.delivery {
        return Ok(Recorded::Unchanged);
    }
    let to_file_address = !matches!(message.purpose, MessagePurpose::NoticeToOldAddress);
    // Only a failure of the address itself goes on the file (not a full mailbox).
    let on_file = delivery.failed() && to_file_address && event.address_fails();
    let audit = on_file.then(|| {
        let what = match message.purpose {
            MessagePurpose::SecurityCode { .. } => "security_code",
            _ => "notice",
        };
        let detail = match &event.bounce_type {
            Some(kind) => format!("{what}, {kind}"),
            None => what.to_owned(),
        };
        AuditEvent::new(
            &message.certificate_number,
            now,
            Actor::MailService("ses".into()),
            AuditAction::EmailDelivery,
            delivery.as_str(),
        )
        .with_detail(detail)
    });
    let update = DeliveryUpdate { message, delivery, at: event.at.unwrap_or(now), on_file, audit };
    app.store.record_delivery(&update).await?;
    tracing::info!(delivery = delivery.as_str(), "delivery recorded");
    Ok(Recorded::Updated(delivery))
}

/// The `delivery-events` function's work: every SES event of an SNS invocation that `source`
/// admits (the stack's topic and configuration set: anyone else's invocation is refused). An
/// event that cannot be read or comes from elsewhere is logged and skipped (retrying it would
/// not help); a store failure fails the invocation, so that Lambda tries it again (every write
/// is idempotent).
pub async fn handle_sns_event(
    app: &App,
    source: &EventSource,
    invocation: &serde_json::Value,
) -> Result<Vec<Recorded>, StoreError> {
    let mut recorded = Vec::new();
    for event in ses_event::from_sns(invocation) {
        match event {
            Ok(event) if source.admits(&event) => recorded.push(record_event(app, &event).await?),
            Ok(_) => tracing::warn!("SES event from another topic or configuration set refused"),
            Err(e) => tracing::warn!(error = %e, "SES event skipped"),
        }
    }
    Ok(recorded)
}
