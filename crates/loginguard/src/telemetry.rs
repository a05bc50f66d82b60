//! Logging set-up: `tracing` to stderr, filtered by `RUST_LOG` (default info).
//!
//! Called once by the binary and, silenced unless `TEST_LOG` is set, by the
//! test harness. Tokens, passwords and hashes are never logged anywhere.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; later calls do nothing.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
