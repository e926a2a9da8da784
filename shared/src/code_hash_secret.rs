//! The code-hashing secret, read from Secrets Manager once per container, before the first
//! invocation (`docs/rules.md#secret`): the function's environment holds only the secret's ARN
//! (`CODE_HASH_SECRET_ARN`), never the secret.
//!
//! The `AWSCURRENT` version hashes new codes; the `AWSPREVIOUS` version, when there is one,
//! still verifies codes hashed before a rotation (`put-secret-value` moves the labels).

use crate::security_code_hash::CodeHasher;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use secrecy::SecretString;

/// The environment variable holding the secret's ARN.
pub const ARN_VARIABLE: &str = "CODE_HASH_SECRET_ARN";

const CURRENT: &str = "AWSCURRENT";
const PREVIOUS: &str = "AWSPREVIOUS";

/// Why a function cannot start. Never holds the secret, only where it is and what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the code-hashing secret {arn} ({stage}) cannot be read: {code}: {message}")]
    Unreadable { arn: String, stage: &'static str, code: String, message: String },
    #[error("the code-hashing secret {arn} ({stage}) holds no text (SecretString)")]
    NotText { arn: String, stage: &'static str },
    #[error("the code-hashing secret {arn} ({stage}) is too weak: it must be at least 32 bytes")]
    Weak { arn: String, stage: &'static str },
}

/// Reads one version of the secret; `None` when the previous version does not exist.
async fn read(client: &Client, arn: &str, stage: &'static str) -> Result<Option<SecretString>, SecretError> {
    match client.get_secret_value().secret_id(arn).version_stage(stage).send().await {
        Ok(output) => match output.secret_string {
            Some(value) => Ok(Some(SecretString::from(value))),
            None => Err(SecretError::NotText { arn: arn.to_owned(), stage }),
        },
        // A secret never rotated has no previous version.
        Err(e) if stage == PREVIOUS && e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(SecretError::Unreadable {
            arn: arn.to_owned(),
            stage,
            code: e.code().unwrap_or("transport_error").to_owned(),
            message: e.message().unwrap_or_default().to_owned(),
        }),
    }
}

/// Which versions of the secret a function reads at start (`docs/rules.md#secret`): only what
/// its routes use, so that a function that hashes nothing can neither read the secret (its
/// role is not granted `secretsmanager:GetSecretValue`) nor pay for the read at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeHashKeys {
    /// The function hashes nothing (lookup, assistance, recovery-state, delivery-events).
    None,
    /// The function only makes hashes — of new codes, of new report tokens — with `AWSCURRENT`
    /// (send-code, check-invoice, agent-desk).
    Current,
    /// The function also checks hashes made before a rotation — codes (verify-code), report
    /// tokens (report) — so it reads `AWSPREVIOUS` too.
    CurrentAndPrevious,
}

/// The hasher keyed by the secret at `arn`, as `keys` says: its current version hashes, its
/// previous version (if any, and if `keys` asks for it) still verifies. Both versions are read
/// at once.
pub async fn load(client: &Client, arn: &str, keys: CodeHashKeys) -> Result<CodeHasher, SecretError> {
    let previous = async {
        match keys {
            CodeHashKeys::CurrentAndPrevious => read(client, arn, PREVIOUS).await,
            CodeHashKeys::Current | CodeHashKeys::None => Ok(None),
        }
    };
    let (current, previous) = tokio::join!(read(client, arn, CURRENT), previous);
    let current = current?.ok_or_else(|| SecretError::NotText { arn: arn.to_owned(), stage: CURRENT })?;
    let weak = |stage| move |_| SecretError::Weak { arn: arn.to_owned(), stage };
    match previous? {
        Some(previous) => {
            // Checked one at a time to name the weak one.
            CodeHasher::new(&previous).map_err(weak(PREVIOUS))?;
            CodeHasher::rotating(&current, &previous).map_err(weak(CURRENT))
        }
        None => CodeHasher::new(&current).map_err(weak(CURRENT)),
    }
}
