//! The `loadgen` binary: parses the command line, runs one scenario on a
//! multi-threaded runtime, prints its report (JSON with `--json`).
//!
//! Errors go to stderr with exit code 1; nothing else is printed to stdout.

use std::process::ExitCode;

use clap::Parser;
use loadgen::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(loadgen::scenarios::run(cli.command)) {
        Ok(Some(report)) if cli.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("a JSON value serialises")
            );
            ExitCode::SUCCESS
        }
        Ok(Some(report)) => {
            print!("{}", loadgen::report::human(&report));
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: error: {e}");
            ExitCode::FAILURE
        }
    }
}
