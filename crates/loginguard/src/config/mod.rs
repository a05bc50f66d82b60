//! Configuration: one typed tree, read from flags, `LOGINGUARD_*` env vars,
//! a `--config` TOML file and built-in defaults (in that order of precedence).
//!
//! Each setting is written once, as a field below: its doc comment is the
//! `--help` text, `default_value` is the default `--help` shows, `env` names
//! its variable, and its parser (`parse`) types and checks it. `file` lays
//! the TOML file under flags and env. Each part of the app receives only its
//! own sub-tree. The only module that reads the environment or a file.

mod error;
mod file;
mod parse;

pub use error::ConfigError;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser};
use secrecy::SecretString;

use crate::domain::{ClassLimits, Lifetimes, OnLimit, Policy};

/// `loginguard serve`: the settings tree plus the file that may hold them.
#[derive(Parser, Debug)]
#[command(name = "serve")]
pub struct ServeArgs {
    /// TOML file with any of the settings below (flat, `_` for `-`: `max_sessions = 2`).
    #[arg(long, env = "LOGINGUARD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Config,
}

/// `loginguard audit`: where the trail is (the store's own settings, so
/// TLS, ACL users, Cluster and Sentinel work as for `serve`) and what to print.
#[derive(Parser, Debug)]
#[command(name = "audit")]
pub struct AuditArgs {
    #[command(flatten)]
    pub store: StoreConfig,
    /// Print the newest entries oldest first, then each new one as it comes, until interrupted.
    #[arg(long)]
    pub follow: bool,
    /// Only this account's entries.
    #[arg(long)]
    pub username: Option<String>,
    /// How many entries to print first (1 to 1000).
    #[arg(long, default_value = "100", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
}

/// Every setting of a running instance.
#[derive(Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub http: HttpConfig,
    #[command(flatten)]
    pub store: StoreConfig,
    #[command(flatten)]
    pub accounts: AccountsConfig,
    #[command(flatten)]
    pub session: SessionConfig,
    #[command(flatten)]
    pub ws: WsConfig,
    #[command(flatten)]
    pub limits: LimitsConfig,
    #[command(flatten)]
    pub admin: AdminConfig,
    #[command(flatten)]
    pub webhooks: WebhooksConfig,
}

/// The listener and what it trusts about its clients.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Listener")]
pub struct HttpConfig {
    /// Address to listen on.
    #[arg(long, env = "LOGINGUARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// WebSocket Origin allow-list, comma-separated [default: any].
    #[arg(long, env = "LOGINGUARD_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Take the client IP from the last X-Forwarded-For entry (only behind a proxy you run).
    #[arg(long, env = "LOGINGUARD_TRUST_FORWARDED_FOR", num_args = 0..=1,
          default_value = "false", default_missing_value = "true", value_parser = parse::switch)]
    pub trust_forwarded_for: bool,
    /// Serve HTTPS and WSS with this PEM certificate chain (reloaded on SIGHUP); needs --tls-key.
    #[arg(long, env = "LOGINGUARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "LOGINGUARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Cookie mode: sign-in also sets this cookie (HttpOnly, SameSite=Lax), logout clears it, and every authenticated endpoint accepts it [default: off].
    #[arg(long, env = "LOGINGUARD_COOKIE", value_parser = parse::cookie_name)]
    pub cookie: Option<String>,
    /// Leave `Secure` off the --cookie (only for plain-HTTP development).
    #[arg(long, env = "LOGINGUARD_COOKIE_INSECURE", num_args = 0..=1,
          default_value = "false", default_missing_value = "true", value_parser = parse::switch)]
    pub cookie_insecure: bool,
}

