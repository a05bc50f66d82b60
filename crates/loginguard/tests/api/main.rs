//! Black-box tests against real processes: the app on a random port, real
//! `redis-server`s, real HTTP and WebSocket clients. One binary, many modules.

mod helpers;
mod process;
mod redis_server;
mod store;
mod tls;

mod backend;
mod bad_input;
mod cli;
mod hostile_signin;
mod instances;
mod layers;
mod login;
mod nginx;
mod proxy;
mod reload;
mod websocket;
