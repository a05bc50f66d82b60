//! JSON shapes of everything the HTTP API answers, errors included.
//!
//! One place builds them, so the sign-in response, the session lists, the
//! admin list and the error bodies cannot drift apart. Each is a typed
//! `Serialize` view made from an `app` result, and its `ToSchema` is what
//! the OpenAPI document (`openapi.rs`) says about it: a shape that can be
//! one of several is an untagged enum whose variants cannot be mistaken for
//! each other. Never includes a token's hash, a password hash or (except the
//! sign-in's own) a token.

use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{
    AccountPolicy, AdminPage, CurrentSession, EvictionOffer, ListedSession, SignedIn,
};
use crate::auth::User;
use crate::domain::{
    AuditEntry, AuditKind, ClassLimits, DeviceClass, Millis, OnLimit, Origin, PolicyOverride,
    Reason, Session, SessionId, Tombstone,
};
use crate::store::AuditPage;
use crate::ws::message::ActorView;

#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub session_id: SessionId,
    pub user: UserView,
    pub device: String,
    pub device_class: DeviceClass,
    pub origin: Origin,
    pub ip: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub last_seen_at: String,
    #[schema(format = DateTime)]
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
#[derive(Serialize, ToSchema)]
pub struct OwnSessionsView {
    pub sessions: Vec<OwnSessionView>,
}

/// A session in the caller's list: the view plus whether it is the caller's
/// and how many sockets it has open.
#[derive(Serialize, ToSchema)]
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
#[derive(Serialize, ToSchema)]
pub struct AdminPageView {
    pub sessions: Vec<AdminSessionView>,
    pub count: usize,
    pub next_cursor: Option<String>,
    #[schema(format = DateTime)]
    pub generated_at: String,
}

/// A session in the admin list.
#[derive(Serialize, ToSchema)]
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

/// `GET /api/admin/audit`: one page of the audit trail, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPageView {
    pub entries: Vec<AuditEntryView>,
    pub next_cursor: Option<String>,
}

impl From<AuditPage> for AuditPageView {
    fn from(page: AuditPage) -> Self {
        AuditPageView {
            entries: page.entries.iter().map(AuditEntryView::from).collect(),
            next_cursor: page.next.map(|id| id.to_string()),
        }
    }
}

/// One entry of the audit trail, as the API and `loginguard audit` print
/// it: every field always present, `null` where it does not apply.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    #[schema(format = DateTime)]
    pub at: String,
    #[serde(rename = "type")]
    pub kind: AuditKind,
    pub username: String,
    pub session_id: Option<SessionId>,
    pub device: Option<String>,
    pub ip: Option<String>,
    pub reason: Option<Reason>,
    pub by: Option<ActorView>,
    pub instance: String,
}

impl From<&AuditEntry> for AuditEntryView {
    fn from(e: &AuditEntry) -> Self {
        let r = &e.record;
        AuditEntryView {
            id: e.id.to_string(),
            at: r.at.to_rfc3339(),
            kind: r.kind,
            username: r.username.to_string(),
            session_id: r.session_id.clone(),
            device: r.device.as_ref().map(|d| d.as_str().to_owned()),
            ip: r.ip.clone(),
            reason: r.reason,
            by: r.by.as_ref().map(ActorView::from),
            instance: r.instance.clone(),
        }
    }
}

/// `{session_id, device}` of a session pushed out by a sign-in.
#[derive(Serialize, ToSchema)]
pub struct RevokedView {
    pub session_id: SessionId,
    pub device: String,
}

/// The sign-in 200: the new session and its token (shown this once).
#[derive(Serialize, ToSchema)]
pub struct SignInView {
    pub session_id: SessionId,
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    pub user: SignedInUserView,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
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
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SignedInUserView {
    Account(UserView),
    Subject(SubjectView),
}

/// A trusted backend's subject: only its name (no other field, so the
/// schema tells it from an account).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectView {
    pub username: String,
}