/// Where sessions live.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Session store")]
pub struct StoreConfig {
    /// Use Redis at this URL instead of the embedded store, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS, redis://user:password@host for an ACL user).
    #[arg(long, env = "LOGINGUARD_REDIS", hide_env_values = true, value_parser = parse::redis_url,
          conflicts_with_all = ["redis_cluster", "redis_sentinel"])]
    pub redis: Option<SecretString>,
    /// Use Redis Cluster seeded by these nodes, comma-separated (redis://h1:p1,redis://h2:p2).
    #[arg(long, env = "LOGINGUARD_REDIS_CLUSTER", hide_env_values = true, value_delimiter = ',', value_parser = parse::redis_url,
          conflicts_with = "redis_sentinel")]
    pub redis_cluster: Vec<SecretString>,
    /// Use the Redis master that these Sentinels name, comma-separated (redis://s1:26379,redis://s2:26379); needs --redis-master.
    #[arg(long, env = "LOGINGUARD_REDIS_SENTINEL", hide_env_values = true, value_delimiter = ',', value_parser = parse::redis_url,
          requires = "redis_master")]
    pub redis_sentinel: Vec<SecretString>,
    /// With --redis-sentinel: the master's Sentinel name (reached with TLS when the Sentinel URLs are rediss://, with no user), or a URL with that name as host giving the user, password, database and TLS for the master (rediss://lg:secret@mymaster/0).
    #[arg(long, env = "LOGINGUARD_REDIS_MASTER", hide_env_values = true, value_parser = parse::sentinel_master,
          requires = "redis_sentinel")]
    pub redis_master: Option<SecretString>,
    /// PEM file of the CA that signed the Redis servers' certificates, for rediss:// URLs [default: the system's trust store].
    #[arg(long, env = "LOGINGUARD_REDIS_CA", value_parser = parse::ca_bundle)]
    pub redis_ca: Option<CaBundle>,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "LOGINGUARD_REDIS_PREFIX", default_value = "lg")]
    pub redis_prefix: String,
    /// Run even when Redis's maxmemory-policy is not noeviction (it may then evict sessions).
    #[arg(long, env = "LOGINGUARD_ALLOW_EVICTING_REDIS", num_args = 0..=1,
          default_value = "false", default_missing_value = "true", value_parser = parse::switch)]
    pub allow_evicting_redis: bool,
    /// How long a Redis call may take before it fails (503); a sign-in is retried, then undone.
    #[arg(long, env = "LOGINGUARD_REDIS_TIMEOUT", default_value = "2s", value_parser = parse::duration)]
    pub redis_timeout: Duration,
    /// Audit trail entries kept (1 to 10000000); older ones are dropped (on Redis: about this many, `XADD MAXLEN ~`).
    #[arg(long, env = "LOGINGUARD_AUDIT_MAX_ENTRIES", default_value = "100000",
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub audit_max_entries: u32,
}

/// Which store backend a `StoreConfig` selects.
pub enum StoreBackend<'a> {
    Memory,
    Redis(&'a SecretString),
    Cluster(&'a [SecretString]),
    Sentinel {
        sentinels: &'a [SecretString],
        master: &'a SecretString,
    },
}

impl StoreConfig {
    pub fn backend(&self) -> StoreBackend<'_> {
        match (
            &self.redis,
            self.redis_cluster.as_slice(),
            &self.redis_master,
        ) {
            (Some(url), _, _) => StoreBackend::Redis(url),
            (None, [], Some(master)) => StoreBackend::Sentinel {
                sentinels: &self.redis_sentinel,
                master,
            },
            (None, [], None) => StoreBackend::Memory,
            (None, nodes, _) => StoreBackend::Cluster(nodes),
        }
    }
}

/// The CA certificates of `--redis-ca`, read and checked with the settings.
#[derive(Clone)]
pub struct CaBundle {
    pub pem: Vec<u8>,
    /// How many certificates the file holds (at least one).
    pub certificates: usize,
}

impl std::fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CaBundle({} certificates)", self.certificates)
    }
}

/// Who may sign in.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Accounts")]
pub struct AccountsConfig {
    /// Accounts file (TOML, argon2id hashes); without it, demo accounts.
    #[arg(long, env = "LOGINGUARD_USERS")]
    pub users: Option<PathBuf>,
    /// Trusted backends' API keys (TOML, SHA-256 of each key; reloaded on SIGHUP) [default: none, /api/v1 answers 401].
    #[arg(long, env = "LOGINGUARD_API_KEYS")]
    pub api_keys: Option<PathBuf>,
}

