//! What loadgen reads from /proc: a process's resident memory and CPU time,
//! and this process's open-file limit. Read-only; nothing here changes a limit.

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

/// User + system CPU time process `pid` has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64, LoadgenError> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LoadgenError::Arg(format!("cannot read {path} (is the pid right?): {e}")))?;
    let ticks = parse_cpu_ticks(&text)
        .ok_or_else(|| LoadgenError::Arg(format!("no CPU times in {path}")))?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if per_second <= 0 {
        return Err(LoadgenError::Arg("sysconf(_SC_CLK_TCK) failed".into()));
    }
    Ok(ticks as f64 / per_second as f64)
}

/// utime + stime (fields 14 and 15) of a /proc stat line, in clock ticks.
/// The command name (field 2) may hold spaces, so fields count from its `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
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
    fn reads_cpu_ticks_past_a_command_name_with_spaces() {
        let stat =
            "4242 (redis server) S 1 4242 4242 0 -1 4194560 812 0 0 0 1500 250 0 0 20 0 5 0 99 1 2";
        assert_eq!(parse_cpu_ticks(stat), Some(1750));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn own_process_is_readable() {
        assert!(vm_rss_bytes(std::process::id()).unwrap() > 0);
        assert!(cpu_seconds(std::process::id()).unwrap() >= 0.0);
        assert!(open_file_limit().is_some());
    }
}