impl From<SignedIn> for SignInView {
    fn from(s: SignedIn) -> Self {
        let user = match &s.user {
            Some(user) => SignedInUserView::Account(UserView::of(&s.session, Some(user))),
            None => SignedInUserView::Subject(SubjectView {
                username: s.session.username.to_string(),
            }),
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
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum IntrospectionView<'a> {
    Active(ActiveTokenView<'a>),
    Inactive(InactiveTokenView),
}

/// What introspection tells about a live session; times in Unix seconds.
#[derive(Serialize, ToSchema)]
pub struct ActiveTokenView<'a> {
    /// Always `true`.
    pub active: bool,
    pub sub: &'a str,
    #[schema(value_type = SessionId)]
    pub sid: &'a SessionId,
    pub iat: u64,
    pub exp: u64,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    pub device: &'a str,
    pub device_class: DeviceClass,
}

/// `{"active": false}`, exactly.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InactiveTokenView {
    /// Always `false`.
    pub active: bool,
}

impl<'a> IntrospectionView<'a> {
    pub fn of(session: Option<&'a Session>) -> Self {
        match session {
            Some(s) => IntrospectionView::Active(ActiveTokenView {
                active: true,
                sub: s.username.as_str(),
                sid: &s.session_id,
                iat: s.created_at.0 / 1000,
                exp: s.expires_at.0 / 1000,
                token_type: "Bearer",
                device: s.device.as_str(),
                device_class: s.class(),
            }),
            None => IntrospectionView::Inactive(InactiveTokenView { active: false }),
        }
    }
}

/// `{"revoked": n}`.
#[derive(Serialize, ToSchema)]
pub struct RevokedCountView {
    pub revoked: usize,
}

/// An account's runtime policy override and the policy its next sign-in
/// gets (`/api/admin/users/{username}/policy`).
#[derive(Serialize, ToSchema)]
pub struct AccountPolicyView {
    pub username: String,
    /// The stored override, only the fields it sets; null when there is none.
    #[serde(rename = "override")]
    pub stored: Option<PolicyOverride>,
    /// What a sign-in would be held to now: each field from the override,
    /// else the users file, else the flags.
    pub effective: EffectivePolicyView,
}

/// A complete policy (every field set).
#[derive(Serialize, ToSchema)]
pub struct EffectivePolicyView {
    pub max_sessions: u32,
    pub on_limit: OnLimit,
    /// Device class -> its limit; `{}` when no class has one.
    #[schema(value_type = BTreeMap<String, u32>)]
    pub class_limits: ClassLimits,
}

impl From<AccountPolicy> for AccountPolicyView {
    fn from(p: AccountPolicy) -> Self {
        AccountPolicyView {
            username: p.username.to_string(),
            stored: p.stored,
            effective: EffectivePolicyView {
                max_sessions: p.effective.max_sessions,
                on_limit: p.effective.on_limit,
                class_limits: p.effective.class_limits,
            },
        }
    }
}

/// `{"status": "ok"}` and the like.
#[derive(Serialize, ToSchema)]
pub struct StatusView {
    pub status: &'static str,
}

/// `GET /api/demo`: the demo accounts, shown on the page in demo mode.
#[derive(Serialize, ToSchema)]
pub struct DemoView {
    pub demo: bool,
    pub accounts: Vec<DemoAccountView>,
}

#[derive(Serialize, ToSchema)]
pub struct DemoAccountView {
    pub username: &'static str,
    pub password: &'static str,
    pub is_admin: bool,
}

/// `{"error": {"code", "message", ...details}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorView {
    error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
struct ErrorBody {
    code: ErrorCode,
    message: String,
    #[serde(flatten)]
    details: ErrorDetails,
}

/// The stable error codes (PROTOCOL.md's error table); `ApiError::code`
/// picks one for each error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    InvalidTicket,
    ConfirmationRequired,
    UnsupportedMediaType,
    InvalidCredentials,
    Unauthorized,
    SessionRevoked,
    SessionExpired,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    SessionLimitReached,
    PayloadTooLarge,
    UriTooLong,
    RateLimited,
    HeadersTooLarge,
    StoreUnavailable,
    Internal,
}

impl ErrorView {
    pub fn new(code: ErrorCode, message: String, details: ErrorDetails) -> Self {
        ErrorView {
            error: ErrorBody {
                code,
                message,
                details,
            },
        }
    }
}

/// The fields some errors add inside `error`; most add none. One flat
/// shape rather than an enum, so the schema says plainly which fields may
/// appear (and a body without any still fits it).
#[derive(Default, Serialize, ToSchema)]
pub struct ErrorDetails {
    /// `session_revoked`, `session_expired`: why the session ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Reason>,
    /// `session_revoked`, `session_expired`: when.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    revoked_at: Option<String>,
    /// `session_revoked`: the session that caused it, null when nobody.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ActorView>)]
    by: Option<Option<ActorView>>,
    /// `session_limit_reached`: the sessions holding the places.
    #[serde(skip_serializing_if = "Option::is_none")]
    active_sessions: Option<Vec<ActiveSessionView>>,
    /// `session_limit_reached` under `on_limit = ask`: the single-use
    /// ticket for `POST /api/auth/login/evict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    eviction_ticket: Option<String>,
    /// `session_limit_reached` under `on_limit = ask`: when the ticket stops
    /// working.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    ticket_expires_at: Option<String>,
}

impl ErrorDetails {
    pub fn revoked(t: &Tombstone) -> Self {
        ErrorDetails {
            reason: Some(t.reason),
            revoked_at: Some(t.revoked_at.to_rfc3339()),
            by: Some(t.by.as_ref().map(ActorView::from)),
            ..ErrorDetails::default()
        }
    }

    pub fn expired(revoked_at: Millis) -> Self {
        ErrorDetails {
            reason: Some(Reason::Expired),
            revoked_at: Some(revoked_at.to_rfc3339()),
            ..ErrorDetails::default()
        }
    }

    pub fn limit(active: &[Session], offer: Option<&EvictionOffer>) -> Self {
        ErrorDetails {
            active_sessions: Some(active.iter().map(ActiveSessionView::from).collect()),
            eviction_ticket: offer.map(|o| o.ticket.clone()),
            ticket_expires_at: offer.map(|o| o.expires_at.to_rfc3339()),
            ..ErrorDetails::default()
        }
    }
}

/// A session in a 409's `active_sessions` (never a token).
#[derive(Serialize, ToSchema)]
pub struct ActiveSessionView {
    pub session_id: SessionId,
    pub device: String,
    pub device_class: DeviceClass,
    pub ip: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
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
