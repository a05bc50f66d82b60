//! The domain: plain types and pure rules, no I/O and no async.
//!
//! Everything here is what `auth`, `store`, `events`, `ws` and `http` agree
//! on: parsed user input (`Username`, `DeviceName`, `DeviceClass`,
//! `ClientDeviceId`, `DeviceToken`), identities (`SessionId`, `AccountKey`,
//! `Token`), the session record and its provenance, the policy decision and
//! its runtime overrides, the revocation reasons, the audit trail's entry,
//! the failed-sign-in window and webhook events with their retry schedule.
//! The memory store runs `Account` and `FailureWindow` directly; the Redis
//! Lua scripts mirror them, and the conformance suites check that they
//! agree.

mod account;
mod audit;
mod class_limits;
mod clock;
mod device;
mod device_class;
mod device_token;
mod failures;
pub mod json;
mod policy;
mod policy_override;
mod provenance;
mod reason;
mod session;
mod text;
mod ticket;
mod token;
mod username;
mod webhook;

pub use account::{lookup_unchanged, Account, Lookup, SignInDecision, MAX_TOMBSTONES};
pub use audit::{AuditEntry, AuditId, AuditKind, AuditRecord, MalformedAuditId};
pub use class_limits::{ClassLimits, ClassLimitsError};
pub use clock::{Clock, ManualClock, Millis, SystemClock};
pub use device::DeviceName;
pub use device_class::{ClientDeviceId, DeviceClass, DeviceTagError};
pub use device_token::{
    DeviceId, DeviceToken, MalformedDeviceToken, DEVICE_ID_BYTES, DEVICE_MAC_BYTES,
};
pub use failures::{Admission, FailureWindow, FAILURE_WINDOW};
pub use policy::{decide, decide_choosing, Decision, OnLimit, Policy};
pub use policy_override::{
    effective, PolicyOverride, PolicyOverrideError, MAX_OVERRIDE_CLASSES, MAX_OVERRIDE_SESSIONS,
};
pub use provenance::{Origin, PasswordFingerprint};
pub use reason::{Actor, Reason, Tombstone};
pub use session::{Lifetimes, Session, SessionId};
pub use ticket::{EvictionTicket, FreshSession, MalformedTicket, PendingSignIn, TICKET_LIFETIME};
pub use token::{AccountKey, Token, TokenHash};
pub use username::Username;
pub use webhook::{RetrySchedule, WebhookBody, WebhookData, WebhookEvent};
