//! Idle sockets held open beside a kick measurement (`revoke
//! --idle-background N`): the hub, the sweep and presence must not make a
//! kick slower as the number of quiet sockets on the instance grows.
//!
//! The sockets belong to their own sessions, on accounts past the measured
//! ones, so no kick of the measurement touches them; any of them the server
//! closes meanwhile is reported as dropped.

use serde::Serialize;

use super::dial::Dial;
use super::idle_sockets::{open_and_hold, Held, OpenJob, OpenResult};
use super::setup::sign_in_all;
use crate::accounts::AccountArgs;
use crate::cli::IdleBackgroundArgs;
use crate::procfs::open_file_limit;
use crate::progress::Progress;
use crate::target::Target;
use crate::LoadgenError;

/// Descriptors the measurement itself needs besides the idle sockets.
const SPARE_FDS: u64 = 256;

/// The idle sockets, open.
pub struct IdleBackground {
    requested: u64,
    sessions: u64,
    opened: OpenResult,
    held: Held,
}

/// What the idle sockets did during the measurement.
#[derive(Debug, Serialize)]
pub struct IdleBackgroundReport {
    pub requested: u64,
    pub opened: u64,
    pub failed: u64,
    /// Idle sockets the server closed while the kicks were measured.
    pub dropped: u64,
    pub sessions: u64,
    pub first_error: Option<String>,
}

impl IdleBackground {
    /// The first account the idle sessions do not use (for later load).
    pub fn accounts_after(args: &IdleBackgroundArgs, measured: u64) -> u64 {
        if args.idle_background == 0 {
            measured
        } else {
            measured + args.idle_background_sessions
        }
    }

    /// Signs `--idle-background-sessions` sessions in on the accounts after
    /// the `measured` ones and opens `--idle-background` sockets over them;
    /// `None` when no idle sockets were asked for.
    pub async fn open(
        args: &IdleBackgroundArgs,
        target: &Target,
        accounts: &AccountArgs,
        measured: u64,
    ) -> Result<Option<IdleBackground>, LoadgenError> {
        let count = args.idle_background;
        if count == 0 {
            return Ok(None);
        }
        let sessions = args.idle_background_sessions.min(count);
        if measured + sessions > u64::from(accounts.accounts) {
            return Err(LoadgenError::Arg(format!(
                "--idle-background-sessions {sessions} needs accounts beyond the {measured} measured ones: raise --accounts"
            )));
        }
        if let Some(limit) = open_file_limit() {
            if count + SPARE_FDS > limit {
                return Err(LoadgenError::Arg(format!(
                    "--idle-background {count} needs {} open files but this process may open {limit}: raise `ulimit -n`",
                    count + SPARE_FDS
                )));
            }
        }
        let signed_in = sign_in_all(target, accounts, measured, sessions, "loadgen-idle").await?;
        let job = OpenJob {
            target: target.to_string(),
            first_index: 0,
            count,
            sources: args.idle_background_sources,
            dial: Dial::Token,
            keys: signed_in.into_iter().map(|s| s.token).collect(),
            concurrency: 256,
            open_timeout_ms: 300_000,
        };
        let progress = Progress::start("idle background: opening sockets", count);
        let (opened, held) = open_and_hold(&job, progress.counters.clone()).await?;
        drop(progress);
        if opened.opened < count {
            held.close().await;
            return Err(LoadgenError::Arg(format!(
                "only {} of {count} idle sockets opened: {}",
                opened.opened,
                opened.first_error.as_deref().unwrap_or("no error reported")
            )));
        }
        Ok(Some(IdleBackground {
            requested: count,
            sessions,
            opened,
            held,
        }))
    }

    /// Closes the sockets and tells how they did.
    pub async fn close(self) -> IdleBackgroundReport {
        let end = self.held.close().await;
        IdleBackgroundReport {
            requested: self.requested,
            opened: self.opened.opened,
            failed: self.opened.failed,
            dropped: end.dropped,
            sessions: self.sessions,
            first_error: self.opened.first_error,
        }
    }
}
