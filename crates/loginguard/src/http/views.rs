//! JSON shapes of everything the HTTP API answers, errors included.
//!
//! One place builds them, so the sign-in response, the session lists, the
//! admin list and the error bodies cannot drift apart. Each is a typed
//! `Serialize` view made from an `app` result. Never includes a token's
//! hash, a password hash or (except the sign-in's own) a token.

use serde::Serialize;

use crate::app::{AdminPage, CurrentSession, EvictionOffer, ListedSession, SignedIn};
use crate::auth::User;
use crate::domain::{DeviceClass, Millis, Origin, Reason, Session, SessionId, Tombstone};
use crate::ws::message::ActorView;

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
    pub device_class: DeviceClass,
    pub origin: Origin,
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
            device_class: s.class(),
            origin: s.origin,
            ip: s.ip.clone(),
            created_at: s.created_at.to_rfc3339(),
            last_seen_at: s.last_seen_at.to_rfc3339(),
            expires_at: s.expires_at.to_rfc3339(),
        }
    }
}

impl From<&CurrentSession> for SessionView {
    fn from(c: &CurrentSession) -> Self {
        SessionView::of(&c.session, c.user.as_ref())
    }
}

/// `GET /api/auth/sessions`: the caller's sessions; also a trusted
/// backend's list of a subject's (`GET /api/v1/subjects/{subject}/sessions`),
/// where none is `current`.
#[derive(Serialize)]
pub struct OwnSessionsView {
    pub sessions: Vec<OwnSessionView>,
}

/// A session in the caller's list: the view plus whether it is the caller's
/// and how many sockets it has open.
#[derive(Serialize)]
pub struct OwnSessionView {
    #[serde(flatten)]
    pub view: SessionView,
    pub current: bool,
    pub connections: usize,
}

impl From<Vec<ListedSession>> for OwnSessionsView {
    fn from(list: Vec<ListedSession>) -> Self {
        let sessions = list
            .iter()
            .map(|l| OwnSessionView {
                view: SessionView::of(&l.session, l.user.as_ref()),
                current: l.current,
                connections: l.connections,
            })
            .collect();
        OwnSessionsView { sessions }
    }
}

/// `GET /api/admin/sessions`: one page of every live session.
#[derive(Serialize)]
pub struct AdminPageView {
    pub sessions: Vec<AdminSessionView>,
    pub count: usize,
    pub next_cursor: Option<String>,
    pub generated_at: String,
}

/// A session in the admin list.
#[derive(Serialize)]
pub struct AdminSessionView {
    pub username: String,
    #[serde(flatten)]
    pub view: SessionView,
    pub connections: usize,
}

impl From<AdminPage> for AdminPageView {
    fn from(page: AdminPage) -> Self {
        let sessions = page
            .sessions
            .iter()
            .map(|l| AdminSessionView {
                username: l.session.username.to_string(),
                view: SessionView::of(&l.session, l.user.as_ref()),
                connections: l.connections,
            })
            .collect();
        AdminPageView {
            sessions,
            count: page.count,
            next_cursor: page.next_cursor,
            generated_at: page.generated_at.to_rfc3339(),
        }
    }
}

/// `{session_id, device}` of a session pushed out by a sign-in.
#[derive(Serialize)]
pub struct RevokedView {
    pub session_id: SessionId,
    pub device: String,
}

/// The sign-in 200: the new session and its token (shown this once).
#[derive(Serialize)]
pub struct SignInView {
    pub session_id: SessionId,
    pub token: String,
    pub token_type: &'static str,
    pub user: SignedInUserView,
    pub created_at: String,
    pub expires_at: String,
    /// The new session as every list shows it (`device_class` included).
    pub session: SessionView,
    /// Pushed out by this sign-in: the sessions the policy evicted, and the
    /// one of the same device it replaced.
    pub revoked_sessions: Vec<RevokedView>,
    /// For the client to keep and send with its next sign-in on this account
    /// (see `auth::DeviceTokens`); not a credential. Password sign-ins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

/// Who signed in: an account of the users file, or a trusted backend's
/// subject, which is only a name (`{"username": subject}`).
#[derive(Serialize)]
#[serde(untagged)]
pub enum SignedInUserView {
    Account(UserView),
    Subject { username: String },
}

impl From<SignedIn> for SignInView {
    fn from(s: SignedIn) -> Self {
        let user = match &s.user {
            Some(user) => SignedInUserView::Account(UserView::of(&s.session, Some(user))),
            None => SignedInUserView::Subject {
                username: s.session.username.to_string(),
            },
        };
        SignInView {
            session_id: s.session.session_id.clone(),
            token: s.token.expose().to_owned(),
            token_type: "Bearer",
            user,
            created_at: s.session.created_at.to_rfc3339(),
            expires_at: s.session.expires_at.to_rfc3339(),
            session: SessionView::of(&s.session, s.user.as_ref()),
            revoked_sessions: s
                .revoked
                .iter()
                .chain(s.replaced.as_deref())
                .map(|r| RevokedView {
                    session_id: r.session_id.clone(),
                    device: r.device.as_str().to_owned(),
                })
                .collect(),
            device_token: s.device_token.as_ref().map(|t| t.as_str().to_owned()),
        }
    }
}

/// RFC 7662's answer: `{"active": false}` and nothing else for a token that
/// does not work now, the session's particulars for one that does.
#[derive(Serialize)]
pub struct IntrospectionView<'a> {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<ActiveTokenView<'a>>,
}

