//! What Redis itself spent on a stretch of a run, read from outside: `INFO
//! cpu` (`used_cpu_user` + `used_cpu_sys`) and `INFO commandstats` (calls
//! and µs per command) before and after, and their difference.
//!
//! Wall time on a shared host moves with whatever else runs; these figures
//! are Redis's own work, so two builds can be compared on them. Commands
//! other scenarios' clients send meanwhile are counted too (a stretch with
//! only the measured call in flight is the caller's to choose).

use std::collections::BTreeMap;

use redis::aio::MultiplexedConnection;
use serde::Serialize;

use crate::LoadgenError;

/// Redis's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RedisCounters {
    cpu_s: f64,
    /// Per command (lower case, as INFO names it): calls and µs.
    commands: BTreeMap<String, (u64, u64)>,
}

/// Redis's work between two `RedisCounters`.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct RedisWork {
    /// `used_cpu_user` + `used_cpu_sys` spent, ms (every thread of Redis).
    pub cpu_ms: f64,
    /// Calls and µs per command that ran, by name.
    pub commands: BTreeMap<String, CommandWork>,
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub struct CommandWork {
    pub calls: u64,
    pub usec: u64,
    pub usec_per_call: f64,
}

impl RedisCounters {
    pub async fn read(conn: &mut MultiplexedConnection) -> Result<Self, LoadgenError> {
        let cpu: String = redis::cmd("INFO").arg("cpu").query_async(conn).await?;
        let stats: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(conn)
            .await?;
        Ok(Self::parse(&cpu, &stats))
    }

    fn parse(cpu: &str, stats: &str) -> Self {
        let field = |name: &str| {
            cpu.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // cmdstat_evalsha:calls=3,usec=120,usec_per_call=40.00,...
        let commands = stats
            .lines()
            .filter_map(|l| {
                let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
                let value = |key: &str| {
                    rest.split(',')
                        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                        .and_then(|v| v.parse::<u64>().ok())
                };
                Some((name.to_owned(), (value("calls")?, value("usec")?)))
            })
            .collect();
        RedisCounters {
            cpu_s: field("used_cpu_user") + field("used_cpu_sys"),
            commands,
        }
    }

    /// What ran between `self` and `later`.
    pub fn work_until(&self, later: &RedisCounters) -> RedisWork {
        let commands = later
            .commands
            .iter()
            .filter_map(|(name, &(calls, usec))| {
                let (c0, u0) = self.commands.get(name).copied().unwrap_or_default();
                let calls = calls.saturating_sub(c0);
                let usec = usec.saturating_sub(u0);
                (calls > 0).then(|| {
                    let work = CommandWork {
                        calls,
                        usec,
                        usec_per_call: usec as f64 / calls as f64,
                    };
                    (name.clone(), work)
                })
            })
            .collect();
        RedisWork {
            cpu_ms: ((later.cpu_s - self.cpu_s) * 1000.0).max(0.0),
            commands,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU: &str =
        "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:9.0\r\n";

    fn stats(evalsha: (u64, u64)) -> String {
        format!(
            "# Commandstats\r\ncmdstat_ping:calls=4,usec=8,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_evalsha:calls={},usec={},usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n",
            evalsha.0, evalsha.1
        )
    }

    #[test]
    fn the_difference_counts_only_what_ran_between() {
        let before = RedisCounters::parse(CPU, &stats((10, 1_000)));
        assert_eq!(before.cpu_s, 3.75, "user + sys, not the children's");
        let after = RedisCounters::parse(
            "used_cpu_sys:2.0\r\nused_cpu_user:3.0\r\n",
            &(stats((30, 3_000)) + "cmdstat_sscan:calls=2,usec=50,usec_per_call=25.00\r\n"),
        );
        let work = before.work_until(&after);
        assert!((work.cpu_ms - 1250.0).abs() < 1e-6, "{}", work.cpu_ms);
        assert_eq!(work.commands.len(), 2, "ping did not run: {work:?}");
        let evalsha = &work.commands["evalsha"];
        assert_eq!((evalsha.calls, evalsha.usec), (20, 2_000));
        assert_eq!(evalsha.usec_per_call, 100.0);
        assert_eq!(work.commands["sscan"].calls, 2);
    }
}
