//! Authentication machinery: the users file (reloadable), trusted backends'
//! API keys (reloadable), argon2id, failure rate limits and token issuing.
//!
//! Called by `app` (the sign-in and backend use cases) and `main`
//! (`hash-password`, `api-key new`). It
//! verifies hashes off the async runtime and hands out tokens; it never
//! decides a policy, touches the store, writes responses or sees sockets.

mod accounts;
mod api_keys;
mod error;
mod files;
mod password;
mod rate_limit;
mod token;
mod users;

pub use accounts::Accounts;
pub use api_keys::{new_key, ApiKey, ApiKeys, KeySet, NewKey, NewKeyError, Scope, KEY_PREFIX};
pub use error::AuthError;
pub use password::{hash_password, PasswordVerifier};
pub use rate_limit::{FailureLimiter, RateLimits, Ticket};
pub use token::issue_token;
pub use users::{DemoAccount, User, Users};
