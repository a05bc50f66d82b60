//! The `--webhooks` file: where events go, signed with which secrets.
//!
//! `[[webhook]]` entries with `url`, `secret` (`whsec_` + base64, or a list
//! of them while one is rotated) and `events`. Loaded through `auth::files`
//! like the API keys, so every error names the file, the entry and its
//! line; a reload that fails leaves the endpoints in force. Secrets are
//! never printed (`Debug` leaves them out).

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use crate::auth::files::{self, InForce};
use crate::domain::WebhookEvent;

/// What every secret starts with (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";
/// Secret sizes Standard Webhooks allows, in bytes after decoding.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// One signing key, decoded.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// `whsec_` and the base64 of 24-64 random bytes.
    pub fn parse(raw: &str) -> Result<Secret, String> {
        let encoded = raw
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("secret must start with {SECRET_PREFIX}"))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| format!("secret must be {SECRET_PREFIX} followed by base64"))?;
        if !SECRET_BYTES.contains(&bytes.len()) {
            return Err(format!(
                "secret must decode to 24-64 bytes, not {}",
                bytes.len()
            ));
        }
        Ok(Secret(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One receiver.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub url: String,
    /// Every secret signs each attempt (more than one only while rotating).
    pub secrets: Vec<Secret>,
    pub events: Vec<WebhookEvent>,
}

impl Endpoint {
    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.events.contains(&event)
    }
}

/// The endpoints of one file (possibly none).
#[derive(Debug, Default)]
pub struct EndpointSet {
    endpoints: Vec<Endpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhooksFile {
    #[serde(default)]
    webhook: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    url: String,
    secret: Secrets,
    events: Vec<WebhookEvent>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Secrets {
    One(String),
    Several(Vec<String>),
}

fn check_url(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("url is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("url must be an http:// or https:// URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not hold credentials (the signature authenticates)".into());
    }
    Ok(())
}

impl EndpointSet {
    /// Reads and checks a webhooks file; every problem names the file, and
    /// the entry and its line where there is one.
    pub fn load(path: &Path) -> Result<Self, String> {
        files::load(path, "webhooks file", Self::parse)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: WebhooksFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut endpoints: Vec<Endpoint> = Vec::with_capacity(file.webhook.len());
        for (i, e) in file.webhook.into_iter().enumerate() {
            let at = files::entry_label(text, "webhook", i, &e.url);
            check_url(&e.url).map_err(|why| format!("{at}: {why}"))?;
            let raw = match e.secret {
                Secrets::One(s) => vec![s],
                Secrets::Several(list) => list,
            };
            if raw.is_empty() || raw.len() > 2 {
                return Err(format!(
                    "{at}: secret must be one secret, or two while rotating"
                ));
            }
            let secrets = raw
                .iter()
                .map(|s| Secret::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|why| format!("{at}: {why}"))?;
            if e.events.is_empty() {
                return Err(format!(
                    "{at}: events must name at least one of session.created, session.revoked, session.denied"
                ));
            }
            if endpoints.iter().any(|x| x.url == e.url) {
                return Err(format!("{at}: the same url is listed twice"));
            }
            endpoints.push(Endpoint {
                url: e.url,
                secrets,
                events: e.events,
            });
        }
        Ok(EndpointSet { endpoints })
    }

    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The endpoints subscribed to `event`.
    pub fn wanting(&self, event: WebhookEvent) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.iter().filter(move |e| e.wants(event))
    }

    /// The endpoint at `url`, if it is still configured.
    pub fn find(&self, url: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.url == url)
    }
}

/// The endpoints in force, replaced whole on reload. Without `--webhooks`
/// there are none and nothing reloads.
pub struct Webhooks(InForce<EndpointSet>);

impl Webhooks {
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        InForce::load(file, EndpointSet::load, EndpointSet::default).map(Webhooks)
    }

    pub fn current(&self) -> std::sync::Arc<EndpointSet> {
        self.0.current()
    }

    /// Reads the file again: `Ok(Some(n))` endpoints now in force,
    /// `Ok(None)` without a file; on an error the endpoints stay.
    pub fn reload(&self) -> Result<Option<usize>, String> {
        Ok(self.0.reload(EndpointSet::load)?.map(|set| set.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn entry(url: &str) -> String {
        format!(
            "[[webhook]]\nurl = {url:?}\nsecret = {SECRET:?}\nevents = [\"session.created\", \"session.revoked\"]\n"
        )
    }

    #[test]
    fn a_good_file_routes_events_to_their_endpoints() {
        let text = format!(
            "{}\n[[webhook]]\nurl = \"https://b.example/h\"\nsecret = [{SECRET:?}, {SECRET:?}]\nevents = [\"session.denied\"]\n",
            entry("http://a.example/h")
        );
        let set = EndpointSet::parse(&text).unwrap();
        assert_eq!(set.len(), 2);
        let created: Vec<_> = set.wanting(WebhookEvent::SessionCreated).collect();
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].url, "http://a.example/h");
        let denied: Vec<_> = set.wanting(WebhookEvent::SessionDenied).collect();
        assert_eq!(denied[0].secrets.len(), 2);
        assert!(set.find("https://b.example/h").is_some());
        assert!(set.find("https://c.example/h").is_none());
        assert!(!format!("{set:?}").contains("MfKQ9"));
        assert!(EndpointSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn bad_files_name_the_entry_line_and_reason() {
        let ok = entry("https://a.example/h");
        let cases = [
            (
                ok.replace("session.created", "session.made"),
                "session.made",
            ),
            (
                ok.replace("https://a.example/h", "ftp://a.example/h"),
                "http:// or https://",
            ),
            (
                ok.replace("https://a.example/h", "not a url"),
                "url is not a URL",
            ),
            (ok.replace("https://", "https://u:p@"), "credentials"),
            (ok.replace("whsec_", "wh_"), "must start with whsec_"),
            (ok.replace(SECRET, "whsec_!!!"), "base64"),
            (ok.replace(SECRET, "whsec_c2hvcnQ="), "24-64 bytes"),
            (
                format!(
                    "# hooks\n\n{}",
                    ok.replace("\"session.created\", \"session.revoked\"", "")
                ),
                "line 3",
            ),
            (format!("{ok}{ok}"), "listed twice"),
            (
                ok.replace(&format!("{SECRET:?}"), "[]"),
                "two while rotating",
            ),
            (
                "[[webhook]]\nurl = \"https://a.example\"\n".to_owned(),
                "secret",
            ),
            (format!("{ok}extra = 1\n"), "extra"),
        ];
        for (text, needle) in cases {
            let err = EndpointSet::parse(&text).unwrap_err();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }

    #[test]
    fn reload_keeps_the_endpoints_when_the_file_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhooks.toml");
        std::fs::write(&path, entry("https://a.example/h")).unwrap();
        let hooks = Webhooks::load(Some(&path)).unwrap();
        std::fs::write(&path, entry("https://b.example/h")).unwrap();
        assert_eq!(hooks.reload(), Ok(Some(1)));
        assert!(hooks.current().find("https://b.example/h").is_some());
        std::fs::write(&path, "[[webhook]]\nurl = 1\n").unwrap();
        assert!(hooks.reload().unwrap_err().contains("webhooks.toml"));
        assert!(hooks.current().find("https://b.example/h").is_some());
        assert_eq!(Webhooks::load(None).unwrap().reload(), Ok(None));
    }
}
