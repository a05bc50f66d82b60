//! Black-box tests against real processes: the app on a random port, real
//! `redis-server`s, real HTTP and WebSocket clients. One binary, many modules.

mod delay_proxy;
mod helpers;
mod process;
mod redis_sentinel;
mod redis_server;
mod secure_redis;
mod sentinel_tls;
#[macro_use]
mod store;
mod tls;
mod webhook_receiver;

mod audit;
mod backend;
mod bad_input;
mod cli;
mod failover;
mod failure_counter;
mod hostile_http;
mod hostile_signin;
mod hostile_sockets;
mod instances;
mod layers;
mod login;
mod lost_replies;
mod nginx;
mod openapi;
mod policies;
mod policies_audit;
mod policies_store;
mod policy_overrides;
mod policy_overrides_store;
mod proxy;
mod rate_limits;
mod redis_checks;
mod redis_reads;
mod redis_records;
mod redis_security;
mod reload;
mod revoke_all;
mod revoke_all_store;
mod switchover;
mod webhooks;
mod websocket;
