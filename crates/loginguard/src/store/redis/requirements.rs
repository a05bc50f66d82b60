//! What loginguard needs of its Redis, asked of the server (every master of
//! a cluster) at start-up, after the store reconnects and every
//! `RECHECK_EVERY` while readiness is polled.
//!
//! Redis 7.0 or later: the scripts use `PEXPIREAT ... GT`. And
//! `maxmemory-policy noeviction`: every key of ours has a TTL, so `volatile-*`
//! policies can evict them as surely as `allkeys-*`, signing users out with no
//! reason and forgetting the tombstones that tell an offline device why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use redis::{FromRedisValue, Value};
use tokio::time::Instant;

use super::RedisConn;
use crate::store::StoreError;

/// How old a verdict may be before readiness asks the server again (its
/// configuration can change at run time).
const RECHECK_EVERY: Duration = Duration::from_secs(30);

/// Oldest Redis that runs the scripts.
const MIN_VERSION: (u32, u32) = (7, 0);

/// The only eviction policy that never drops a key of ours.
const SAFE_POLICY: &str = "noeviction";

/// A Redis loginguard must not run on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    #[error("{node}: Redis {version} is too old; loginguard needs Redis 7.0 or later")]
    TooOld { node: String, version: String },
    #[error(
        "{node}: maxmemory-policy is {policy}, under which Redis may evict \
         loginguard's sessions, tombstones and presence keys; set \
         `maxmemory-policy noeviction` (or pass --allow-evicting-redis to run anyway)"
    )]
    Evicting { node: String, policy: String },
}

/// What one node told us.
#[derive(Debug)]
struct NodeFacts {
    node: String,
    /// `redis_version` from `INFO server`, when it said.
    version: Option<String>,
    /// `maxmemory-policy`, or why it could not be read (an ACL, a renamed
    /// `CONFIG` on a managed service).
    policy: Result<String, String>,
}

/// A verdict: fine (with warnings to log) or refused.
type Verdict = Result<Vec<String>, RequirementError>;

/// The requirement check of one store, with its last verdict.
pub struct Requirements {
    allow_evicting: bool,
    /// Set at start and when the store reconnects: ask the server again.
    due: AtomicBool,
    last: Mutex<Option<(Instant, Verdict)>>,
}

impl Requirements {
    /// With `allow_evicting`, an evicting policy is logged, not refused.
    pub fn new(allow_evicting: bool) -> Self {
        Requirements {
            allow_evicting,
            due: AtomicBool::new(true),
            last: Mutex::new(None),
        }
    }

    /// The store reached Redis again, perhaps another server or one restarted
    /// with another configuration.
    pub fn reconnected(&self) {
        self.due.store(true, Ordering::Relaxed);
    }

    /// Whether the server suits us: the last verdict while it is fresh, else
    /// the server is asked. A changed verdict is logged once.
    pub async fn verify(&self, conn: &mut RedisConn) -> Result<(), StoreError> {
        let due = self.due.swap(false, Ordering::Relaxed);
        let fresh = self
            .last
            .lock()
            .as_ref()
            .filter(|(at, _)| !due && at.elapsed() < RECHECK_EVERY)
            .map(|(_, verdict)| verdict.clone());
        let verdict = match fresh {
            Some(verdict) => verdict,
            None => {
                let facts = gather(conn)
                    .await
                    .inspect_err(|_| self.due.store(true, Ordering::Relaxed))?;
                let verdict = judge(&facts, self.allow_evicting);
                let previous = self.last.lock().replace((Instant::now(), verdict.clone()));
                if previous.map(|(_, v)| v).as_ref() != Some(&verdict) {
                    log(&verdict);
                }
                verdict
            }
        };
        verdict.map(drop).map_err(StoreError::Unsuitable)
    }
}

fn log(verdict: &Verdict) {
    match verdict {
        Ok(warnings) if warnings.is_empty() => {
            tracing::info!("redis meets loginguard's requirements (7.0+, noeviction)")
        }
        Ok(warnings) => {
            for warning in warnings {
                tracing::warn!("{warning}");
            }
        }
        Err(e) => tracing::error!(error = %e, "redis does not meet loginguard's requirements"),
    }
}

