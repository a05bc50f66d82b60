//! loginguard: one account, one active session, enforced atomically across
//! every instance, with the losing devices told at once over WebSocket.
//!
//! # Layout (in data-path order)
//! - [`config`]: flags, env and TOML -> one validated `Config`.
//! - [`startup`]: builds the app from a `Config` (store, bus, hub, router) and runs it.
//! - [`domain`]: plain types and pure rules: sessions, tokens, policy, reasons, clock.
//! - [`auth`]: users file, argon2id, rate limits, the sign-in use case.
//! - [`store`]: the `SessionStore` trait and its memory and Redis backends; one atomic step per intent.
//! - [`events`]: store events and the buses that carry them to every instance.
//! - [`ws`]: the hub (session -> sockets), the per-socket loop, revalidation.
//! - [`presence`]: socket counts per session across instances.
//! - [`http`]: routes, extractors and the one error type.
//! - [`web`]: the page at `/` and the JS client, embedded in the binary.
//! - [`state`]: the shared handle handlers and sockets use.
//! - [`metrics`]: the Prometheus registry behind `/metrics`.
//! - [`telemetry`]: logging set-up.

pub mod auth;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod metrics;
pub mod presence;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod ws;
