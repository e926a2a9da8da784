//! Security codes are stored only as HMAC-SHA-256(server secret, session id ‖ code) and
//! compared in constant time.

use crate::domain::SecurityCode;
use aws_lc_rs::hmac;
use base64::{
    Engine,
    engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD},
};
use secrecy::{ExposeSecret, SecretString};

#[derive(Clone)]
pub struct CodeHasher {
    key: hmac::Key,
    /// The secret being rotated out: codes hashed with it still verify until it is removed.
    previous: Option<hmac::Key>,
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHasher(<secret>)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the code-hashing secret must be at least 32 bytes")]
pub struct WeakSecret;

impl CodeHasher {
    pub fn new(secret: &SecretString) -> Result<Self, WeakSecret> {
        Ok(Self { key: Self::key(secret)?, previous: None })
    }

    /// During a rotation: new codes are hashed with `secret`; codes already sent, hashed with
    /// `previous`, still verify.
    pub fn rotating(secret: &SecretString, previous: &SecretString) -> Result<Self, WeakSecret> {
        Ok(Self { key: Self::key(secret)?, previous: Some(Self::key(previous)?) })
    }

    fn key(secret: &SecretString) -> Result<hmac::Key, WeakSecret> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < 32 {
            return Err(WeakSecret);
        }
        Ok(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    fn message(session_id: &str, code: &SecurityCode) -> Vec<u8> {
        let mut message = Vec::with_capacity(session_id.len() + 1 + SecurityCode::DIGITS);
        message.extend_from_slice(session_id.as_bytes());
        message.push(0);
        message.extend_from_slice(code.expose().as_bytes());
        message
    }

    /// The keyed hash to store, base64.
    pub fn hash(&self, session_id: &str, code: &SecurityCode) -> String {
        STANDARD_NO_PAD.encode(hmac::sign(&self.key, &Self::message(session_id, code)))
    }

    /// The keyed hashes a "this wasn't me" token may be stored under (`docs/rules.md#this-wasnt-me`):
    /// with the current secret — the one to store under — then, during a rotation, with the
    /// one being rotated out. The token itself is never stored.
    pub fn report_token_hashes(&self, token: &crate::domain::ReportToken) -> Vec<String> {
        let mut message = b"report\0".to_vec();
        message.extend_from_slice(token.expose().as_bytes());
        std::iter::once(&self.key)
            .chain(self.previous.as_ref())
            .map(|key| URL_SAFE_NO_PAD.encode(hmac::sign(key, &message)))
            .collect()
    }

    /// Constant-time check of a typed code against a stored hash.
    pub fn verify(&self, session_id: &str, code: &SecurityCode, stored: &str) -> bool {
        let Ok(tag) = STANDARD_NO_PAD.decode(stored) else {
            return false;
        };
        let message = Self::message(session_id, code);
        hmac::verify(&self.key, &message, &tag).is_ok()
            || self.previous.as_ref().is_some_and(|previous| hmac::verify(previous, &message, &tag).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(secret: &str) -> CodeHasher {
        CodeHasher::new(&SecretString::from(secret.to_owned())).unwrap()
    }

    #[test]
    fn hash_is_keyed_and_bound_to_the_session() {
        let code = SecurityCode::parse("123456").unwrap();
        let h = hasher("0123456789abcdef0123456789abcdef");
        let stored = h.hash("s1", &code);
        assert!(!stored.contains("123456"));
        assert!(h.verify("s1", &code, &stored));
        assert!(!h.verify("s2", &code, &stored));
        assert!(!h.verify("s1", &SecurityCode::parse("123457").unwrap(), &stored));
        assert!(!hasher("fedcba9876543210fedcba9876543210").verify("s1", &code, &stored));
    }

    #[test]
    fn a_rotation_keeps_codes_already_sent() {
        let code = SecurityCode::parse("654321").unwrap();
        let old = SecretString::from("0123456789abcdef0123456789abcdef".to_owned());
        let new = SecretString::from("fedcba9876543210fedcba9876543210".to_owned());
        let sent_before = CodeHasher::new(&old).unwrap().hash("s", &code);
        let rotating = CodeHasher::rotating(&new, &old).unwrap();
        assert!(rotating.verify("s", &code, &sent_before));
        assert!(rotating.verify("s", &code, &rotating.hash("s", &code)));
        assert!(!CodeHasher::new(&new).unwrap().verify("s", &code, &sent_before));
    }

    #[test]
    fn refuses_short_secrets() {
        assert!(CodeHasher::new(&SecretString::from("short".to_owned())).is_err());
    }
}
