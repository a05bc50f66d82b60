//! The server's resident memory per held socket, for `idle` and `prototype
//! idle`: one sample before the sockets open, one while they are held, the
//! growth split over the sockets that opened. Reads /proc through `procfs`;
//! opening and holding the sockets is not its business.

use serde::Serialize;

use crate::procfs::vm_rss_bytes;
use crate::LoadgenError;

/// What the held sockets cost the server.
#[derive(Debug, Serialize)]
pub struct RssReport {
    pub pid: u32,
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub per_socket_bytes: u64,
    pub per_socket_kib: f64,
}

/// The server's RSS sampled before the sockets open (when `--server-pid` is
/// given), to be compared with a sample taken while they are held.
pub(crate) struct RssProbe {
    before: Option<(u32, u64)>,
}

impl RssProbe {
    pub(crate) fn start(pid: Option<u32>) -> Result<RssProbe, LoadgenError> {
        let before = pid.map(|p| vm_rss_bytes(p).map(|b| (p, b))).transpose()?;
        Ok(RssProbe { before })
    }

    /// Samples again and bills the growth to `sockets` sockets.
    pub(crate) fn per_socket(&self, sockets: u64) -> Result<Option<RssReport>, LoadgenError> {
        let Some((pid, before_bytes)) = self.before else {
            return Ok(None);
        };
        let after_bytes = vm_rss_bytes(pid)?;
        Ok(Some(RssReport::bill(
            pid,
            before_bytes,
            after_bytes,
            sockets,
        )))
    }
}

impl RssReport {
    /// The growth from `before_bytes` to `after_bytes` split over `sockets`
    /// (a shrink counts as zero); KiB rounded to two decimals.
    fn bill(pid: u32, before_bytes: u64, after_bytes: u64, sockets: u64) -> RssReport {
        let per = after_bytes.saturating_sub(before_bytes) / sockets.max(1);
        RssReport {
            pid,
            before_bytes,
            after_bytes,
            per_socket_bytes: per,
            per_socket_kib: (per as f64 / 1024.0 * 100.0).round() / 100.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_split_over_the_sockets() {
        let r = RssReport::bill(7, 1_000_000, 1_000_000 + 3 * 8_300, 3);
        assert_eq!((r.pid, r.per_socket_bytes), (7, 8_300));
        assert_eq!(r.per_socket_kib, 8.11);
        assert_eq!(RssReport::bill(7, 5_000, 4_000, 3).per_socket_bytes, 0);
        assert_eq!(RssReport::bill(7, 0, 2_048, 0).per_socket_bytes, 2_048);
    }

    #[test]
    fn a_probe_without_a_pid_reports_nothing() {
        assert!(RssProbe::start(None)
            .unwrap()
            .per_socket(10)
            .unwrap()
            .is_none());
        let own = RssProbe::start(Some(std::process::id())).unwrap();
        let report = own.per_socket(1).unwrap().expect("a report for a pid");
        assert!(report.before_bytes > 0 && report.after_bytes > 0);
    }
}
