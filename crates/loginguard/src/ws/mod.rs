//! WebSocket side: one task per socket, and the hub that routes store events
//! to the sockets of the sessions they concern.
//!
//! Data flows one way: `events` -> `Hub` -> each connection's mailbox ->
//! `connection::run`, the only code that writes frames. `revalidate` is the
//! safety net that rechecks open sockets against the store after a possible
//! event loss and on a timer. The HTTP upgrade lives in `http::socket`; this
//! module never imports `http`.

pub mod close;
mod connection;
mod hub;
mod mailbox;
pub mod message;
mod revalidate;

pub use connection::{run as run_connection, ConnContext};
pub use hub::{Command, Hub, Registration};
pub use mailbox::Mailbox;
pub use message::MAX_MESSAGE_BYTES;
pub use revalidate::run as run_revalidation;
