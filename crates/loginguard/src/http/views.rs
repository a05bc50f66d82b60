//! JSON shapes of sessions and users as the API shows them.
//!
//! One place builds them, so the sign-in response, the own-session views and
//! the admin list cannot drift apart. Never includes a token or its hash.

use serde::Serialize;

use crate::auth::User;
use crate::domain::{Session, SessionId, Username};

#[derive(Serialize)]
pub struct UserView {
    pub username: String,
    pub name: String,
    pub is_admin: bool,
}

impl UserView {
    /// A session's account; a name missing from the users file shows as itself.
    pub fn of(session: &Session, user: Option<&User>) -> Self {
        UserView {
            username: session.username.to_string(),
            name: user.map_or_else(|| session.username.to_string(), |u| u.name.clone()),
            is_admin: user.is_some_and(|u| u.is_admin),
        }
    }
}

#[derive(Serialize)]
pub struct SessionView {
    pub session_id: SessionId,
    pub user: UserView,
    pub device: String,
    pub ip: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
}

impl SessionView {
    pub fn of(s: &Session, user: Option<&User>) -> Self {
        SessionView {
            session_id: s.session_id.clone(),
            user: UserView::of(s, user),
            device: s.device.as_str().to_owned(),
            ip: s.ip.clone(),
            created_at: s.created_at.to_rfc3339(),
            last_seen_at: s.last_seen_at.to_rfc3339(),
            expires_at: s.expires_at.to_rfc3339(),
        }
    }
}

/// A session in a list: the view plus whether it is the caller's and how
/// many sockets it has open.
#[derive(Serialize)]
pub struct ListedSession {
    #[serde(flatten)]
    pub view: SessionView,
    pub current: bool,
    pub connections: usize,
}

/// A session in the admin list.
#[derive(Serialize)]
pub struct AdminSession {
    pub username: String,
    #[serde(flatten)]
    pub view: SessionView,
    pub connections: usize,
}

/// `{session_id, device}` of a session pushed out by a sign-in.
#[derive(Serialize)]
pub struct RevokedView {
    pub session_id: SessionId,
    pub device: String,
}

/// The (account, session) pairs whose socket counts a list shows.
pub fn presence_keys<'a>(
    sessions: impl IntoIterator<Item = &'a Session>,
) -> Vec<(Username, SessionId)> {
    sessions
        .into_iter()
        .map(|s| (s.username.clone(), s.session_id.clone()))
        .collect()
}