/// The session policy and lifetimes.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Sessions")]
pub struct SessionConfig {
    /// Live sessions per account.
    #[arg(long, env = "LOGINGUARD_MAX_SESSIONS", default_value = "1", value_parser = parse::at_least_one)]
    pub max_sessions: u32,
    /// What a sign-in over the limit does: kick_oldest, deny_new or ask (409 with an eviction ticket).
    #[arg(long, env = "LOGINGUARD_ON_LIMIT", default_value = "kick_oldest", value_parser = parse::on_limit)]
    pub on_limit: OnLimit,
    /// Live sessions per device class within max-sessions, e.g. web=1,mobile=1 (classes not named share the total) [default: none].
    #[arg(long, env = "LOGINGUARD_CLASS_LIMITS", default_value = "", hide_default_value = true, value_parser = parse::class_limits)]
    pub class_limits: ClassLimits,
    /// Under deny_new, a session unused this long does not block a sign-in: it is signed out to make room (0 = off).
    #[arg(long, env = "LOGINGUARD_STALE_AFTER", default_value = "10m", value_parser = parse::duration_or_off)]
    pub stale_after: Duration,
    /// A session unused this long expires.
    #[arg(long, env = "LOGINGUARD_IDLE_TIMEOUT", default_value = "30m", value_parser = parse::duration)]
    pub idle_timeout: Duration,
    /// No session lives longer than this.
    #[arg(long, env = "LOGINGUARD_ABSOLUTE_LIFETIME", default_value = "12h", value_parser = parse::duration)]
    pub absolute_lifetime: Duration,
    /// Write a session's last use to the store at most this often (capped at a quarter of idle-timeout).
    #[arg(long, env = "LOGINGUARD_TOUCH_INTERVAL", default_value = "60s", value_parser = parse::duration)]
    pub touch_interval: Duration,
    /// Recheck every open socket's session this often (expiry, lost events).
    #[arg(long, env = "LOGINGUARD_SWEEP_INTERVAL", default_value = "30s", value_parser = parse::duration)]
    pub sweep_interval: Duration,
}

impl SessionConfig {
    /// The instance-wide policy (the users file may override it per account).
    pub fn policy(&self) -> Policy {
        Policy {
            max_sessions: self.max_sessions,
            on_limit: self.on_limit,
            class_limits: self.class_limits.clone(),
            stale_after: (!self.stale_after.is_zero())
                .then(|| self.stale_after.max(self.never_stale_below())),
        }
    }

    /// The shortest `stale_after` in effect. A socket's messages move its
    /// session's `last_seen_at` only every `touch_after` (once in the socket,
    /// once more in the store), so a page that pings can look up to twice
    /// that old; three times it, and such a page is never taken for stale.
    fn never_stale_below(&self) -> Duration {
        self.lifetimes().touch_after * 3
    }

    pub fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            idle: self.idle_timeout,
            absolute: self.absolute_lifetime,
            // Touching less often than a quarter of the idle timeout could let
            // a session in use expire between two writes.
            touch_after: self.touch_interval.min(self.idle_timeout / 4),
        }
    }
}

/// WebSocket timing.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "WebSocket")]
pub struct WsConfig {
    /// Close a socket that sent nothing this long (a ping is sent halfway).
    #[arg(id = "ws_idle_timeout", long = "ws-idle-timeout", env = "LOGINGUARD_WS_IDLE_TIMEOUT",
          default_value = "90s", value_parser = parse::at_least_a_second)]
    pub idle_timeout: Duration,
    /// How long a new socket may take to send `auth`.
    #[arg(id = "ws_auth_timeout", long = "ws-auth-timeout", env = "LOGINGUARD_WS_AUTH_TIMEOUT",
          default_value = "5s", value_parser = parse::duration)]
    pub auth_timeout: Duration,
    /// Drop a socket that does not take a frame within this (its client stopped reading).
    #[arg(id = "ws_write_timeout", long = "ws-write-timeout", env = "LOGINGUARD_WS_WRITE_TIMEOUT",
          default_value = "10s", value_parser = parse::duration)]
    pub write_timeout: Duration,
    /// Sockets one session may hold open on one instance; past it a new one is closed with 1008.
    #[arg(long, env = "LOGINGUARD_MAX_SOCKETS_PER_SESSION", default_value = "16", value_parser = parse::at_least_one)]
    pub max_sockets_per_session: u32,
    /// With Redis: publish this instance's socket counts this often.
    #[arg(long, env = "LOGINGUARD_PRESENCE_INTERVAL", default_value = "1s", value_parser = parse::duration)]
    pub presence_interval: Duration,
}

