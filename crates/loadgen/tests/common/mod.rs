//! What every loadgen test binary shares: running a scenario from its
//! command line, as the binary would, and getting its JSON report.

use clap::Parser;
use loadgen::cli::Cli;
use serde_json::Value;

/// Parses `args` (without the program name) and runs the scenario; panics
/// with the arguments and the error if it fails.
pub async fn loadgen(args: &[&str]) -> Value {
    let cli = Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
        .expect("arguments parse");
    loadgen::scenarios::run(cli.command)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
        .expect("a report")
}
