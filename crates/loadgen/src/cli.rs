//! The command line: one subcommand per scenario, each with its own bounds.
//!
//! Every scenario is bounded by a count and a `--duration`, and every URL goes
//! through `Target::parse`, so a non-loopback target is refused while the
//! arguments are parsed, before anything is sent.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::accounts::AccountArgs;
use crate::target::Target;

/// loginguard's load generator (loopback targets only).
#[derive(Parser, Debug)]
#[command(name = "loadgen", version, about, long_about = None)]
pub struct Cli {
    /// Print the report as JSON on stdout (progress still goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Hold N authenticated idle WebSockets; report the server's RSS per socket.
    Idle(IdleArgs),
    /// DELETE a session from another session of the account; time until its socket has force_logout.
    Revoke(RevokeArgs),
    /// Duplicate sign-in: the old socket's force_logout against the new sign-in's HTTP response.
    Kick(KickArgs),
    /// Password sign-ins per second.
    Login(LoginArgs),
    /// Token validations (GET /api/auth/session) per second over keep-alive connections.
    Validate(ValidateArgs),
    /// The reverse-proxy check (GET /api/auth/verify) per second, as `validate` does it.
    Verify(ValidateArgs),
    /// RFC 7662 introspection (POST /api/v1/introspect) per second, as `validate` does it.
    Introspect(IntrospectArgs),
    /// WebSocket ping -> pong latency while a sign-in flood keeps argon2 busy.
    PingUnderLoginFlood(PingFloodArgs),
    /// N sockets on one instance, SIGTERM to it, every client back on another (JS client backoff).
    ReconnectStorm(StormArgs),
    /// Redis memory per live session and per tombstone (sessions made through /api/v1).
    RedisMemory(RedisMemoryArgs),
    /// Sign-in -> its session.created webhook at a receiver loadgen runs.
    WebhookDelay(WebhookDelayArgs),
    /// Sign everyone out (DELETE /api/admin/sessions): time to the 200, to every socket's force_logout, Redis's longest stall.
    RevokeAll(RevokeAllArgs),
    /// The Python prototype (bench/prototype): validate, idle, kick.
    #[command(subcommand)]
    Prototype(crate::prototype::ProtoCommand),
    /// Draw earlier runs' JSON reports as an SVG figure.
    #[command(subcommand)]
    Plot(crate::plot::PlotCommand),
    /// Write a users file of benchmark accounts for `loginguard serve --users`.
    Users(UsersArgs),
    /// Internal: one client process of `idle --processes K` (job on stdin).
    #[command(hide = true)]
    IdleWorker,
}

/// The instance to talk to.
#[derive(Args, Clone, Debug)]
pub struct TargetArgs {
    /// Base URL of the loginguard instance (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = Target::parse)]
    pub target: Target,
}

#[derive(Args, Clone, Debug)]
pub struct IdleArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Sockets to open.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Distinct sessions the sockets are spread over (each costs one sign-in).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub sessions: u64,
    /// Source addresses 127.0.0.1 .. 127.0.0.K to connect from (each has ~28k ephemeral ports).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    pub sources: u8,
    /// Client processes to spread the sockets over (one process's file limit may be too low).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub processes: u32,
    /// The server's pid: its VmRSS is read before and after the sockets open.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Sign the sessions in on this instance instead (one on the same Redis):
    /// keeps argon2's memory churn out of the measured server's RSS.
    #[arg(long, value_parser = Target::parse)]
    pub sign_in_via: Option<Target>,
    #[command(flatten)]
    pub run: IdleRunArgs,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

/// How the sockets of `idle` and `prototype idle` are opened and held.
#[derive(Args, Clone, Debug)]
pub struct IdleRunArgs {
    /// How long to hold every socket open before the "after" RSS sample.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub hold: Duration,
    /// Sockets connecting at the same time.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub connect_concurrency: u64,
    /// Give up opening sockets after this long.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub duration: Duration,
}

/// Sign-ins beside a kick measurement.
#[derive(Args, Clone, Debug)]
pub struct BackgroundArgs {
    /// Background password sign-ins per second while kicks are measured (0 = none).
    #[arg(long, default_value_t = 0.0)]
    pub background_logins: f64,
    /// Connections the background sign-ins use.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub background_concurrency: u64,
}

