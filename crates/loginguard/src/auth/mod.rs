//! Authentication machinery: the users file (reloadable), trusted backends'
//! API keys (reloadable), argon2id, failure rate limits, device tokens and
//! token issuing.
//!
//! Called by `app` (the sign-in and backend use cases) and `main`
//! (`hash-password`, `api-key new`). It
//! verifies hashes off the async runtime and hands out tokens; it never
//! decides a policy, touches sessions, writes responses or sees sockets. The
//! failure counts it limits by live in a `store::FailureCounter`.

mod accounts;
mod api_keys;
mod device_token;
mod error;
pub mod files;
mod password;
mod rate_limit;
mod token;
mod users;

pub use accounts::Accounts;
pub use api_keys::{new_key, ApiKey, ApiKeys, KeySet, NewKey, NewKeyError, Scope, KEY_PREFIX};
pub use device_token::DeviceTokens;
pub use error::AuthError;
pub use password::{hash_password, PasswordVerifier};
pub use rate_limit::{FailureLimiter, RateLimits, Refusal, Ticket};
pub use token::{issue_token, issue_token_on};
pub use users::{DemoAccount, User, Users};