/// What introspection tells about a live session; times in Unix seconds.
#[derive(Serialize)]
pub struct ActiveTokenView<'a> {
    pub sub: &'a str,
    pub sid: &'a SessionId,
    pub iat: u64,
    pub exp: u64,
    pub token_type: &'static str,
    pub device: &'a str,
    pub device_class: DeviceClass,
}

impl<'a> IntrospectionView<'a> {
    pub fn of(session: Option<&'a Session>) -> Self {
        IntrospectionView {
            active: session.is_some(),
            token: session.map(|s| ActiveTokenView {
                sub: s.username.as_str(),
                sid: &s.session_id,
                iat: s.created_at.0 / 1000,
                exp: s.expires_at.0 / 1000,
                token_type: "Bearer",
                device: s.device.as_str(),
                device_class: s.class(),
            }),
        }
    }
}

/// `{"revoked": n}`.
#[derive(Serialize)]
pub struct RevokedCountView {
    pub revoked: usize,
}

/// `{"status": "ok"}` and the like.
#[derive(Serialize)]
pub struct StatusView {
    pub status: &'static str,
}

/// `GET /api/demo`: the demo accounts, shown on the page in demo mode.
#[derive(Serialize)]
pub struct DemoView {
    pub demo: bool,
    pub accounts: Vec<DemoAccountView>,
}

#[derive(Serialize)]
pub struct DemoAccountView {
    pub username: &'static str,
    pub password: &'static str,
    pub is_admin: bool,
}

/// `{"error": {"code", "message", ...details}}`.
#[derive(Serialize)]
pub struct ErrorView {
    error: ErrorBody,
}

#[derive(Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    details: Option<ErrorDetails>,
}

impl ErrorView {
    pub fn new(code: &'static str, message: String, details: Option<ErrorDetails>) -> Self {
        ErrorView {
            error: ErrorBody {
                code,
                message,
                details,
            },
        }
    }
}

/// The fields some errors add inside `error`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ErrorDetails {
    /// `session_revoked`: why, when and by whom (null when nobody).
    Revoked {
        reason: Reason,
        revoked_at: String,
        by: Option<ActorView>,
    },
    /// `session_expired`.
    Expired { reason: Reason, revoked_at: String },
    /// `session_limit_reached`: the sessions holding the places and,
    /// under `ask`, the ticket to sign one of them out.
    Limit {
        active_sessions: Vec<ActiveSessionView>,
        #[serde(skip_serializing_if = "Option::is_none")]
        eviction_ticket: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ticket_expires_at: Option<String>,
    },
}

impl ErrorDetails {
    pub fn revoked(t: &Tombstone) -> Self {
        ErrorDetails::Revoked {
            reason: t.reason,
            revoked_at: t.revoked_at.to_rfc3339(),
            by: t.by.as_ref().map(ActorView::from),
        }
    }

    pub fn expired(revoked_at: Millis) -> Self {
        ErrorDetails::Expired {
            reason: Reason::Expired,
            revoked_at: revoked_at.to_rfc3339(),
        }
    }

    pub fn limit(active: &[Session], offer: Option<&EvictionOffer>) -> Self {
        ErrorDetails::Limit {
            active_sessions: active.iter().map(ActiveSessionView::from).collect(),
            eviction_ticket: offer.map(|o| o.ticket.clone()),
            ticket_expires_at: offer.map(|o| o.expires_at.to_rfc3339()),
        }
    }
}

/// A session in a 409's `active_sessions` (never a token).
#[derive(Serialize)]
pub struct ActiveSessionView {
    pub session_id: SessionId,
    pub device: String,
    pub device_class: DeviceClass,
    pub ip: String,
    pub created_at: String,
    pub last_seen_at: String,
}

impl From<&Session> for ActiveSessionView {
    fn from(s: &Session) -> Self {
        ActiveSessionView {
            session_id: s.session_id.clone(),
            device: s.device.as_str().to_owned(),
            device_class: s.class(),
            ip: s.ip.clone(),
            created_at: s.created_at.to_rfc3339(),
            last_seen_at: s.last_seen_at.to_rfc3339(),
        }
    }
}
