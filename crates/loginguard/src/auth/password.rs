//! argon2id hashing and verification.
//!
//! Verification costs tens of milliseconds of CPU, so it runs on the blocking
//! pool behind a semaphore sized to the cores: a flood of sign-ins queues here
//! instead of starving the async workers that push kicks and answer pings. An
//! unknown user is verified against a dummy hash so that it costs the same time
//! as a wrong password.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::AuthError;

/// Hashes `password` with argon2id at the OWASP-recommended cost
/// (m = 19 MiB, t = 2, p = 1: the argon2 crate's defaults).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AuthError::Hashing(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// Verifies passwords on the blocking pool, a bounded number at a time.
#[derive(Clone)]
pub struct PasswordVerifier {
    permits: Arc<Semaphore>,
    dummy: Arc<String>,
}

impl PasswordVerifier {
    /// `parallel` verifications at most (normally the number of cores).
    pub fn new(parallel: usize) -> Result<Self, AuthError> {
        Ok(PasswordVerifier {
            permits: Arc::new(Semaphore::new(parallel.max(1))),
            dummy: Arc::new(hash_password("loginguard-dummy-password")?),
        })
    }

    /// True when `password` matches `stored`. With `stored == None` (unknown
    /// user) the dummy hash is checked and the answer is always false.
    pub async fn verify(&self, stored: Option<&str>, password: &str) -> Result<bool, AuthError> {
        let known = stored.is_some();
        let hash = stored.unwrap_or(&self.dummy).to_owned();
        let password = password.to_owned();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AuthError::Hashing(e.to_string()))?;
        let span = tracing::Span::current();
        let ok = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            match PasswordHash::new(&hash) {
                Ok(parsed) => Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
                Err(e) => {
                    tracing::error!(error = %e, "stored password hash is unreadable");
                    false
                }
            }
        })
        .in_current_span()
        .await
        .map_err(|e| AuthError::Hashing(e.to_string()))?;
        Ok(known && ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_its_own_hashes() {
        let v = PasswordVerifier::new(2).unwrap();
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(v.verify(Some(&h), "s3cret").await.unwrap());
        assert!(!v.verify(Some(&h), "wrong").await.unwrap());
        assert!(!v.verify(None, "loginguard-dummy-password").await.unwrap());
        assert!(!v.verify(Some("not a hash"), "x").await.unwrap());
    }
}
