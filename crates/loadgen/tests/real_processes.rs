//! The scenarios that need real processes: `reconnect-storm` (a
//! `redis-server`, two `loginguard serve` binaries sharing it, the first
//! stopped with a real SIGTERM by the scenario), `redis-memory` (one
//! instance on a `redis-server` whose memory it reads), `revoke-all` (two
//! instances, sockets on both, Redis timed) and `webhook-delay` (an instance
//! delivering webhooks to loadgen's receiver). Checks correctness
//! only (every socket was closed with 1012 and came back to the other
//! instance, nothing failed meanwhile; every key kind is counted), never
//! speed: CI shares 2 cores.
//!
//! The `loginguard` binary is the one cargo built beside this test
//! (`cargo test --workspace` builds it, as scripts/test runs).

mod common;

use common::loadgen;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loadgen::accounts::{write_users_file, HashCost};
use loginguard::auth::{new_key, Scope};

const PASSWORD: &str = "storm-password";

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `target/<profile>/loginguard`, next to this test's own `deps/` directory.
fn loginguard_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("loginguard");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (`cargo test --workspace` or `cargo build -p loginguard`)",
        bin.display()
    );
    bin
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < limit,
            "{what} not ready after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A `redis-server` on a free port and a users file of 40 cheap accounts,
/// in one temp dir.
struct Stage {
    dir: tempfile::TempDir,
    redis_port: u16,
    redis: Killed,
    users: PathBuf,
}

impl Stage {
    fn start() -> Stage {
        let dir = tempfile::tempdir().expect("temp dir");
        let redis_port = free_port();
        let redis = Killed(
            Command::new("redis-server")
                .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (scripts/test installs it)"),
        );
        wait_until("redis-server", Duration::from_secs(10), || {
            listening(redis_port)
        });
        let users = dir.path().join("users.toml");
        let cheap = HashCost {
            memory_kib: 64,
            iterations: 1,
        };
        write_users_file(&users, "lg", 40, Some("lgadmin"), PASSWORD, cheap).expect("users file");
        Stage {
            dir,
            redis_port,
            redis,
            users,
        }
    }

    fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.redis_port)
    }

    /// `loginguard serve` on a free port with `extra` arguments, once it listens.
    fn serve(&self, extra: &[&str]) -> (Killed, String) {
        let port = free_port();
        let child = Command::new(loginguard_bin())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--users")
            .arg(&self.users)
            .args(["--redis", &self.redis_url()])
            .args(["--max-sockets-per-session", "1000"])
            .args(["--rate-limit-ip", "0", "--rate-limit-account", "0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("loginguard starts");
        let child = Killed(child);
        wait_until("loginguard", Duration::from_secs(20), || listening(port));
        (child, format!("http://127.0.0.1:{port}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_closed_by_sigterm_comes_back_to_the_other_instance() {
    let stage = Stage::start();
    let (a, url_a) = stage.serve(&["--max-sessions", "2"]);
    let (_b, url_b) = stage.serve(&["--max-sessions", "2"]);
    let (pid_a, pid_redis) = (a.0.id().to_string(), stage.redis.0.id().to_string());
    let report = loadgen(&[
        "reconnect-storm",
        "--target",
        &url_a,
        "--reconnect-to",
        &url_b,
        "--terminate-pid",
        &pid_a,
        "--redis-pid",
        &pid_redis,
        "--count",
        "300",
        "--sessions",
        "10",
        "--background-logins",
        "5",
        "--accounts",
        "40",
        "--password",
        PASSWORD,
    ])
    .await;

    assert_eq!(report["opened"], 300, "{report}");
    assert_eq!(report["closed_1012"], 300, "{report}");
    assert_eq!(report["reconnected"], 300, "{report}");
    assert_eq!(report["back_after"]["count"], 300, "{report}");
    assert_eq!(report["validations"]["errors"], 0, "{report}");
    assert!(
        report["validations"]["ok"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert_eq!(report["background_sign_ins"]["errors"], 0, "{report}");
    let curve = report["curve"].as_array().expect("a curve");
    assert_eq!(curve.last().unwrap()["back_total"], 300, "{report}");
    assert!(
        report["redis_cpu_cores"].as_f64().unwrap() >= 0.0,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_memory_counts_sessions_then_tombstones_by_key_kind() {
    let stage = Stage::start();
    let key = new_key("loadgen", &[Scope::Sessions]).expect("an API key");
    let keys_file = stage.dir.path().join("api-keys.toml");
    std::fs::write(&keys_file, &key.entry).expect("keys file");
    let keys_file = keys_file.to_str().expect("a UTF-8 temp path");
    let (_server, url) = stage.serve(&["--api-keys", keys_file]);
    let redis_url = stage.redis_url();
    let report = loadgen(&[
        "redis-memory",
        "--target",
        &url,
        "--api-key",
        &key.secret,
        "--redis",
        &redis_url,
        "--sessions",
        "200",
        "--concurrency",
        "4",
        "--settle",
        "0s",
    ])
    .await;

    assert_eq!(report["created"], 200, "{report}");
    assert_eq!(report["ended"], 200, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    let live = &report["live"]["by_kind"];
    assert_eq!(
        live["{a}:s"]["keys"], 200,
        "one sessions hash per account: {report}"
    );
    assert!(live["{a}:s"]["bytes"].as_u64().unwrap() > 0, "{report}");
    let ended = &report["ended_state"]["by_kind"];
    assert!(
        ended.get("{a}:s").is_none(),
        "no live session left: {report}"
    );
    assert_eq!(
        ended["{a}:x"]["keys"], 200,
        "one tombstone hash per account: {report}"
    );
    assert!(
        report["bytes_per_session"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(
        report["bytes_per_tombstone"].as_f64().unwrap() > 0.0,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_tells_every_socket_on_both_instances() {
    let stage = Stage::start();
    let key = new_key("loadgen", &[Scope::Sessions]).expect("an API key");
    let keys_file = stage.dir.path().join("api-keys.toml");
    std::fs::write(&keys_file, &key.entry).expect("keys file");
    let keys_file = keys_file.to_str().expect("a UTF-8 temp path");
    let (_a, url_a) = stage.serve(&["--api-keys", keys_file]);
    let (_b, url_b) = stage.serve(&["--api-keys", keys_file]);
    let redis_url = stage.redis_url();
    let report = loadgen(&[
        "revoke-all",
        "--target",
        &url_a,
        "--second",
        &url_b,
        "--api-key",
        &key.secret,
        "--admin-user",
        "lgadmin",
        "--admin-password",
        PASSWORD,
        "--sessions",
        "600",
        "--connected",
        "200",
        "--sources",
        "2",
        "--redis",
        &redis_url,
    ])
    .await;

    assert_eq!(report["created"], 600, "{report}");
    assert_eq!(report["connected"], 200, "{report}");
    assert_eq!(
        report["revoked"], 601,
        "every session and the admin's: {report}"
    );
    assert_eq!(report["delivered"], 200, "{report}");
    assert_eq!(report["missed"], 0, "{report}");
    assert_eq!(report["wrong_reason"], 0, "{report}");
    assert_eq!(report["not_closed_4001"], 0, "{report}");
    assert_eq!(report["kick_delay"]["count"], 200, "{report}");
    assert!(report["all_told_ms"].as_f64().unwrap() > 0.0, "{report}");
    assert!(
        report["redis"]["ping"]["count"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert!(report["redis"]["slow_commands"].is_u64(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_delay_matches_every_sign_in_to_its_verified_delivery() {
    let stage = Stage::start();
    // The Standard Webhooks specification's example secret: a test fixture.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let listen = format!("127.0.0.1:{}", free_port());
    let webhooks = stage.dir.path().join("webhooks.toml");
    std::fs::write(
        &webhooks,
        format!(
            "[[webhook]]\nurl = \"http://{listen}/\"\nsecret = \"{secret}\"\nevents = [\"session.created\"]\n"
        ),
    )
    .expect("webhooks file");
    let webhooks = webhooks.to_str().expect("a UTF-8 temp path");
    let (_server, url) = stage.serve(&["--webhooks", webhooks]);
    let report = loadgen(&[
        "webhook-delay",
        "--target",
        &url,
        "--listen",
        &listen,
        "--secret",
        secret,
        "--count",
        "20",
        "--accounts",
        "40",
        "--password",
        PASSWORD,
    ])
    .await;

    assert_eq!(report["sign_ins"], 20, "{report}");
    assert_eq!(report["delivered"], 20, "{report}");
    assert_eq!(report["missed"], 0, "{report}");
    assert_eq!(report["bad_signatures"], 0, "{report}");
    assert_eq!(report["after_response"]["count"], 20, "{report}");
}
