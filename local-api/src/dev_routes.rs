//! Development-only routes: `POST /dev/token`, `GET /dev/outbox` and `POST /dev/ses-event` (the
//! local API's own). They exist in this binary only.

use certificate_recovery::dev_issuer::DevIssuer;
use certificate_recovery::domain::AccountSubject;
use certificate_recovery::http::body::JsonBody;
use certificate_recovery::http::problem::{ErrorCode, FieldError, FieldReason, Problem};
use certificate_recovery::mailer::outbox::Outbox;
use serde_json::json;
use std::sync::Arc;

pub struct Dev {
    pub issuer: Arc<DevIssuer>,
    pub citizen_issuer: String,
    pub staff_issuer: String,
    pub outbox: Option<Arc<Outbox>>,
    /// The pages' configuration (local mode unless told otherwise) and their policy.
    pub pages: crate::web::PageConfigs,
}

impl Dev {
    /// `{"sub","roles"?}` → a token; with the `agent` role it comes from the staff issuer.
    pub fn token(&self, body: &[u8]) -> Result<serde_json::Value, Problem> {
        let mut parsed = JsonBody::parse(body, &["sub", "roles"])?;
        let sub = parsed.required("sub", AccountSubject::parse);
        let sub = parsed.finish(sub)?;
        let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let roles: Vec<String> = match value.get("roles") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) if items.iter().all(|r| r.is_string()) => {
                items.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect()
            }
            Some(_) => {
                return Err(Problem::invalid(vec![FieldError {
                    field: "roles".into(),
                    reason: FieldReason::WrongType,
                }]));
            }
        };
        let issuer = if roles.iter().any(|r| r == "agent") { &self.staff_issuer } else { &self.citizen_issuer };
        let token = self.issuer.token(issuer, crate::AUDIENCE, sub.as_str(), &roles, 3600);
        Ok(json!({ "token": token }))
    }

    pub fn outbox(&self) -> Result<serde_json::Value, Problem> {
        let outbox = self.outbox.as_ref().ok_or(Problem::new(ErrorCode::NotFound))?;
        Ok(serde_json::to_value(outbox.sent()).expect("emails serialize"))
    }

    /// `{"messageId","eventType":"Delivery"|"Bounce"|"Complaint"}`: SES's event about that
    /// message, shaped as the configuration set's SNS topic delivers it to the
    /// `delivery-events` function, handed to the same code (`docs/rules.md#delivery`) — so the
    /// pages can be seen after a bounce without SES.
    pub async fn ses_event(&self, app: &certificate_recovery::App, body: &[u8]) -> Result<(), Problem> {
        let mut parsed = JsonBody::parse(body, &["messageId", "eventType"])?;
        let id = parsed.required("messageId", |raw: &str| {
            if raw.is_empty() || raw.len() > 200 {
                Err(certificate_recovery::domain::ParseError::InvalidFormat)
            } else {
                Ok(raw.to_owned())
            }
        });
        let kind = parsed.required("eventType", |raw: &str| match raw {
            "Delivery" | "Bounce" | "Complaint" => Ok(raw.to_owned()),
            _ => Err(certificate_recovery::domain::ParseError::InvalidFormat),
        });
        let (id, kind) = parsed.finish(id.zip(kind))?;
        let invocation = ses_notification(&id, &kind, app.clock.now());
        certificate_recovery::delivery::handle_sns_event(app, &Default::default(), &invocation)
            .await
            .map(|_| ())
            .map_err(|_| Problem::new(ErrorCode::ServiceUnavailable))
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.issuer.jwks()
    }
}

/// An SNS invocation carrying one SES event, in the shape SES's event publishing gives it
/// (`events/ses-*.json` hold AWS's samples).
fn ses_notification(message_id: &str, event_type: &str, at: time::OffsetDateTime) -> serde_json::Value {
    let at = certificate_recovery::time_format::instant::format(&at);
    let recipient = "destinataire@exemple.ca";
    let mail = json!({
        "timestamp": at, "source": "no-reply@opc.local", "messageId": message_id,
        "destination": [recipient], "headersTruncated": false, "tags": {},
    });
    let mut event = json!({"eventType": event_type, "mail": mail});
    match event_type {
        "Bounce" => {
            event["bounce"] = json!({
                "bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                "timestamp": at, "feedbackId": "local-feedback", "reportingMTA": "dsn; local",
            })
        }
        "Complaint" => {
            event["complaint"] = json!({
                "complainedRecipients": [{"emailAddress": recipient}], "timestamp": at,
                "feedbackId": "local-feedback", "complaintFeedbackType": "abuse",
            })
        }
        _ => {
            event["delivery"] = json!({
                "timestamp": at, "processingTimeMillis": 500, "recipients": [recipient],
                "smtpResponse": "250 ok", "reportingMTA": "local",
            })
        }
    }
    json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:ca-central-1:000000000000:ses-events:local",
        "Sns": {
            "Type": "Notification", "MessageId": "local", "TopicArn": "arn:aws:sns:ca-central-1:000000000000:ses-events",
            "Subject": null, "Message": event.to_string(), "Timestamp": at, "SignatureVersion": "1",
            "Signature": "", "SigningCertUrl": "", "UnsubscribeUrl": "", "MessageAttributes": {},
        },
    }]})
}
