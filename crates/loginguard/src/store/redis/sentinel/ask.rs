//! Asks the Sentinels which node is master, the way Sentinel's client
//! guidelines say: one Sentinel at a time over one kept connection, `SENTINEL
//! GET-MASTER-ADDR-BY-NAME`, and on to the next Sentinel when one fails or
//! names a node that turns out not to be master. Used for every lookup and
//! by the watch, so both hear the same Sentinel.

use redis::aio::MultiplexedConnection;
use redis::Client;

use super::connection_config;

pub(super) struct SentinelAsker {
    sentinels: Vec<Client>,
    conn: Option<MultiplexedConnection>,
    next: usize,
}

impl SentinelAsker {
    pub fn new(sentinels: Vec<Client>) -> Self {
        SentinelAsker {
            sentinels,
            conn: None,
            next: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.sentinels.len()
    }

    /// The address a reachable Sentinel names master of `name`; `None`
    /// when no Sentinel answers or none knows the name.
    pub async fn named_master(&mut self, name: &str) -> Option<(String, u16)> {
        for _ in 0..=self.sentinels.len() {
            if self.conn.is_none() {
                let client = &self.sentinels[self.next % self.sentinels.len()];
                self.next += 1;
                self.conn = client
                    .get_multiplexed_async_connection_with_config(&connection_config())
                    .await
                    .ok();
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            let asked = redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(name)
                .query_async::<Option<(String, u16)>>(conn)
                .await;
            match asked {
                Ok(Some(named)) => return Some(named),
                Ok(None) | Err(_) => self.skip(),
            }
        }
        None
    }

    /// Moves on to the next Sentinel (this one failed, or misled us).
    pub fn skip(&mut self) {
        self.conn = None;
    }
}
