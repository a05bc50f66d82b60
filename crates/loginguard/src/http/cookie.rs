//! Cookie mode (`--cookie NAME`): the token also travels in an HttpOnly
//! cookie, for pages and reverse proxies that cannot hold a bearer token.
//!
//! `CookieRule` builds the `Set-Cookie` values of sign-in and logout, finds
//! the token among a request's cookies, and decides whether a browser's
//! `Origin` may act with the cookie (CSRF): listed in `--allowed-origins`
//! or the server's own. Used by the extractors, the sign-in handlers and the
//! socket upgrade; it knows nothing of sessions.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::AppendHeaders;

use super::state::OriginRule;
use crate::domain::Token;

/// A response's `Set-Cookie` header, when there is one to send.
pub type SetCookie = AppendHeaders<Option<(HeaderName, HeaderValue)>>;

/// `value` (from `CookieRule::set` or `clear`) as a response header.
pub fn set_cookie(value: Option<HeaderValue>) -> SetCookie {
    AppendHeaders(value.map(|v| (header::SET_COOKIE, v)))
}

/// The cookie settings of this instance; `name` is `None` when cookie mode
/// is off, and then every method here answers "no cookie".
#[derive(Clone, Debug)]
pub struct CookieRule {
    pub name: Option<Arc<str>>,
    /// Adds `Secure` (off only with `--cookie-insecure`).
    pub secure: bool,
    /// Whether this listener speaks HTTPS: the scheme of its own origin.
    pub https: bool,
    /// Believe `X-Forwarded-Proto` about the scheme (`--trust-forwarded-for`).
    pub trust_forwarded_proto: bool,
}

impl CookieRule {
    /// Cookie mode off.
    pub fn off() -> Self {
        CookieRule {
            name: None,
            secure: true,
            https: false,
            trust_forwarded_proto: false,
        }
    }

    /// The `Set-Cookie` that hands `token` to the browser for `lifetime`.
    pub fn set(&self, token: &Token, lifetime: Duration) -> Option<HeaderValue> {
        let name = self.name.as_deref()?;
        self.header(name, token.expose(), lifetime.as_secs())
    }

    /// The `Set-Cookie` that makes the browser forget it.
    pub fn clear(&self) -> Option<HeaderValue> {
        let name = self.name.as_deref()?;
        self.header(name, "", 0)
    }

    fn header(&self, name: &str, value: &str, max_age: u64) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        let text =
            format!("{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}");
        // Name and token are both plain ASCII tokens, so this cannot fail.
        HeaderValue::from_str(&text).ok()
    }

    /// The cookie's value among the request's `Cookie` headers (the first
    /// one of that name).
    pub fn token<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let name = self.name.as_deref()?;
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// `Some(true)` when the request's `Origin` may act with the cookie
    /// (listed in `--allowed-origins`, or this server's own origin),
    /// `Some(false)` for any other origin, `None` without an `Origin`.
    pub fn origin_trusted(&self, headers: &HeaderMap, origins: &OriginRule) -> Option<bool> {
        let origin = headers.get(header::ORIGIN)?.as_bytes();
        Some(origins.lists(origin) || self.is_own_origin(headers, origin))
    }

    /// Whether `origin` is `<scheme>://<Host header>` of this request.
    fn is_own_origin(&self, headers: &HeaderMap, origin: &[u8]) -> bool {
        let Some(host) = headers.get(header::HOST).map(HeaderValue::as_bytes) else {
            return false;
        };
        let forwarded_https = self.trust_forwarded_proto
            && headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        let scheme: &[u8] = if self.https || forwarded_https {
            b"https://"
        } else {
            b"http://"
        };
        origin.len() == scheme.len() + host.len()
            && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
            && origin[scheme.len()..].eq_ignore_ascii_case(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> CookieRule {
        CookieRule {
            name: Some("lg".into()),
            ..CookieRule::off()
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn set_and_clear_carry_the_attributes() {
        let token = Token::issue(
            &crate::domain::Username::parse("u").unwrap(),
            [1; 16],
            [2; 32],
        );
        let set = rule().set(&token, Duration::from_secs(60)).unwrap();
        assert_eq!(
            set.to_str().unwrap(),
            format!(
                "lg={}; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure",
                token.expose()
            )
        );
        let insecure = CookieRule {
            secure: false,
            ..rule()
        };
        assert_eq!(
            insecure.clear().unwrap().to_str().unwrap(),
            "lg=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        );
        assert!(CookieRule::off().clear().is_none());
    }

    #[test]
    fn finds_its_cookie_among_others() {
        let h = headers(&[("cookie", "a=1; lgx=2"), ("cookie", "lg=tok; lg=later")]);
        assert_eq!(rule().token(&h), Some("tok"));
        assert_eq!(CookieRule::off().token(&h), None);
        assert_eq!(rule().token(&headers(&[("cookie", "lgx=2")])), None);
    }

    #[test]
    fn own_and_listed_origins_are_trusted() {
        let listed = OriginRule {
            allowed: vec!["https://app.example".to_owned()].into(),
        };
        let none = OriginRule {
            allowed: Vec::new().into(),
        };
        let host = ("host", "lg.example:8080");
        let cases = [
            (&none, "http://lg.example:8080", Some(true)),
            (&none, "HTTP://LG.example:8080", Some(true)),
            (&none, "https://lg.example:8080", Some(false)),
            (&none, "http://lg.example", Some(false)),
            (&none, "null", Some(false)),
            (&listed, "https://app.example", Some(true)),
            (&none, "https://app.example", Some(false)),
        ];
        for (origins, origin, expected) in cases {
            let h = headers(&[host, ("origin", origin)]);
            assert_eq!(rule().origin_trusted(&h, origins), expected, "{origin}");
        }
        assert_eq!(rule().origin_trusted(&headers(&[host]), &none), None);
        let proxied = headers(&[
            host,
            ("origin", "https://lg.example:8080"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(rule().origin_trusted(&proxied, &none), Some(false));
        let trusting = CookieRule {
            trust_forwarded_proto: true,
            ..rule()
        };
        assert_eq!(trusting.origin_trusted(&proxied, &none), Some(true));
    }
}
