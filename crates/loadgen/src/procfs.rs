//! What loadgen reads from /proc: a process's resident memory and this
//! process's open-file limit. Read-only; nothing here changes a limit.

use crate::LoadgenError;

/// `VmRSS` of process `pid`, in bytes.
pub fn vm_rss_bytes(pid: u32) -> Result<u64, LoadgenError> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        LoadgenError::Arg(format!("cannot read {path} (is --server-pid right?): {e}"))
    })?;
    parse_vm_rss(&text).ok_or_else(|| LoadgenError::Arg(format!("no VmRSS line in {path}")))
}

/// The `VmRSS:  1234 kB` line of a /proc status file, in bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_whitespace();
    let kib: u64 = parts.next()?.parse().ok()?;
    (parts.next() == Some("kB")).then_some(kib * 1024)
}

/// This process's soft limit on open files, when /proc tells.
pub fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&text)
}

/// The soft value of the `Max open files` line of a /proc limits file.
pub fn parse_open_file_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_in_bytes() {
        let status = "Name:\tloginguard\nVmPeak:\t  99 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn reads_the_soft_open_file_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n";
        assert_eq!(parse_open_file_limit(limits), Some(20000));
    }

    #[test]
    fn own_process_is_readable() {
        assert!(vm_rss_bytes(std::process::id()).unwrap() > 0);
        assert!(open_file_limit().is_some());
    }
}
