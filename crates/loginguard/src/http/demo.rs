//! `GET /api/demo`: which demo accounts exist, for the page's sign-in form.
//!
//! Merged by `http::router`; read by the page (through `loginguard-client`)
//! so a newcomer sees the accounts before the log. In demo mode (no users
//! file) it lists the public demo accounts with their passwords; otherwise it
//! says `{"demo": false, "accounts": []}`. It must never list an account from
//! a users file.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/demo", get(demo))
}

#[derive(Serialize)]
struct DemoView {
    demo: bool,
    accounts: Vec<DemoAccountView>,
}

#[derive(Serialize)]
struct DemoAccountView {
    username: &'static str,
    password: &'static str,
    is_admin: bool,
}

async fn demo(State(state): State<AppState>) -> Json<DemoView> {
    let accounts: Vec<DemoAccountView> = state
        .auth
        .users
        .demo_accounts()
        .iter()
        .map(|a| DemoAccountView {
            username: a.username,
            password: a.password,
            is_admin: a.is_admin,
        })
        .collect();
    Json(DemoView {
        demo: !accounts.is_empty(),
        accounts,
    })
}