/// How many kicks, in rounds of how many: `revoke`, `kick` and `prototype kick`.
#[derive(Args, Clone, Debug)]
pub struct KickRunArgs {
    /// Kicks to measure.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Accounts prepared per round (sign-ins and sockets are set up a round at a time).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// A kick not seen this long after its request is counted as missed.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub kick_timeout: Duration,
    /// Stop measuring after this long.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub duration: Duration,
}

#[derive(Args, Clone, Debug)]
pub struct RevokeArgs {
    /// Instance the revoked session's socket is on.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Instance the DELETE (and background load) goes to [default: --target].
    #[arg(long, value_parser = Target::parse)]
    pub revoke_via: Option<Target>,
    #[command(flatten)]
    pub run: KickRunArgs,
    #[command(flatten)]
    pub background: BackgroundArgs,
    #[command(flatten)]
    pub idle: IdleBackgroundArgs,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

/// Idle sockets held open on the measured instance beside the kicks.
#[derive(Args, Clone, Debug)]
pub struct IdleBackgroundArgs {
    /// Authenticated idle sockets to hold open on --target while kicks are measured (0 = none).
    #[arg(long, default_value_t = 0)]
    pub idle_background: u64,
    /// Sessions the idle sockets are spread over (one account each, past the measured ones).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_background_sessions: u64,
    /// Source addresses 127.0.0.1 .. 127.0.0.K the idle sockets connect from.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    pub idle_background_sources: u8,
}

/// A duplicate sign-in: the old session's socket on one instance, the same
/// account signing in again on another (`kick` and `prototype kick`).
#[derive(Args, Clone, Debug)]
pub struct DuplicateLoginArgs {
    /// Instance the old session's socket is on.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Instance the new sign-in (and background load) goes to [default: --target].
    #[arg(long, value_parser = Target::parse)]
    pub login_via: Option<Target>,
    #[command(flatten)]
    pub run: KickRunArgs,
}

impl DuplicateLoginArgs {
    /// The instance the new sign-ins go to.
    pub fn login_target(&self) -> &Target {
        self.login_via.as_ref().unwrap_or(&self.target.target)
    }
}

#[derive(Args, Clone, Debug)]
pub struct KickArgs {
    #[command(flatten)]
    pub kick: DuplicateLoginArgs,
    #[command(flatten)]
    pub background: BackgroundArgs,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

#[derive(Args, Clone, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Connections signing in at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub concurrency: u64,
    /// Sign-ins to make at most.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Stop after this long.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

#[derive(Args, Clone, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Keep-alive connections, each sending one request after another.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub connections: u64,
    /// Distinct sessions whose tokens are validated.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub sessions: u64,
    /// Requests to send at most.
    #[arg(long, default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Stop after this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

#[derive(Args, Clone, Debug)]
pub struct IntrospectArgs {
    #[command(flatten)]
    pub check: ValidateArgs,
    /// An API key with the `introspect` scope (`loginguard api-key new NAME`).
    #[arg(long, env = "LOADGEN_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

#[derive(Args, Clone, Debug)]
pub struct StormArgs {
    /// The instance the sockets start on; it is sent SIGTERM.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The instance the clients come back to (sharing --target's Redis).
    #[arg(long, value_parser = Target::parse)]
    pub reconnect_to: Target,
    /// Pid of --target's process, sent SIGTERM once every socket is open.
    #[arg(long)]
    pub terminate_pid: u32,
    /// Pid of redis-server, whose CPU time over the storm is reported.
    #[arg(long)]
    pub redis_pid: Option<u32>,
    /// Sockets to open.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Sessions the sockets are spread over.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub sessions: u64,
    /// Source addresses 127.0.0.1 .. 127.0.0.K the sockets connect from.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    pub sources: u8,
    /// Sockets should all be back within this long after SIGTERM (reported, not enforced).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub window: Duration,
    /// Give up on sockets not back this long after SIGTERM.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Password sign-ins per second sent to --reconnect-to during the storm.
    #[arg(long, default_value_t = 20.0)]
    pub background_logins: f64,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

#[derive(Args, Clone, Debug)]
pub struct RedisMemoryArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// An API key with the `sessions` scope (`loginguard api-key new NAME`).
    #[arg(long, env = "LOADGEN_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// The Redis the instance uses (loopback only), read with INFO and MEMORY USAGE.
    #[arg(long, value_parser = crate::target::parse_redis_url)]
    pub redis: String,
    /// The instance's --redis-prefix.
    #[arg(long, default_value = "lg")]
    pub prefix: String,
    /// Sessions to create, one subject each.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub sessions: u64,
    /// Connections creating and ending sessions.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub concurrency: u64,
    /// Wait before each measurement, so that the requests' reply keys (kept
    /// 60 s for retries) have expired.
    #[arg(long, default_value = "65s", value_parser = parse_duration)]
    pub settle: Duration,
    /// Stop creating (or ending) sessions after this long.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub duration: Duration,
}

#[derive(Args, Clone, Debug)]
pub struct RevokeAllArgs {
    /// The instance the DELETE goes to (and half of the sockets with --second).
    #[command(flatten)]
    pub target: TargetArgs,
    /// A second instance on the same store: every other socket connects to it.
    #[arg(long, value_parser = Target::parse)]
    pub second: Option<Target>,
    /// An API key with the `sessions` scope (`loginguard api-key new NAME`).
    #[arg(long, env = "LOADGEN_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// An administrator of the instance's users file, who sends the DELETE.
    #[arg(long, default_value = "admin")]
    pub admin_user: String,
    #[arg(long, default_value = "admin123")]
    pub admin_password: String,
    /// Sessions to create through /api/v1, one subject each.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub sessions: u64,
    /// Sessions (the first ones) with an authenticated WebSocket open.
    #[arg(long, default_value_t = 1000)]
    pub connected: u64,
    /// Source addresses 127.0.0.1 .. 127.0.0.K the sockets connect from.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    pub sources: u8,
    /// Connections creating the sessions.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub concurrency: u64,
    /// The Redis the instances use (loopback only): PING is timed on it
    /// throughout the DELETE and its SLOWLOG read after, to find the longest stall.
    #[arg(long, value_parser = crate::target::parse_redis_url)]
    pub redis: Option<String>,
    /// A socket without force_logout this long after the 200 is counted as missed.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub kick_timeout: Duration,
    /// Stop creating sessions (and opening sockets) after this long.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub duration: Duration,
}

#[derive(Args, Clone, Debug)]
pub struct WebhookDelayArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where the receiver listens (loopback; the instance's --webhooks file names it).
    #[arg(long, value_parser = parse_loopback_addr)]
    pub listen: std::net::SocketAddr,
    /// The endpoint's secret in the webhooks file (`whsec_...`), to verify signatures.
    #[arg(long, env = "LOADGEN_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Sign-ins to make, one after another, each on its own account.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Stop after this long.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub duration: Duration,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

/// A socket address on loopback (the receiver must not listen beyond it).
fn parse_loopback_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    let addr: std::net::SocketAddr = text.parse().map_err(|e| format!("{text}: {e}"))?;
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(format!("{text} is not on loopback"))
    }
}

#[derive(Args, Clone, Debug)]
pub struct PingFloodArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Sockets that ping (one session each).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub sockets: u64,
    /// Pause between one socket's pong and its next ping.
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    pub interval: Duration,
    /// Connections flooding sign-ins (0 = no flood: the baseline).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub flood_concurrency: u64,
    /// Pings to send at most (over all sockets).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Stop after this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

#[derive(Args, Clone, Debug)]
pub struct UsersArgs {
    /// Accounts to write.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// The password they all share.
    #[arg(long, default_value = "loadgen-password")]
    pub password: String,
    /// Account names are this prefix followed by an index.
    #[arg(long, default_value = "lg")]
    pub user_prefix: String,
    /// Where to write the TOML users file.
    #[arg(long)]
    pub out: PathBuf,
    /// argon2id memory cost in KiB (the server's own hashes use 19456).
    #[arg(long, default_value_t = 19456)]
    pub argon2_memory_kib: u32,
    /// argon2id iterations (the server's own hashes use 2).
    #[arg(long, default_value_t = 2)]
    pub argon2_iterations: u32,
    /// Also write an administrator of this name (same password), for `revoke-all`.
    #[arg(long)]
    pub admin: Option<String>,
}

/// `250ms`, `2s`, `1.5s`, `3m`, or bare seconds (`10`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (use 250ms, 2s, 1.5s or 3m)"))?;
    if !value.is_finite() || value < 0.0 || value * scale > 86_400.0 {
        return Err(format!("{text:?} is out of range (0 .. 24h)"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
    }

    #[test]
    fn every_scenario_parses_with_its_defaults() {
        for name in [
            "idle",
            "revoke",
            "kick",
            "login",
            "validate",
            "verify",
            "ping-under-login-flood",
        ] {
            parse(&[name]).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let cli = parse(&["idle"]).unwrap();
        let Command::Idle(a) = cli.command else {
            panic!("idle")
        };
        assert_eq!(a.target.target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!((a.count, a.sources, a.processes), (1000, 1, 1));
        assert_eq!(a.run.hold, Duration::from_secs(2));
        assert_eq!(a.run.connect_concurrency, 256);
        assert_eq!(a.run.duration, Duration::from_secs(300));
    }

    #[test]
    fn flags_reach_their_fields() {
        let cli = parse(&[
            "--json",
            "revoke",
            "--target",
            "http://127.0.0.1:9001",
            "--revoke-via",
            "http://127.0.0.2:9002",
            "--count",
            "50",
            "--kick-timeout",
            "500ms",
            "--background-logins",
            "1000",
            "--accounts",
            "300",
        ])
        .unwrap();
        assert!(cli.json);
        let Command::Revoke(a) = cli.command else {
            panic!("revoke")
        };
        assert_eq!(
            a.revoke_via.unwrap().addr,
            "127.0.0.2:9002".parse().unwrap()
        );
        assert_eq!(a.run.count, 50);
        assert_eq!(a.run.kick_timeout, Duration::from_millis(500));
        assert_eq!(a.background.background_logins, 1000.0);
        assert_eq!(a.accounts.accounts, 300);
    }

    #[test]
    fn revoke_all_takes_its_sizes_and_a_loopback_redis() {
        let cli = parse(&[
            "revoke-all",
            "--api-key",
            "lgk_x",
            "--second",
            "http://127.0.0.1:9002",
            "--sessions",
            "500",
            "--connected",
            "100",
            "--redis",
            "redis://127.0.0.1:7000/0",
        ])
        .unwrap();
        let Command::RevokeAll(a) = cli.command else {
            panic!("revoke-all")
        };
        assert_eq!((a.sessions, a.connected), (500, 100));
        assert_eq!(a.second.unwrap().addr, "127.0.0.1:9002".parse().unwrap());
        assert_eq!(a.redis.as_deref(), Some("redis://127.0.0.1:7000/0"));
        assert_eq!(a.kick_timeout, Duration::from_secs(30));
        let far = parse(&[
            "revoke-all",
            "--api-key",
            "k",
            "--redis",
            "redis://10.0.0.1/0",
        ]);
        assert!(far.unwrap_err().to_string().contains("not on loopback"));
    }

    #[test]
    fn introspect_takes_an_api_key() {
        let cli = parse(&["introspect", "--api-key", "lgk_x", "--connections", "8"]).unwrap();
        let Command::Introspect(a) = cli.command else {
            panic!("introspect")
        };
        assert_eq!((a.api_key.as_str(), a.check.connections), ("lgk_x", 8));
    }

    #[test]
    fn non_loopback_targets_are_refused_at_parse_time() {
        for args in [
            &["validate", "--target", "http://10.1.2.3:8080"][..],
            &["revoke", "--revoke-via", "http://192.168.0.10:8080"],
            &["kick", "--login-via", "http://example.com:8080"],
            &["idle", "--target", "http://8.8.8.8:80"],
            &["prototype", "kick", "--login-via", "http://10.0.0.2:8000"],
            &[
                "prototype",
                "validate",
                "--target",
                "http://example.com:8000",
            ],
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains("not on loopback"), "{args:?}: {err}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["idle", "--sources", "0"][..],
            &["idle", "--processes", "0"],
            &["idle", "--count", "0"],
            &["login", "--duration", "soon"],
            &["users", "--count", "10"],
            &["prototype", "idle", "--count", "0"],
            &["prototype", "kick", "--batch", "0"],
            &["prototype", "kick", "--background-logins", "10"],
            &["prototype", "nonsense"],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn durations_parse_in_several_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("2h").is_err());
    }
}
