//! loginguard: one account, one active session, enforced atomically across
//! every instance, with the losing devices told at once over WebSocket.
//!
//! # Layout (dependencies point down this list; `tests/api/layers.rs` fails
//! when an import points up or a cycle appears)
//! - [`startup`]: builds the app from a `Config` (store, bus, hub, use cases, router) and runs it.
//! - [`http`]: routes, extractors, views, the one error type and the `/ws` upgrade; thin.
//! - [`web`]: the page at `/` and the JS client, embedded in the binary.
//! - [`ws`]: the hub (session -> sockets), the per-socket loop, revalidation.
//! - [`app`]: every use case (sign-in, sign-out, own sessions, admin, readiness), without axum.
//! - [`auth`]: users file, argon2id, failure rate limits, token issuing.
//! - [`presence`]: socket counts per session across instances.
//! - [`store`]: the `SessionStore` trait, its memory and Redis backends, the snapshot cache.
//! - [`events`]: store events and the buses that carry them to every instance.
//! - [`config`]: flags, env and TOML -> one typed tree.
//! - [`metrics`]: the Prometheus registry behind `/metrics`.
//! - [`telemetry`]: logging set-up.
//! - [`domain`]: plain types and pure rules: sessions, tokens, policy, reasons, clock.

pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod metrics;
pub mod presence;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod ws;
