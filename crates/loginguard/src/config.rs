//! Configuration: built-in defaults < `--config` TOML < `LOGINGUARD_*` env < flags.
//!
//! The only module that reads the environment or a config file. `ServeArgs`
//! is the clap definition (flag and env var share one field); figment layers
//! the TOML file under it; `Config::from_settings` parses durations and URLs
//! and validates once, naming the setting in every error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::domain::{Lifetimes, OnLimit, Policy};

/// `loginguard serve` flags. Every value is optional here so that an unset
/// flag lets the TOML file or the default show through.
#[derive(Args, Debug, Default, Serialize)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (`_` for `-`).
    #[arg(long, env = "LOGINGUARD_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LOGINGUARD_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Use Redis at this URL instead of the embedded store, e.g. redis://127.0.0.1:6379/0.
    #[arg(long, env = "LOGINGUARD_REDIS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    /// Use Redis Cluster seeded by these nodes, comma-separated (redis://h1:p1,redis://h2:p2).
    #[arg(long, env = "LOGINGUARD_REDIS_CLUSTER", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_cluster: Option<Vec<String>>,
    /// Prefix of every Redis key and channel [default: lg].
    #[arg(long, env = "LOGINGUARD_REDIS_PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_prefix: Option<String>,
    /// Accounts file (TOML, argon2id hashes); without it, demo accounts.
    #[arg(long, env = "LOGINGUARD_USERS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<PathBuf>,
    /// Live sessions per account [default: 1].
    #[arg(long, env = "LOGINGUARD_MAX_SESSIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// What a sign-in over the limit does: kick_oldest or deny_new [default: kick_oldest].
    #[arg(long, env = "LOGINGUARD_ON_LIMIT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_limit: Option<String>,
    /// A session unused this long expires [default: 30m].
    #[arg(long, env = "LOGINGUARD_IDLE_TIMEOUT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<String>,
    /// No session lives longer than this [default: 12h].
    #[arg(long, env = "LOGINGUARD_ABSOLUTE_LIFETIME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absolute_lifetime: Option<String>,
    /// Close a socket that sent nothing this long [default: 90s].
    #[arg(long, env = "LOGINGUARD_WS_IDLE_TIMEOUT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws_idle_timeout: Option<String>,
    /// How long a new socket may take to send `auth` [default: 5s].
    #[arg(long, env = "LOGINGUARD_WS_AUTH_TIMEOUT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws_auth_timeout: Option<String>,
    /// Write a session's last use to the store at most this often [default: 60s, capped at a quarter of idle-timeout].
    #[arg(long, env = "LOGINGUARD_TOUCH_INTERVAL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub touch_interval: Option<String>,
    /// Recheck every open socket's session this often (expiry, lost events) [default: 30s].
    #[arg(long, env = "LOGINGUARD_SWEEP_INTERVAL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_interval: Option<String>,
    /// With Redis: publish this instance's socket counts this often [default: 1s].
    #[arg(long, env = "LOGINGUARD_PRESENCE_INTERVAL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_interval: Option<String>,
    /// WebSocket Origin allow-list, comma-separated [default: any].
    #[arg(long, env = "LOGINGUARD_ALLOWED_ORIGINS", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// Failed sign-ins allowed per client IP per minute; 0 = off [default: 50].
    #[arg(long, env = "LOGINGUARD_RATE_LIMIT_IP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_ip: Option<u32>,
    /// Failed sign-ins allowed per account per minute; 0 = off [default: 20].
    #[arg(long, env = "LOGINGUARD_RATE_LIMIT_ACCOUNT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_account: Option<u32>,
    /// How old the admin session list may be, at most 5s [default: 5s].
    #[arg(long, env = "LOGINGUARD_ADMIN_CACHE_TTL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_cache_ttl: Option<String>,
    /// Take the client IP from the last X-Forwarded-For entry (only behind a proxy you run) [default: false].
    #[arg(long, env = "LOGINGUARD_TRUST_FORWARDED_FOR", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_forwarded_for: Option<bool>,
}

/// The merged, still textual settings (what figment produces).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    listen: String,
    redis: Option<String>,
    #[serde(default, deserialize_with = "optional_comma_list")]
    redis_cluster: Option<Vec<String>>,
    redis_prefix: String,
    users: Option<PathBuf>,
    max_sessions: u32,
    on_limit: String,
    idle_timeout: String,
    absolute_lifetime: String,
    ws_idle_timeout: String,
    ws_auth_timeout: String,
    touch_interval: String,
    sweep_interval: String,
    presence_interval: String,
    #[serde(deserialize_with = "comma_list")]
    allowed_origins: Vec<String>,
    rate_limit_ip: u32,
    rate_limit_account: u32,
    admin_cache_ttl: String,
    trust_forwarded_for: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            redis: None,
            redis_cluster: None,
            redis_prefix: "lg".into(),
            users: None,
            max_sessions: 1,
            on_limit: "kick_oldest".into(),
            idle_timeout: "30m".into(),
            absolute_lifetime: "12h".into(),
            ws_idle_timeout: "90s".into(),
            ws_auth_timeout: "5s".into(),
            touch_interval: "60s".into(),
            sweep_interval: "30s".into(),
            presence_interval: "1s".into(),
            allowed_origins: Vec::new(),
            rate_limit_ip: 50,
            rate_limit_account: 20,
            admin_cache_ttl: "5s".into(),
            trust_forwarded_for: false,
        }
    }
}

