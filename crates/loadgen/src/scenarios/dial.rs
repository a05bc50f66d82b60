//! Which WebSocket a scenario opens: loginguard's `/ws` authenticated with a
//! token, or the prototype's `/ws/{session_id}`, and how long that may take.
//! Every socket a scenario opens (held idle, armed for a kick, pinging) goes
//! through it, so the same code measures either server.
//!
//! Opening only: what an open socket then waits for is its scenario's business.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::prototype::client;
use crate::target::Target;
use crate::ws::{self, Ws};
use crate::LoadgenError;

/// How long connect + upgrade + `auth_ok` (or the prototype's pong) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);

/// How a socket is opened, and what its key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dial {
    /// loginguard: `/ws`, then `auth` with the key as token until `auth_ok`.
    Token,
    /// The prototype: `/ws/{key}` with the session id as key, then one ping answered.
    PrototypeId,
}

impl Dial {
    /// Opens one socket from `source` (when given) for `key`, within
    /// `OPEN_TIMEOUT`. Once it returns, the server holds the socket, so a kick
    /// can reach it.
    pub async fn open(
        self,
        target: &Target,
        source: Option<IpAddr>,
        key: &str,
    ) -> Result<Ws, LoadgenError> {
        let opening = async {
            match self {
                Dial::Token => {
                    let mut ws = ws::connect(target, source).await?;
                    ws::authenticate(&mut ws, key).await?;
                    Ok(ws)
                }
                Dial::PrototypeId => client::open(target, source, key).await,
            }
        };
        tokio::time::timeout(OPEN_TIMEOUT, opening)
            .await
            .map_err(|_| {
                LoadgenError::Timeout(match self {
                    Dial::Token => "WebSocket connect and auth",
                    Dial::PrototypeId => "prototype WebSocket connect and pong",
                })
            })?
    }
}
