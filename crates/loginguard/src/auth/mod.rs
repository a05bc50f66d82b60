//! Authentication machinery: the users file (reloadable), argon2id, failure
//! rate limits, device tokens and token issuing.
//!
//! Called by `app` (the sign-in use case) and `main` (`hash-password`). It
//! verifies hashes off the async runtime and hands out tokens; it never
//! decides a policy, touches sessions, writes responses or sees sockets. The
//! failure counts it limits by live in a `store::FailureCounter`.

mod accounts;
mod device_token;
mod error;
mod password;
mod rate_limit;
mod token;
mod users;

pub use accounts::Accounts;
pub use device_token::DeviceTokens;
pub use error::AuthError;
pub use password::{hash_password, PasswordVerifier};
pub use rate_limit::{FailureLimiter, RateLimits, Refusal, Ticket};
pub use token::issue_token;
pub use users::{DemoAccount, User, Users};
