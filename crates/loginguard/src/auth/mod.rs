//! Authentication: who may sign in, and the sign-in step itself.
//!
//! Called by `http` (sign-in) and `main` (`hash-password`). It checks rate
//! limits, verifies argon2id hashes off the async runtime, issues tokens and
//! hands the new session to the store's atomic `sign_in`. It returns values;
//! it never writes responses or touches sockets.

mod error;
mod password;
mod rate_limit;
mod sign_in;
mod token;
mod users;

pub use error::AuthError;
pub use password::{hash_password, PasswordVerifier};
pub use rate_limit::{FailureLimiter, RateLimits, Ticket};
pub use sign_in::{Authenticator, ClientMeta, Credentials, SignedIn};
pub use token::issue_token;
pub use users::{User, Users};
