//! loadgen: a load generator for loginguard that only ever talks to loopback.
//!
//! It measures what issue 6 asks for (idle sockets per byte, kick latency,
//! sign-in and validation throughput, ping latency under a sign-in flood)
//! and never asserts on speed: the figures go to a report, not to a test.
//!
//! # Layout
//! - `cli`: the command line, one argument struct per scenario.
//! - `target`: parses and checks a target URL (loopback only); opens connections to it.
//! - `tls`: TLS to an `https://` target, trusting the CA in `LOADGEN_CA`.
//! - `error`: `LoadgenError`, the one error type.
//! - `stats`: latency histograms (hdrhistogram) and their summaries.
//! - `http`: a lean keep-alive HTTP/1.1 connection (hyper's client conn).
//! - `api`: the loginguard calls a scenario makes (sign in, revoke, validate, verify, introspect).
//! - `ws`: WebSocket connect (optionally from a chosen source address), auth, kick wait.
//! - `accounts`: benchmark account names and the users file they live in.
//! - `background`: a sign-in load that runs beside a measurement.
//! - `backoff`: the JS client's reconnect wait, for `reconnect-storm`.
//! - `progress`: the once-a-second progress line on stderr.
//! - `procfs`: what is read from /proc (a server's RSS and CPU time, the open-file limit).
//! - `report`: prints a report as JSON or as readable lines.
//! - `scenarios`: one module per scenario, each `run(args) -> report`.
//! - `prototype`: `validate`, `idle` and `kick` against the Python prototype.
//! - `plot`: SVG figures drawn from earlier runs' JSON reports.

pub mod accounts;
pub mod api;
pub mod background;
pub mod backoff;
pub mod cli;
pub mod error;
pub mod http;
pub mod plot;
pub mod procfs;
pub mod progress;
pub mod prototype;
pub mod report;
pub mod scenarios;
pub mod stats;
pub mod target;
pub mod tls;
pub mod ws;

pub use error::LoadgenError;
