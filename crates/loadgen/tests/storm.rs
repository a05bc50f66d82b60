//! `reconnect-storm` against real processes: a `redis-server`, two
//! `loginguard serve` binaries sharing it, and the first one stopped with a
//! real SIGTERM by the scenario. Checks correctness only (every socket was
//! closed with 1012 and came back to the other instance, nothing failed
//! meanwhile), never speed: CI shares 2 cores.
//!
//! The `loginguard` binary is the one cargo built beside this test
//! (`cargo test --workspace` builds it, as scripts/test runs).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use loadgen::accounts::{write_users_file, HashCost};
use loadgen::cli::Cli;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_closed_by_sigterm_comes_back_to_the_other_instance() {
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
    write_users_file(&users, "lg", 40, PASSWORD, cheap).expect("users file");
    let bin = loginguard_bin();
    let serve = |port: u16| {
        Killed(
            Command::new(&bin)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .arg("--users")
                .arg(&users)
                .args(["--redis", &format!("redis://127.0.0.1:{redis_port}/0")])
                .args(["--max-sessions", "2", "--max-sockets-per-session", "1000"])
                .args(["--rate-limit-ip", "0", "--rate-limit-account", "0"])
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .expect("loginguard starts"),
        )
    };
    let (port_a, port_b) = (free_port(), free_port());
    let a = serve(port_a);
    let _b = serve(port_b);
    wait_until("both instances", Duration::from_secs(20), || {
        listening(port_a) && listening(port_b)
    });

    let (url_a, url_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let (pid_a, pid_redis) = (a.0.id().to_string(), redis.0.id().to_string());
    let args = [
        "loadgen",
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
    ];
    let cli = Cli::try_parse_from(args).expect("arguments parse");
    let report = loadgen::scenarios::run(cli.command)
        .await
        .expect("the storm runs")
        .expect("a report");

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
