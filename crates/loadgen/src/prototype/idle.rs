//! `prototype idle`: N idle WebSockets on the prototype, one session each
//! (its dict keeps one socket per session), and the server's RSS per socket.
//!
//! Sessions are signed in before the first RSS sample, so only the sockets are
//! billed. The sockets are opened and held by `idle`'s own in-process code, in
//! one process: counts stay within one client's file limit (a few thousand).

use super::{check_accounts, sign_in_many, ProtoIdleArgs};
use crate::scenarios::dial::Dial;
use crate::scenarios::idle::{hold_in_process, IdleReport};
use crate::scenarios::idle_sockets::OpenJob;
use crate::scenarios::rss::RssProbe;
use crate::LoadgenError;

pub async fn run(a: &ProtoIdleArgs) -> Result<IdleReport, LoadgenError> {
    let target = &a.target.target;
    check_accounts(a.count, &a.accounts)?;
    let ids = sign_in_many(target, &a.accounts, 0, a.count).await?;
    let rss = RssProbe::start(a.server_pid)?;
    let job = OpenJob {
        target: target.to_string(),
        first_index: 0,
        count: a.count,
        sources: 1,
        dial: Dial::PrototypeId,
        keys: ids,
        concurrency: a.run.connect_concurrency,
        open_timeout_ms: a.run.duration.as_millis() as u64,
    };
    let label = "prototype idle: opening sockets";
    let holding = hold_in_process(&job, label, a.run.hold, &rss).await?;
    Ok(IdleReport::new(
        "prototype-idle",
        target,
        a.count,
        None,
        holding,
    ))
}
