//! `GET /api/demo`: which demo accounts exist, so the page can say so.
//!
//! A newcomer sees the page before the log. The demo passwords are public
//! by design and are only listed while the demo accounts are the ones in
//! force (no users file); otherwise the list is empty.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::state::AppState;
use super::views::{DemoAccountView, DemoView};
use crate::auth::{Accounts, DEMO_ACCOUNTS};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/demo", get(demo))
}

async fn demo(State(accounts): State<Arc<Accounts>>) -> Json<DemoView> {
    let demo = accounts.current().is_demo();
    let accounts = if demo {
        DEMO_ACCOUNTS
            .iter()
            .map(|&(username, _, password, _, is_admin)| DemoAccountView {
                username,
                password,
                is_admin,
            })
            .collect()
    } else {
        Vec::new()
    };
    Json(DemoView { demo, accounts })
}
