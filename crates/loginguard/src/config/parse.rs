//! Value parsers for the settings tree: text in, typed and checked value out.
//!
//! Each returns a short problem statement on failure; `ConfigError` adds the
//! setting's name and where the value came from. Redis URLs and the device
//! token key are checked here and wrapped as secrets at once, so no later
//! `Debug` can print them; the Redis CA file is read here, so a bad one
//! stops start-up.

use std::time::Duration;

use secrecy::SecretString;

use super::CaBundle;
use crate::domain::{ClassLimits, OnLimit};

/// The longest duration any setting takes: longer ones are surely typos, and
/// would overflow the time arithmetic they feed.
const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `90s`, `30m`, `12h` style; more than zero, at most 10 years.
pub fn duration(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    if d > MAX_DURATION {
        return Err("must be at most 10 years".into());
    }
    Ok(d)
}

/// A duration, or `0` (zero) for off (`--stale-after`).
pub fn duration_or_off(raw: &str) -> Result<Duration, String> {
    if raw.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    duration(raw)
}

/// A duration of at least one second (the socket idle timer's resolution).
pub fn at_least_a_second(raw: &str) -> Result<Duration, String> {
    let d = duration(raw)?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(d)
}

/// A duration of at most five seconds (PROTOCOL.md's bound on admin staleness).
pub fn at_most_five_seconds(raw: &str) -> Result<Duration, String> {
    let d = duration(raw)?;
    if d > Duration::from_secs(5) {
        return Err("must be at most 5s".into());
    }
    Ok(d)
}

pub fn at_least_one(raw: &str) -> Result<u32, String> {
    match raw.trim().parse::<u32>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

pub fn on_limit(raw: &str) -> Result<OnLimit, String> {
    match raw {
        "kick_oldest" => Ok(OnLimit::KickOldest),
        "deny_new" => Ok(OnLimit::DenyNew),
        "ask" => Ok(OnLimit::Ask),
        _ => Err("expected kick_oldest, deny_new or ask".into()),
    }
}

/// `web=1,mobile=1` (see `domain::ClassLimits`).
pub fn class_limits(raw: &str) -> Result<ClassLimits, String> {
    ClassLimits::parse(raw).map_err(|e| e.to_string())
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`), for switches that env and the
/// file give as text.
pub fn switch(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// A cookie name: an RFC 6265 token (letters, digits and
/// ``!#$%&'*+-.^_`|~``), at most 64 characters.
pub fn cookie_name(raw: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("must be 1-64 letters, digits or !#$%&'*+-.^_`|~".into())
    }
}

/// A Redis URL the client library accepts. Its error never repeats the URL,
/// which may hold a password.
pub fn redis_url(raw: &str) -> Result<SecretString, String> {
    let raw = raw.trim();
    redis::Client::open(raw).map_err(|e| {
        let why = e.to_string();
        if why.contains(raw) {
            "not a usable Redis URL".to_owned()
        } else {
            format!("not a usable Redis URL: {why}")
        }
    })?;
    Ok(SecretString::from(raw.to_owned()))
}

/// The key that signs device tokens: at least 32 bytes (256 bits, HMAC-SHA256's
/// own size). Its error never repeats the value.
pub fn device_cookie_key(raw: &str) -> Result<SecretString, String> {
    if raw.len() < 32 {
        return Err("must be at least 32 bytes (e.g. `openssl rand -base64 32`)".into());
    }
    Ok(SecretString::from(raw.to_owned()))
}

/// `--redis-master`: a Sentinel master name, or a Redis URL whose host is
/// that name (it then carries the master's user, password, database and TLS).
pub fn sentinel_master(raw: &str) -> Result<SecretString, String> {
    let raw = raw.trim();
    if raw.contains("://") {
        return redis_url(raw);
    }
    let name_ok = !raw.is_empty()
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err("expected a Sentinel master name (letters, digits, - _ .) or a redis:// URL with the name as host".into());
    }
    Ok(SecretString::from(raw.to_owned()))
}

/// A PEM file holding at least one CA certificate.
pub fn ca_bundle(raw: &str) -> Result<CaBundle, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let pem = std::fs::read(raw).map_err(|e| format!("cannot read {raw}: {e}"))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{raw} is not a PEM certificate file: {e}"))?
        .len();
    if certificates == 0 {
        return Err(format!("{raw} holds no PEM certificate"));
    }
    Ok(CaBundle { pem, certificates })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert!(duration("0s").is_err());
        assert!(duration("300000000000y").is_err());
        assert!(duration("soon").is_err());
        assert!(at_least_a_second("500ms").is_err());
        assert!(at_most_five_seconds("6s").is_err());
    }

    #[test]
    fn cookie_names_are_tokens() {
        assert_eq!(cookie_name("lg_session"), Ok("lg_session".to_owned()));
        for bad in ["", "a b", "a;b", "a=b", "é", &"a".repeat(65)] {
            assert!(cookie_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn redis_url_errors_do_not_repeat_the_password() {
        let err = redis_url("redis://:s3cret@[::1:bad/0").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(redis_url("http://x").is_err());
        assert!(redis_url("redis://127.0.0.1:6379/0").is_ok());
        assert!(redis_url("rediss://lg:s3cret@127.0.0.1:6380/0").is_ok());
    }

    #[test]
    fn sentinel_master_is_a_name_or_a_url_naming_it() {
        assert!(sentinel_master("mymaster").is_ok());
        assert!(sentinel_master("rediss://lg:s3cret@mymaster/0").is_ok());
        assert!(sentinel_master("").is_err());
        assert!(sentinel_master("my master").is_err());
    }

    #[test]
    fn ca_bundles_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = ca_bundle(empty.to_str().unwrap()).unwrap_err();
        assert!(err.contains("no PEM certificate"), "{err}");
        let err = ca_bundle("/nonexistent/ca.pem").unwrap_err();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
