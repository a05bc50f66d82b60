//! Black-box tests against real processes: the app on a random port, real
//! `redis-server`s, real HTTP and WebSocket clients. One binary, many modules.

mod helpers;
mod process;
mod redis_sentinel;
mod redis_server;
mod secure_redis;
mod store;

mod bad_input;
mod cli;
mod failover;
mod hostile_signin;
mod instances;
mod layers;
mod login;
mod redis_security;
mod reload;
mod switchover;
mod websocket;