/// Failed sign-in limits.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Rate limits")]
pub struct LimitsConfig {
    /// Failed sign-ins allowed per client IP per minute; 0 = off.
    #[arg(long, env = "LOGINGUARD_RATE_LIMIT_IP", default_value = "50")]
    pub rate_limit_ip: u32,
    /// Failed sign-ins allowed per account per minute; 0 = off. A browser with
    /// a device token from an earlier sign-in gets this many of its own.
    #[arg(long, env = "LOGINGUARD_RATE_LIMIT_ACCOUNT", default_value = "20")]
    pub rate_limit_account: u32,
    /// Secret (32+ bytes) that signs device tokens; give every instance the same
    /// one [default: random per start, so tokens die with the process].
    #[arg(long, env = "LOGINGUARD_DEVICE_COOKIE_KEY", hide_env_values = true,
          value_parser = parse::device_cookie_key)]
    pub device_cookie_key: Option<SecretString>,
}

/// The admin view.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Administration")]
pub struct AdminConfig {
    /// How old the admin session list may be (at most 5s).
    #[arg(id = "admin_cache_ttl", long = "admin-cache-ttl", env = "LOGINGUARD_ADMIN_CACHE_TTL",
          default_value = "5s", value_parser = parse::at_most_five_seconds)]
    pub cache_ttl: Duration,
}

/// Signed webhooks.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Webhooks")]
pub struct WebhooksConfig {
    /// Webhook endpoints (TOML `[[webhook]]` url, secret, events; reloaded on SIGHUP) [default: none].
    #[arg(long, env = "LOGINGUARD_WEBHOOKS")]
    pub webhooks: Option<PathBuf>,
    /// How long one delivery attempt may take, connecting included.
    #[arg(long, env = "LOGINGUARD_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse::at_least_a_second)]
    pub webhook_timeout: Duration,
}

impl Config {
    /// Reads `serve`'s arguments (without the program and subcommand
    /// names), the environment and the `--config` file.
    pub fn load<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut argv: Vec<OsString> = vec!["serve".into()];
        argv.extend(args.into_iter().map(Into::into));
        let command = ServeArgs::command();
        let matches = command
            .clone()
            .try_get_matches_from(&argv)
            .map_err(ConfigError::from_clap)?;
        let parsed = ServeArgs::from_arg_matches(&matches).map_err(ConfigError::from_clap)?;
        let Some(path) = parsed.config else {
            return Ok(parsed.settings);
        };
        // The file sits under flags and env: its values are passed as flags
        // only for the settings nobody gave, then everything is parsed again.
        let extra = file::unset_settings_as_flags(&path, &command, &matches)?;
        argv.extend(extra);
        let matches = command
            .try_get_matches_from(&argv)
            .map_err(|e| ConfigError::from_clap(e).in_file(&path))?;
        let parsed = ServeArgs::from_arg_matches(&matches)
            .map_err(|e| ConfigError::from_clap(e).in_file(&path))?;
        Ok(parsed.settings)
    }

    /// The built-in defaults, ignoring the environment (tests, embedders).
    pub fn defaults() -> Config {
        let command = ServeArgs::command().mut_args(|a| a.env(None));
        let matches = command
            .try_get_matches_from(["serve"])
            .expect("the built-in defaults parse");
        ServeArgs::from_arg_matches(&matches)
            .expect("the built-in defaults are valid")
            .settings
    }
}

#[cfg(test)]
mod tests;
