//! The one place where use-case errors become HTTP problems.

use crate::auth::TokenError;
use crate::problem::{ErrorCode, Problem};
use crate::recovery::RecoveryError;

pub fn problem(error: &RecoveryError) -> Problem {
    match error {
        RecoveryError::NoMatch => ErrorCode::NoMatch.into(),
        RecoveryError::Locked { retry_after } => Problem::new(ErrorCode::Locked).with_retry_after(*retry_after),
        RecoveryError::NoRecoverySession => ErrorCode::NoRecoverySession.into(),
        RecoveryError::NoEmailOnFile => ErrorCode::NoEmailOnFile.into(),
        RecoveryError::ResendTooSoon { retry_after } => {
            Problem::new(ErrorCode::ResendTooSoon).with_retry_after(*retry_after)
        }
        RecoveryError::TooManyCodes => ErrorCode::TooManyCodes.into(),
        RecoveryError::WrongCode { attempts_left } => {
            Problem::new(ErrorCode::WrongCode).with_attempts_left(*attempts_left)
        }
        RecoveryError::CodeExpired => ErrorCode::CodeExpired.into(),
        RecoveryError::TooManyAttempts { retry_after: None } => ErrorCode::TooManyAttempts.into(),
        RecoveryError::TooManyAttempts { retry_after: Some(after) } => {
            Problem::new(ErrorCode::TooManyAttempts).with_retry_after(*after)
        }
        RecoveryError::InvoiceNotAccepted { attempts_left } => {
            Problem::new(ErrorCode::InvoiceNotAccepted).with_attempts_left(*attempts_left)
        }
        RecoveryError::InvoiceTooOld { attempts_left } => {
            Problem::new(ErrorCode::InvoiceTooOld).with_attempts_left(*attempts_left)
        }
        RecoveryError::AlreadyLinked => ErrorCode::AlreadyLinked.into(),
        RecoveryError::NotLinked => ErrorCode::NotLinked.into(),
        RecoveryError::Store(_) | RecoveryError::Mail(_) | RecoveryError::Random => {
            ErrorCode::ServiceUnavailable.into()
        }
    }
}

pub fn desk_problem(error: &crate::assistance_desk::DeskError) -> Problem {
    use crate::assistance_desk::DeskError;
    match error {
        DeskError::NotFound => ErrorCode::NotFound.into(),
        DeskError::AlreadyClosed => ErrorCode::AlreadyClosed.into(),
        DeskError::Store(_) => ErrorCode::ServiceUnavailable.into(),
    }
}

pub fn token_problem(error: &TokenError) -> Problem {
    match error {
        // The issuer's keys cannot be had: not the holder's fault, and a 401 would sign them out.
        TokenError::KeysUnavailable(_) => ErrorCode::ServiceUnavailable.into(),
        _ => ErrorCode::Unauthorized.into(),
    }
}
