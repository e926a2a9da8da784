//! Development-only routes: `POST /dev/token` and `GET /dev/outbox` (the local API's own). They exist in
//! this binary only.

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

    pub fn jwks(&self) -> serde_json::Value {
        self.issuer.jwks()
    }
}