/// Asks every master for its version and eviction policy.
async fn gather(conn: &mut RedisConn) -> Result<Vec<NodeFacts>, StoreError> {
    let unavailable = StoreError::unavailable;
    let infos = conn
        .on_every_master(redis::cmd("INFO").arg("server"))
        .await
        .map_err(unavailable)?;
    let policies = conn
        .on_every_master(redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy"))
        .await
        .map_err(unavailable)?;
    Ok(infos
        .into_iter()
        .map(|(node, info)| {
            let policy = policies
                .iter()
                .find(|(n, _)| *n == node)
                .map_or(Err("no answer".to_owned()), |(_, reply)| {
                    policy_of(reply.clone())
                });
            NodeFacts {
                version: version_of(info),
                policy,
                node,
            }
        })
        .collect())
}

/// `redis_version` from an `INFO server` reply.
fn version_of(info: Value) -> Option<String> {
    let text = String::from_redis_value(info).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .map(|v| v.trim().to_owned())
}

/// The policy from a `CONFIG GET maxmemory-policy` reply (a flat list or a
/// map, by protocol version), or why there is none.
fn policy_of(reply: Value) -> Result<String, String> {
    if let Value::ServerError(e) = reply {
        return Err(e.to_string());
    }
    let pairs = std::collections::HashMap::<String, String>::from_redis_value(reply)
        .map_err(|e| e.to_string())?;
    pairs
        .get("maxmemory-policy")
        .cloned()
        .ok_or_else(|| "not in the reply".to_owned())
}

/// `major.minor` of a version string.
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn judge(nodes: &[NodeFacts], allow_evicting: bool) -> Verdict {
    let mut warnings = Vec::new();
    for n in nodes {
        match n.version.as_deref().map(|v| (v, major_minor(v))) {
            Some((_, Some(v))) if v >= MIN_VERSION => {}
            Some((version, _)) => {
                return Err(RequirementError::TooOld {
                    node: n.node.clone(),
                    version: version.to_owned(),
                })
            }
            None => warnings.push(format!(
                "{}: cannot read the Redis version; loginguard needs 7.0 or later",
                n.node
            )),
        }
        match &n.policy {
            Ok(policy) if policy == SAFE_POLICY => {}
            Ok(policy) => {
                let refused = RequirementError::Evicting {
                    node: n.node.clone(),
                    policy: policy.clone(),
                };
                if !allow_evicting {
                    return Err(refused);
                }
                warnings.push(format!("{refused}; allowed by --allow-evicting-redis"));
            }
            Err(why) => warnings.push(format!(
                "{}: cannot read maxmemory-policy ({why}); make sure it is noeviction",
                n.node
            )),
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(version: Option<&str>, policy: Result<&str, &str>) -> NodeFacts {
        NodeFacts {
            node: "n1".into(),
            version: version.map(Into::into),
            policy: policy.map(Into::into).map_err(Into::into),
        }
    }

    #[test]
    fn only_noeviction_on_seven_or_later_passes_quietly() {
        assert_eq!(
            judge(&[node(Some("7.0.15"), Ok("noeviction"))], false),
            Ok(vec![])
        );
        assert_eq!(
            judge(&[node(Some("7.2.4"), Ok("noeviction"))], false),
            Ok(vec![])
        );
        for policy in [
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            let facts = [node(Some("7.0.0"), Ok(policy))];
            assert!(
                matches!(judge(&facts, false), Err(RequirementError::Evicting { .. })),
                "{policy}"
            );
            assert_eq!(judge(&facts, true).map(|w| w.len()), Ok(1), "{policy}");
        }
        for old in ["6.2.14", "5.0", "x"] {
            let facts = [node(Some(old), Ok("noeviction"))];
            assert!(
                matches!(judge(&facts, true), Err(RequirementError::TooOld { .. })),
                "{old}"
            );
        }
    }

    #[test]
    fn what_cannot_be_read_is_a_warning() {
        let warnings = judge(&[node(None, Err("NOPERM"))], false).unwrap();
        assert_eq!(warnings.len(), 2);
        assert!(warnings[1].contains("NOPERM"), "{warnings:?}");
    }

    #[test]
    fn replies_are_read_in_both_protocols() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        assert_eq!(
            version_of(bulk(
                "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n"
            )),
            Some("7.0.15".into())
        );
        let resp2 = Value::Array(vec![bulk("maxmemory-policy"), bulk("allkeys-lru")]);
        let resp3 = Value::Map(vec![(bulk("maxmemory-policy"), bulk("noeviction"))]);
        assert_eq!(policy_of(resp2), Ok("allkeys-lru".into()));
        assert_eq!(policy_of(resp3), Ok("noeviction".into()));
        assert!(policy_of(Value::Array(vec![])).is_err());
    }
}
