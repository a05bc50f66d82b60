//! A Sentinel-managed Redis for tests: one master, one replica and three
//! `redis-sentinel` processes, each on a free port in its own temp dir,
//! killed on drop. Failure detection is fast (1 s) so a test can kill the
//! master and watch the failover. The data nodes run the documented ACL
//! (`secure_redis`); the replica and the Sentinels use the harness's admin.
//! `start_tls` serves every node and Sentinel over TLS only (one test CA,
//! `tls-replication yes`, so replication and the Sentinels' own links are
//! TLS too).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loginguard::config::{CaBundle, Config};

use crate::helpers::base_config;
use crate::redis_server::{answers_ping, cli, free_port, require, RedisServer, Setup};
use crate::secure_redis::{apply_acl, TestCerts, ADMIN_PASSWORD, LG_PASSWORD, LG_USER};

/// The name the Sentinels know the master by.
pub const MASTER_NAME: &str = "lgmaster";

pub struct SentinelGroup {
    pub master: RedisServer,
    pub replica: RedisServer,
    sentinels: Vec<Sentinel>,
    /// The test CA when everything speaks TLS.
    ca: Option<CaBundle>,
    _acl_dir: tempfile::TempDir,
}

struct Sentinel {
    port: u16,
    /// `redis-cli` arguments to reach it (TLS).
    reach: Vec<String>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SentinelGroup {
    /// Starts the master, its replica (waits until it is in sync) and three
    /// Sentinels (waits until they see each other and the replica).
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// The same, every node and Sentinel serving TLS only.
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        let acl_dir = tempfile::tempdir().unwrap();
        let mut setup = Setup::default();
        let certs = tls.then(|| TestCerts::write_to(acl_dir.path()));
        if let Some(certs) = &certs {
            certs.apply(&mut setup);
        }
        apply_acl(acl_dir.path(), &mut setup);
        // Either node may have to replicate from the other after a failover.
        setup
            .server_args
            .extend(["--masteruser", "admin", "--masterauth", ADMIN_PASSWORD].map(String::from));
        let master = RedisServer::start_with(setup.clone());
        let mut replica_setup = setup;
        replica_setup.server_args.extend([
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            master.port.to_string(),
        ]);
        let replica = RedisServer::start_with(replica_setup);
        wait_for("the replica to sync", || {
            replica
                .cli(&["INFO", "replication"])
                .is_some_and(|i| i.contains("master_link_status:up"))
        });
        let sentinels = (0..3)
            .map(|_| Sentinel::start(master.port, certs.as_ref()))
            .collect();
        let ca = certs.map(|c| CaBundle {
            pem: std::fs::read(&c.ca).unwrap(),
            certificates: 1,
        });
        let group = SentinelGroup {
            master,
            replica,
            sentinels,
            ca,
            _acl_dir: acl_dir,
        };
        wait_for("the Sentinels to agree", || {
            group.sentinels.iter().all(|s| {
                s.cli(&["SENTINEL", "CKQUORUM", MASTER_NAME])
                    .is_some_and(|r| r.starts_with("OK 3 usable"))
                    && s.cli(&["SENTINEL", "REPLICAS", MASTER_NAME])
                        .is_some_and(|r| r.contains(&group.replica.port.to_string()))
            })
        });
        group
    }

    /// loginguard's settings for this group: the Sentinels, the master by
    /// URL with loginguard's ACL user (both `rediss://` with the test CA as
    /// `--redis-ca` under TLS), and the sweep far out, so that only the
    /// recheck after a resubscription can catch kicks up.
    pub fn app_config(&self) -> Config {
        let scheme = if self.ca.is_some() { "rediss" } else { "redis" };
        let mut config = base_config();
        config.store.redis_sentinel = self
            .sentinels
            .iter()
            .map(|s| format!("{scheme}://127.0.0.1:{}", s.port).into())
            .collect();
        config.store.redis_master =
            Some(format!("{scheme}://{LG_USER}:{LG_PASSWORD}@{MASTER_NAME}/0").into());
        config.store.redis_ca = self.ca.clone();
        config.session.sweep_interval = Duration::from_secs(600);
        config
    }

    /// Asks the Sentinels to hand the master role to the replica.
    pub fn switch_over(&self) {
        let reply = self.sentinels[0].cli(&["SENTINEL", "FAILOVER", MASTER_NAME]);
        assert_eq!(
            reply.as_deref().map(str::trim),
            Some("OK"),
            "SENTINEL FAILOVER"
        );
    }

    /// How many of loginguard's connections on `node` are subscribed (the
    /// Sentinels' own subscriptions are another user's).
    pub fn subscribers(&self, node: &RedisServer) -> usize {
        let user = format!("user={LG_USER} ");
        node.cli(&["CLIENT", "LIST", "TYPE", "pubsub"])
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("sub=1") && l.contains(&user))
            .count()
    }

    /// The port of the node the first Sentinel names master now.
    pub fn master_port(&self) -> Option<u16> {
        let reply = self.sentinels[0].cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME])?;
        reply.lines().nth(1)?.trim().parse().ok()
    }
}

impl Sentinel {
    /// With `certs`, serves TLS only and reaches the nodes and the other
    /// Sentinels over TLS.
    fn start(master_port: u16, certs: Option<&TestCerts>) -> Sentinel {
        let bin = require("redis-sentinel");
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let conf = dir.path().join("sentinel.conf");
            let (listen, reach) = match certs {
                Some(c) => (
                    format!(
                        "port 0\ntls-port {port}\ntls-cert-file {}\ntls-key-file {}\n\
                         tls-ca-cert-file {}\ntls-auth-clients no\ntls-replication yes\n",
                        c.cert.display(),
                        c.key.display(),
                        c.ca.display()
                    ),
                    vec![
                        "--tls".to_owned(),
                        "--cacert".to_owned(),
                        c.ca.display().to_string(),
                    ],
                ),
                None => (format!("port {port}\n"), Vec::new()),
            };
            std::fs::write(
                &conf,
                format!(
                    "{listen}bind 127.0.0.1\ndir {dir}\n\
                     sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                     sentinel auth-user {MASTER_NAME} admin\n\
                     sentinel auth-pass {MASTER_NAME} {ADMIN_PASSWORD}\n\
                     sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                     sentinel failover-timeout {MASTER_NAME} 5000\n\
                     sentinel parallel-syncs {MASTER_NAME} 1\n",
                    dir = dir.path().display()
                ),
            )
            .unwrap();
            let child = Command::new(&bin)
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-sentinel");
            let mut sentinel = Sentinel {
                port,
                reach,
                child,
                _dir: dir,
            };
            if answers_ping(&mut sentinel.child, port, &sentinel.reach) {
                return sentinel;
            }
        }
        panic!("could not start redis-sentinel on a free port after 5 tries");
    }

    fn cli(&self, args: &[&str]) -> Option<String> {
        cli(self.port, &self.reach, args)
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}
