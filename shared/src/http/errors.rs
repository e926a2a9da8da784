//! The edge: every use-case error becomes an HTTP problem here and nowhere else. The use
//! cases know their errors' stable codes (`code()`); the status, the title and the extra
//! members (`attemptsLeft`, `retryAfter`) are added here.

use super::problem::{ErrorCode, Problem};
use crate::assistance_desk::DeskError;
use crate::auth::TokenError;
use crate::recovery::RecoveryError;

impl From<&RecoveryError> for Problem {
    fn from(error: &RecoveryError) -> Self {
        let problem = Problem::new(error.code());
        match error {
            RecoveryError::Locked { retry_after }
            | RecoveryError::ResendTooSoon { retry_after }
            | RecoveryError::TooManyAttempts { retry_after: Some(retry_after) } => {
                problem.with_retry_after(*retry_after)
            }
            RecoveryError::WrongCode { attempts_left } | RecoveryError::InvoiceNotAccepted { attempts_left } => {
                problem.with_attempts_left(*attempts_left)
            }
            RecoveryError::InvoiceTooOld { attempts_left, max_age_years } => {
                Problem { invoice_max_age_years: Some(*max_age_years), ..problem.with_attempts_left(*attempts_left) }
            }
            RecoveryError::EmailChangePending { available_at } => {
                Problem { available_at: Some(*available_at), ..problem }
            }
            _ => problem,
        }
    }
}

impl From<&DeskError> for Problem {
    fn from(error: &DeskError) -> Self {
        Problem::new(error.code())
    }
}

impl From<&TokenError> for Problem {
    fn from(error: &TokenError) -> Self {
        match error {
            // The issuer's keys cannot be had: not the holder's fault, and a 401 would sign them out.
            TokenError::KeysUnavailable(_) => ErrorCode::ServiceUnavailable.into(),
            _ => ErrorCode::Unauthorized.into(),
        }
    }
}

/// The failure of a use case as a problem. A dependency's failure (the 503s) is logged here,
/// once per request; refusals are not errors and are not logged here.
pub(crate) fn failed<E>(error: E) -> Problem
where
    E: std::fmt::Display,
    for<'a> Problem: From<&'a E>,
{
    let problem = Problem::from(&error);
    if problem.code == ErrorCode::ServiceUnavailable {
        tracing::error!(error = %error, "request failed on a dependency");
    }
    problem
}