/// Where sessions live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreConfig {
    Memory,
    Redis { url: String, prefix: String },
    RedisCluster { nodes: Vec<String>, prefix: String },
}

/// The validated configuration `startup` builds the app from.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub store: StoreConfig,
    pub users: Option<PathBuf>,
    pub policy: Policy,
    pub lifetimes: Lifetimes,
    pub ws_idle_timeout: Duration,
    pub ws_auth_timeout: Duration,
    pub sweep_interval: Duration,
    pub presence_interval: Duration,
    pub allowed_origins: Vec<String>,
    pub rate_limit_ip: u32,
    pub rate_limit_account: u32,
    pub admin_cache_ttl: Duration,
    pub trust_forwarded_for: bool,
}

/// A setting that cannot be used; the message names it and its source.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {setting} = {value:?}: {problem}")]
    Invalid {
        setting: &'static str,
        value: String,
        problem: String,
    },
}

fn invalid(setting: &'static str, value: &str, problem: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        setting,
        value: value.to_owned(),
        problem: problem.to_string(),
    }
}

/// A Redis URL fit for an error message: any password in it is masked.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) if !rest[..rest.find('@').unwrap_or(0)].contains('/') => {
                format!("{scheme}://***@{host}")
            }
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A list setting written either as an array or as one comma-separated string.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_list(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => s
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            OneOrMany::Many(v) => v,
        }
    }
}

fn comma_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    OneOrMany::deserialize(d).map(OneOrMany::into_list)
}

fn optional_comma_list<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<OneOrMany>::deserialize(d)?.map(OneOrMany::into_list))
}

/// The longest duration any setting takes: longer ones are surely typos, and
/// would overflow the time arithmetic they feed.
const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

fn duration(setting: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(raw).map_err(|e| invalid(setting, raw, e))?;
    if d.is_zero() {
        return Err(invalid(setting, raw, "must be longer than zero"));
    }
    if d > MAX_DURATION {
        return Err(invalid(setting, raw, "must be at most 10 years"));
    }
    Ok(d)
}

