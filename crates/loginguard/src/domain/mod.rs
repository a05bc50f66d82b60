//! The domain: plain types and pure rules, no I/O and no async.
//!
//! Everything here is what `auth`, `store`, `events`, `ws` and `http` agree
//! on: parsed user input (`Username`, `DeviceName`, `DeviceClass`, `DeviceId`), identities (`SessionId`,
//! `AccountKey`, `Token`), the session record and its provenance, the policy
//! decision and the revocation reasons. The memory store runs `Account` directly; the Redis Lua
//! scripts mirror it, and the store conformance suite checks that they agree.

mod account;
mod clock;
mod device;
mod device_class;
pub mod json;
mod policy;
mod provenance;
mod reason;
mod session;
mod text;
mod token;
mod username;

pub use account::{Account, Lookup, SignInDecision, MAX_TOMBSTONES};
pub use clock::{Clock, ManualClock, Millis, SystemClock};
pub use device::DeviceName;
pub use device_class::{DeviceClass, DeviceId, DeviceTagError};
pub use policy::{decide, Decision, OnLimit, Policy};
pub use provenance::{Origin, PasswordFingerprint};
pub use reason::{Actor, Reason, Tombstone};
pub use session::{Lifetimes, Session, SessionId};
pub use token::{AccountKey, Token, TokenHash};
pub use username::Username;
