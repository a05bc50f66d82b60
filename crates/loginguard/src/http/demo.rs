//! `GET /api/demo`: which demo accounts exist, so the page can say so.
//!
//! A newcomer sees the page before the log. The demo passwords are public
//! by design and are only listed while the demo accounts are the ones in
//! force (no users file); otherwise the list is empty.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::responses::Always;
use super::state::AppState;
use super::views::{DemoAccountView, DemoView};
use crate::auth::Accounts;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(demo))
}

/// The demo accounts and their (public) passwords; empty unless they are
/// the accounts in force.
#[utoipa::path(
    get,
    path = "/api/demo",
    operation_id = "demo_accounts",
    tag = "demo",
    responses((status = 200, body = DemoView, description = "The demo accounts"), Always),
)]
async fn demo(State(accounts): State<Arc<Accounts>>) -> Json<DemoView> {
    let accounts: Vec<DemoAccountView> = accounts
        .current()
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
