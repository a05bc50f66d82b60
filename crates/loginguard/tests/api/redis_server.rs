//! Real `redis-server` processes for tests: each on a free port in its own
//! temp dir, persistence off unless asked, killed on drop. Tests can stop and
//! restart one to simulate an outage, and start one with TLS, an ACL file or
//! as a replica (`Setup`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `redis-server` owned by a test.
pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    setup: Setup,
}

/// How a server is started and reached beyond a plain loopback port.
#[derive(Clone, Default)]
pub struct Setup {
    persist: bool,
    cluster: bool,
    /// Serve TLS only: its port speaks TLS and no port speaks plain text.
    pub tls: bool,
    /// More `redis-server` arguments (TLS files, an ACL file, `replicaof`).
    pub server_args: Vec<String>,
    /// More `redis-cli` arguments to reach it (TLS, a user).
    pub cli_args: Vec<String>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Where `binary` is: on PATH, or in the sbin directories where Debian puts
/// daemons (a non-root PATH often lacks them).
pub fn on_path(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|p| p.join(binary))
        .find(|p| p.is_file())
}

pub fn require(binary: &str) -> PathBuf {
    on_path(binary).unwrap_or_else(|| {
        panic!("`{binary}` is not on PATH: the tests need a real Redis 7 and its Sentinel. Install them with `apt-get install -y redis-server redis-sentinel` (scripts/test does this).")
    })
}

impl RedisServer {
    /// Starts a fresh server with no persistence.
    pub fn start() -> Self {
        Self::start_with(Setup::default())
    }

    /// Starts a server that keeps its data across `restart` (append-only file).
    pub fn start_persistent() -> Self {
        Self::start_with(Setup {
            persist: true,
            ..Setup::default()
        })
    }

    /// Starts a server with cluster mode on, not yet part of a cluster.
    fn start_cluster_node(setup: &Setup) -> Self {
        Self::start_with(Setup {
            cluster: true,
            ..setup.clone()
        })
    }

    pub fn start_with(setup: Setup) -> Self {
        for _ in 0..5 {
            let mut server = RedisServer {
                port: free_port(),
                dir: tempfile::tempdir().expect("temp dir for redis"),
                child: None,
                setup: setup.clone(),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("could not start redis-server on a free port after 5 tries");
    }

    /// Launches the process and waits until it answers; false if it died
    /// (for example, the port was taken in the meantime).
    fn spawn(&mut self) -> bool {
        let bin = require("redis-server");
        let appendonly = if self.setup.persist { "yes" } else { "no" };
        let port = self.port.to_string();
        let mut cmd = Command::new(bin);
        if self.setup.tls {
            cmd.args(["--port", "0", "--tls-port", &port]);
        } else {
            cmd.args(["--port", &port]);
        }
        cmd.args(["--bind", "127.0.0.1"])
            .args(&self.setup.server_args)
            .args([
                "--save",
                "",
                "--appendonly",
                appendonly,
                "--appendfsync",
                "always",
            ]);
        if self.setup.cluster {
            // The cluster bus listens on port + 10000; if that is taken the
            // node fails to start and the caller retries on another port.
            cmd.args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]);
        }
        let child = cmd
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let child = self.child.insert(child);
        answers_ping(child, self.port, &self.setup.cli_args)
    }

    pub fn url(&self) -> String {
        let scheme = if self.setup.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
    }

    /// Runs `redis-cli` against this server; `None` if it failed.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        cli(self.port, &self.setup.cli_args, args)
    }

    /// Kills the process (SIGKILL): an outage.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and data directory.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "redis-server did not come back on port {}",
            self.port
        );
    }
}

/// Runs `redis-cli` against the server on `port`; `None` if it failed.
pub fn cli(port: u16, reach: &[String], args: &[&str]) -> Option<String> {
    let out = Command::new(require("redis-cli"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(reach)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until the process on `port` answers `PING`; false if it died
/// first (for example, the port was taken in the meantime) or took too long.
pub fn answers_ping(child: &mut Child, port: u16, reach: &[String]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if cli(port, reach, &["PING"]).is_some_and(|out| out.trim() == "PONG") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A 3-master Redis Cluster built from real `redis-server` processes.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them with
    /// `redis-cli --cluster create`, then waits until the cluster is ok.
    pub fn start() -> Self {
        Self::start_with(Setup::default())
    }

    /// `start` with every node set up alike (TLS, ACL).
    pub fn start_with(setup: Setup) -> Self {
        for _ in 0..3 {
            let nodes: Vec<RedisServer> = (0..3)
                .map(|_| RedisServer::start_cluster_node(&setup))
                .collect();
            let addrs: Vec<String> = nodes
                .iter()
                .map(|n| format!("127.0.0.1:{}", n.port))
                .collect();
            let created = Command::new(require("redis-cli"))
                .args(&setup.cli_args)
                .args(["--cluster", "create"])
                .args(&addrs)
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            let cluster = RedisCluster { nodes };
            if created && cluster.wait_ok() {
                return cluster;
            }
        }
        panic!("could not build a 3-master Redis Cluster");
    }

    fn wait_ok(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let all_ok = self.nodes.iter().all(|n| {
                n.cli(&["CLUSTER", "INFO"]).is_some_and(|info| {
                    info.contains("cluster_state:ok")
                        && info.contains("cluster_slots_assigned:16384")
                })
            });
            if all_ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}
