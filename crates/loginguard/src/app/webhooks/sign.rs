//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256>` of
//! `"{webhook-id}.{webhook-timestamp}.{body}"`, one per secret, joined by
//! spaces.
//!
//! Called by `deliver` on every attempt (the timestamp is the attempt's, so
//! a receiver's freshness check passes on a late retry too). Several
//! secrets sign at once while one is being rotated: a receiver holding
//! either finds a signature it can check.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::endpoints::Secret;

/// The `webhook-signature` header value for one attempt.
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: u64, body: &str) -> String {
    secrets
        .iter()
        .map(|secret| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.bytes())
                .expect("HMAC takes a key of any length");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body.as_bytes());
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks specification's test suite.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let header = signature_header(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_secret_signs_during_a_rotation() {
        let old = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let new = Secret::parse("whsec_c2Vjb25kIHNlY3JldCBvZiAyNCBieXRlcyE=").unwrap();
        let both = signature_header(&[old.clone(), new.clone()], "msg_1", 1, "{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature_header(&[old], "msg_1", 1, "{}"));
        assert_eq!(parts[1], signature_header(&[new], "msg_1", 1, "{}"));
        assert_ne!(parts[0], parts[1]);
    }
}
