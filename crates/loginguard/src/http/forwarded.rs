//! The client address behind a trusted proxy, from `X-Forwarded-For`.
//!
//! Called by the `Meta` extractor when `--trust-forwarded-for` is on. Only
//! the last address of the last header line can be trusted: a proxy appends
//! (to the value, or as a line of its own, as HAProxy does), so everything
//! before it is whatever the client sent. Pure: no request, no state.

use std::net::{IpAddr, SocketAddr};

/// The address our proxy appended, port stripped; `None` when the last entry
/// is missing or unparsable (the caller then uses the peer address, never an
/// earlier, client-written entry).
pub fn last_forwarded_for<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Option<IpAddr> {
    let last_line = std::str::from_utf8(lines.last()?).ok()?;
    parse_address(last_line.rsplit(',').next()?.trim())
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]` or
/// `[2001:db8::1]:443`.
fn parse_address(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    entry
        .strip_prefix('[')?
        .strip_suffix(']')?
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(lines: &[&str]) -> Option<String> {
        last_forwarded_for(lines.iter().map(|l| l.as_bytes())).map(|ip| ip.to_string())
    }

    #[test]
    fn the_last_address_of_the_last_line_wins() {
        assert_eq!(
            of(&["6.6.6.6", "203.0.113.7"]).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            of(&["6.6.6.6, 10.0.0.1", "1.1.1.1,203.0.113.7"]).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(of(&[" 203.0.113.7 "]).as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn ports_are_stripped_and_ipv6_is_understood() {
        for (line, ip) in [
            ("203.0.113.7:5678", "203.0.113.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("2001:DB8:0::1", "2001:db8::1"),
        ] {
            assert_eq!(of(&[line]).as_deref(), Some(ip), "{line}");
        }
    }

    #[test]
    fn an_unusable_last_entry_gives_nothing_not_an_earlier_one() {
        for lines in [
            &["203.0.113.7", "unknown"][..],
            &["203.0.113.7,"],
            &["203.0.113.7, nonsense"],
            &["203.0.113.7", ""],
            &["[2001:db8::1"],
            &["1.2.3.4:99999"],
            &[],
        ] {
            assert_eq!(of(lines), None, "{lines:?}");
        }
        assert_eq!(last_forwarded_for([&b"\xff"[..]].into_iter()), None);
    }
}