impl Config {
    /// Layers defaults, the TOML file named by `--config`, and the flags/env.
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &args.config {
            if !path.exists() {
                return Err(invalid(
                    "config",
                    &path.display().to_string(),
                    "file not found",
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        let settings: Settings = figment
            .merge(Serialized::defaults(args))
            .extract()
            .map_err(Box::new)?;
        Self::from_settings(settings)
    }

    fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let listen = s
            .listen
            .parse()
            .map_err(|e| invalid("listen", &s.listen, e))?;
        let store = match (s.redis, s.redis_cluster) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "redis_cluster",
                    "",
                    "give either redis or redis_cluster, not both",
                ))
            }
            (Some(url), None) => {
                redis::Client::open(url.as_str())
                    .map_err(|e| invalid("redis", &redact(&url), e))?;
                StoreConfig::Redis {
                    url,
                    prefix: s.redis_prefix,
                }
            }
            (None, Some(nodes)) => {
                let nodes: Vec<String> = nodes
                    .into_iter()
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect();
                if nodes.is_empty() {
                    return Err(invalid("redis_cluster", "", "needs at least one node URL"));
                }
                for n in &nodes {
                    redis::Client::open(n.as_str())
                        .map_err(|e| invalid("redis_cluster", &redact(n), e))?;
                }
                StoreConfig::RedisCluster {
                    nodes,
                    prefix: s.redis_prefix,
                }
            }
            (None, None) => StoreConfig::Memory,
        };
        if s.max_sessions == 0 {
            return Err(invalid("max_sessions", "0", "must be at least 1"));
        }
        let on_limit = match s.on_limit.as_str() {
            "kick_oldest" => OnLimit::KickOldest,
            "deny_new" => OnLimit::DenyNew,
            other => {
                return Err(invalid(
                    "on_limit",
                    other,
                    "expected kick_oldest or deny_new",
                ))
            }
        };
        let idle = duration("idle_timeout", &s.idle_timeout)?;
        let touch_after = duration("touch_interval", &s.touch_interval)?.min(idle / 4);
        let ws_idle_timeout = duration("ws_idle_timeout", &s.ws_idle_timeout)?;
        if ws_idle_timeout < Duration::from_secs(1) {
            return Err(invalid(
                "ws_idle_timeout",
                &s.ws_idle_timeout,
                "must be at least 1s",
            ));
        }
        let admin_cache_ttl = duration("admin_cache_ttl", &s.admin_cache_ttl)?;
        if admin_cache_ttl > Duration::from_secs(5) {
            return Err(invalid(
                "admin_cache_ttl",
                &s.admin_cache_ttl,
                "must be at most 5s",
            ));
        }
        Ok(Config {
            listen,
            store,
            users: s.users,
            policy: Policy {
                max_sessions: s.max_sessions,
                on_limit,
            },
            lifetimes: Lifetimes {
                idle,
                absolute: duration("absolute_lifetime", &s.absolute_lifetime)?,
                touch_after,
            },
            ws_idle_timeout,
            ws_auth_timeout: duration("ws_auth_timeout", &s.ws_auth_timeout)?,
            sweep_interval: duration("sweep_interval", &s.sweep_interval)?,
            presence_interval: duration("presence_interval", &s.presence_interval)?,
            allowed_origins: s.allowed_origins,
            rate_limit_ip: s.rate_limit_ip,
            rate_limit_account: s.rate_limit_account,
            admin_cache_ttl,
            trust_forwarded_for: s.trust_forwarded_for,
        })
    }

    /// The defaults, as a test or embedder starting point.
    pub fn defaults() -> Config {
        Self::from_settings(Settings::default()).expect("built-in defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_protocol() {
        let c = Config::defaults();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.store, StoreConfig::Memory);
        assert_eq!(c.policy.max_sessions, 1);
        assert_eq!(c.policy.on_limit, OnLimit::KickOldest);
        assert_eq!(c.lifetimes.idle, Duration::from_secs(1800));
        assert_eq!(c.lifetimes.absolute, Duration::from_secs(12 * 3600));
        assert_eq!(c.ws_idle_timeout, Duration::from_secs(90));
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lg.toml");
        std::fs::write(
            &file,
            "max_sessions = 2\non_limit = \"deny_new\"\nidle_timeout = \"10m\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            max_sessions: Some(3),
            ..Default::default()
        };
        let c = Config::load(&args).unwrap();
        assert_eq!(c.policy.max_sessions, 3, "flag wins over file");
        assert_eq!(
            c.policy.on_limit,
            OnLimit::DenyNew,
            "file wins over default"
        );
        assert_eq!(c.lifetimes.idle, Duration::from_secs(600));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let cases = [
            ServeArgs {
                max_sessions: Some(0),
                ..Default::default()
            },
            ServeArgs {
                on_limit: Some("sometimes".into()),
                ..Default::default()
            },
            ServeArgs {
                idle_timeout: Some("soon".into()),
                ..Default::default()
            },
            ServeArgs {
                ws_auth_timeout: Some("300000000000y".into()),
                ..Default::default()
            },
            ServeArgs {
                listen: Some("nowhere".into()),
                ..Default::default()
            },
            ServeArgs {
                redis: Some("http://x".into()),
                ..Default::default()
            },
        ];
        for (args, setting) in cases.iter().zip([
            "max_sessions",
            "on_limit",
            "idle_timeout",
            "ws_auth_timeout",
            "listen",
            "redis",
        ]) {
            let err = Config::load(args).unwrap_err().to_string();
            assert!(err.contains(setting), "{err}");
        }
    }

    #[test]
    fn passwords_in_redis_urls_stay_out_of_errors() {
        assert_eq!(
            redact("rediss://:s3cret@host:6379/0"),
            "rediss://***@host:6379/0"
        );
        assert_eq!(redact("redis://user:pw@h"), "redis://***@h");
        assert_eq!(redact("redis://h:1/0"), "redis://h:1/0");
        let args = ServeArgs {
            redis: Some("redis://:s3cret@[::1:bad/0".into()),
            ..Default::default()
        };
        let err = Config::load(&args).unwrap_err().to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn lists_in_the_file_may_be_comma_separated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lg.toml");
        std::fs::write(&file, "allowed_origins = \"https://a.example, https://b.example\"\nredis_cluster = [\"redis://127.0.0.1:7000\"]\n").unwrap();
        let c = Config::load(&ServeArgs {
            config: Some(file),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            c.allowed_origins,
            vec!["https://a.example", "https://b.example"]
        );
        assert!(matches!(c.store, StoreConfig::RedisCluster { ref nodes, .. } if nodes.len() == 1));
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lg.toml");
        std::fs::write(&file, "max_sesions = 2\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            ..Default::default()
        };
        assert!(Config::load(&args)
            .unwrap_err()
            .to_string()
            .contains("max_sesions"));
    }
}
