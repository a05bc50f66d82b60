//! The per-connection WebSocket loop: one task owns one socket.
//!
//! Called by `ws::upgrade`, fed by the `Hub`. It authenticates the first
//! message, registers with the hub and then rechecks the session (so a
//! revocation landing between the two is not missed), then `select!`s over
//! the next frame, hub commands, the idle timer and shutdown. It is the only
//! code that writes frames, so `force_logout` always precedes close 4001.
//! Generic over `Sink`/`Stream` so unit tests can drive it with channels.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::close::CloseCode;
use super::hub::{Command, Hub};
use super::mailbox::Mailbox;
use super::message::{force_logout, ClientMessage, ServerMessage, MAX_MESSAGE_BYTES};
use crate::domain::{AccountKey, Clock, Lookup, SessionId, Token, Username};
use crate::metrics::Metrics;
use crate::store::SessionStore;

/// What a connection needs from the instance; cheap to clone.
#[derive(Clone)]
pub struct ConnContext {
    pub hub: Arc<Hub>,
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
    /// How long a new socket may take to send `auth`.
    pub auth_timeout: Duration,
    /// A socket silent this long is closed (a protocol ping is sent halfway).
    pub idle_timeout: Duration,
    /// A socket's traffic touches its session at most this often.
    pub touch_after: Duration,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
}

/// How the pre-auth phase ended.
enum Auth {
    /// A live session: only its identity, the rest of the record would
    /// cost memory per socket.
    Live {
        username: Username,
        session_id: SessionId,
    },
    Closed,
}

/// Serves one socket until it closes, is kicked or the instance shuts down.
/// `cookie` is the token of the upgrade request's cookie, when the upgrade
/// may use it (`{"type":"auth","cookie":true}`); boxed, because this future
/// lives as long as the socket and the cookie is needed only for `auth`.
pub async fn run<S, E>(mut socket: S, ctx: ConnContext, cookie: Option<Box<Token>>)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
    E: std::fmt::Display,
{
    let (username, session_id) = match authenticate(&mut socket, &ctx, cookie).await {
        Auth::Live {
            username,
            session_id,
        } => (username, session_id),
        Auth::Closed => return,
    };
    let mailbox = Arc::new(Mailbox::default());
    let _registration = ctx
        .hub
        .register(username.clone(), session_id.clone(), mailbox.clone());
    // Subscribe first, then check: a revocation that landed after `validate`
    // but before `register` would otherwise never reach this socket.
    let account = AccountKey::of(&username);
    let recheck = ctx
        .store
        .check(&[(account.clone(), session_id.clone())], ctx.clock.now())
        .await;
    match recheck.as_deref() {
        Ok([Lookup::Live(_)]) | Err(_) => {}
        Ok([Lookup::Ended(t)]) => {
            let msg = force_logout(&session_id, t.reason, t.by.as_ref(), t.revoked_at);
            return kick(&mut socket, msg).await;
        }
        Ok(_) => return close_with(&mut socket, CloseCode::Unauthorized).await,
    }
    let ok = ServerMessage::AuthOk {
        session_id: &session_id,
        username: username.as_str(),
        server_time: ctx.clock.now().to_rfc3339(),
    };
    if socket
        .send(Message::Text(ok.to_json().into()))
        .await
        .is_err()
    {
        return;
    }

    let half = ctx.idle_timeout / 2;
    let mut heard = Instant::now();
    let mut pinged = false;
    let mut last_touch = Instant::now();
    let timer = tokio::time::sleep_until(heard + half);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return close_with(&mut socket, CloseCode::Restarting).await,
            cmd = mailbox.take() => match cmd {
                Command::Send(text) => {
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                Command::Kick(text, heard) => {
                    kick(&mut socket, text.to_string()).await;
                    ctx.metrics.kick_delivered(heard.elapsed().as_secs_f64());
                    return;
                }
                Command::Close(code) => return close_with(&mut socket, code).await,
            },
            frame = socket.next() => {
                heard = Instant::now();
                pinged = false;
                timer.as_mut().reset(heard + half);
                let reply = match frame {
                    Some(Ok(Message::Text(text))) => {
                        if text.len() > MAX_MESSAGE_BYTES {
                            return close_with(&mut socket, CloseCode::TooBig).await;
                        }
                        if last_touch.elapsed() >= ctx.touch_after {
                            last_touch = Instant::now();
                            // In the background: a slow store must not hold up this
                            // loop (kicks, pongs). A failed touch only shortens the
                            // session's idle life, so its error is nobody's business here.
                            let (store, account, id, now) =
                                (ctx.store.clone(), account.clone(), session_id.clone(), ctx.clock.now());
                            tokio::spawn(async move {
                                let _ = store.touch(&account, &id, now).await;
                            });
                        }
                        answer(text.as_str(), ctx.clock.as_ref())
                    }
                    Some(Ok(Message::Binary(_))) => return close_with(&mut socket, CloseCode::UnsupportedData).await,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Err(e)) => return on_read_error(&mut socket, e).await,
                };
                if let Some(reply) = reply {
                    if socket.send(Message::Text(reply.into())).await.is_err() {
                        return;
                    }
                }
            }
            _ = &mut timer => {
                if pinged {
                    return close_with(&mut socket, CloseCode::Idle).await;
                }
                pinged = true;
                timer.as_mut().reset(heard + ctx.idle_timeout);
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The reply to an authenticated client's text message, if any.
fn answer(text: &str, clock: &dyn Clock) -> Option<String> {
    if text == "ping" {
        return Some("pong".to_owned());
    }
    let msg = match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Ping) => ServerMessage::Pong {
            server_time: clock.now().to_rfc3339(),
        },
        Ok(ClientMessage::Auth { .. }) | Err(_) => ServerMessage::Error {
            code: "bad_message",
        },
    };
    Some(msg.to_json())
}

/// Waits for the first message and resolves its token (given, or the
/// upgrade's `cookie` when the message asks for it). Closes the socket
/// itself on every path that does not yield a live session.
async fn authenticate<S, E>(socket: &mut S, ctx: &ConnContext, cookie: Option<Box<Token>>) -> Auth
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
    E: std::fmt::Display,
{
    let deadline = Instant::now() + ctx.auth_timeout;
    let text = loop {
        let frame = tokio::select! {
            _ = ctx.shutdown.cancelled() => {
                close_with(socket, CloseCode::Restarting).await;
                return Auth::Closed;
            }
            f = tokio::time::timeout_at(deadline, socket.next()) => f,
        };
        match frame {
            Err(_elapsed) => {
                close_with(socket, CloseCode::AuthTimeout).await;
                return Auth::Closed;
            }
            Ok(Some(Ok(Message::Text(t)))) => break t,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Binary(_)))) => {
                close_with(socket, CloseCode::UnsupportedData).await;
                return Auth::Closed;
            }
            Ok(Some(Ok(Message::Close(_))) | None) => return Auth::Closed,
            Ok(Some(Err(e))) => {
                on_read_error(socket, e).await;
                return Auth::Closed;
            }
        }
    };
    if text.len() > MAX_MESSAGE_BYTES {
        close_with(socket, CloseCode::TooBig).await;
        return Auth::Closed;
    }
    let token = match serde_json::from_str::<ClientMessage>(text.as_str()) {
        Ok(ClientMessage::Auth {
            token: Some(token),
            cookie: false,
        }) => Token::parse(token.trim()).ok(),
        Ok(ClientMessage::Auth {
            token: None,
            cookie: true,
        }) => cookie.map(|t| *t),
        _ => None,
    };
    let Some(token) = token else {
        close_with(socket, CloseCode::Unauthorized).await;
        return Auth::Closed;
    };
    match ctx.store.validate(&token, ctx.clock.now()).await {
        Ok(Lookup::Live(session)) => Auth::Live {
            username: session.username,
            session_id: session.session_id,
        },
        Ok(Lookup::Ended(t)) => {
            kick(
                socket,
                force_logout(token.session_id(), t.reason, t.by.as_ref(), t.revoked_at),
            )
            .await;
            Auth::Closed
        }
        Ok(Lookup::Unknown) => {
            close_with(socket, CloseCode::Unauthorized).await;
            Auth::Closed
        }
        Err(e) => {
            tracing::warn!(error = %e, "websocket auth: store unavailable");
            close_with(socket, CloseCode::TryAgainLater).await;
            Auth::Closed
        }
    }
}

/// `force_logout` then close 4001, in that order, from this one task.
async fn kick<S>(socket: &mut S, msg: String)
where
    S: Sink<Message> + Unpin,
{
    if socket.send(Message::Text(msg.into())).await.is_ok() {
        close_with(socket, CloseCode::Revoked).await;
    }
}

async fn close_with<S>(socket: &mut S, code: CloseCode)
where
    S: Sink<Message> + Unpin,
{
    let frame = CloseFrame {
        code: code.code(),
        reason: code.reason().into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// A read error: an oversized frame gets 1009, text that is not UTF-8 gets
/// 1007, anything else just ends.
async fn on_read_error<S, E>(socket: &mut S, e: E)
where
    S: Sink<Message> + Unpin,
    E: std::fmt::Display,
{
    // axum hides tungstenite's error type; its capacity error is the only one
    // whose text says "Space limit exceeded".
    let text = e.to_string();
    if text.contains("Space limit exceeded") {
        close_with(socket, CloseCode::TooBig).await;
    } else if text.contains("UTF-8") {
        close_with(socket, CloseCode::InvalidData).await;
    } else {
        tracing::debug!(error = %text, "websocket read error");
    }
}

#[cfg(test)]
mod tests {
    //! The loop driven through channels instead of a real socket (R13): no
    //! HTTP, no network, just the frames in and out.

    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::sync::mpsc as chan;

    use super::*;
    use crate::domain::{Lifetimes, Millis, Reason, Session, SystemClock};
    use crate::events::{EventHandler, LocalBus};
    use crate::metrics::Metrics;
    use crate::store::{MemoryStore, SignInRequest};

    /// The server's end of a fake socket.
    struct Pipe {
        from_client: chan::UnboundedReceiver<Result<Message, String>>,
        to_client: chan::UnboundedSender<Message>,
    }

    impl Stream for Pipe {
        type Item = Result<Message, String>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.from_client.poll_recv(cx)
        }
    }

    impl Sink<Message> for Pipe {
        type Error = String;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), String> {
            self.to_client.send(item).map_err(|e| e.to_string())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
            Poll::Ready(Ok(()))
        }
    }

    const LIFE: Lifetimes = Lifetimes {
        idle: Duration::from_secs(1800),
        absolute: Duration::from_secs(43_200),
        touch_after: Duration::from_secs(60),
    };

    fn context(auth_timeout: Duration) -> (ConnContext, Arc<MemoryStore>) {
        let hub = Hub::new(Arc::new(Metrics::new()));
        let bus = LocalBus::new();
        bus.attach(hub.clone() as Arc<dyn EventHandler>);
        let store = Arc::new(MemoryStore::new(LIFE, bus));
        let ctx = ConnContext {
            hub,
            store: store.clone(),
            clock: Arc::new(SystemClock),
            auth_timeout,
            idle_timeout: Duration::from_secs(90),
            touch_after: LIFE.touch_after,
            metrics: Arc::new(Metrics::new()),
            shutdown: CancellationToken::new(),
        };
        (ctx, store)
    }

    fn connect(
        ctx: ConnContext,
    ) -> (
        chan::UnboundedSender<Result<Message, String>>,
        chan::UnboundedReceiver<Message>,
    ) {
        let (client_tx, from_client) = chan::unbounded_channel();
        let (to_client, client_rx) = chan::unbounded_channel();
        tokio::spawn(run(
            Pipe {
                from_client,
                to_client,
            },
            ctx,
            None,
        ));
        (client_tx, client_rx)
    }

    fn close_code(m: Option<Message>) -> u16 {
        match m {
            Some(Message::Close(Some(f))) => f.code,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn force_logout_is_written_before_close_4001() {
        let (ctx, store) = context(Duration::from_secs(5));
        let now = SystemClock.now();
        let (session, token) = Session::sample(1, now, LIFE.absolute);
        let user = session.username.clone();
        store
            .sign_in(SignInRequest::one_per_account(session))
            .await
            .unwrap();

        let (tx, mut rx) = connect(ctx);
        let auth = format!(r#"{{"type":"auth","token":"{}"}}"#, token.expose());
        tx.send(Ok(Message::Text(auth.into()))).unwrap();
        let Some(Message::Text(ok)) = rx.recv().await else {
            panic!("auth_ok expected")
        };
        assert!(ok.as_str().contains("auth_ok"));

        let account = AccountKey::of(&user);
        store
            .revoke(
                &account,
                token.session_id(),
                Reason::RevokedByAdmin,
                None,
                Millis(now.0 + 1),
            )
            .await
            .unwrap();
        let Some(Message::Text(kick)) = rx.recv().await else {
            panic!("force_logout expected")
        };
        assert!(
            kick.as_str().contains(r#""reason":"revoked_by_admin""#),
            "{kick}"
        );
        assert_eq!(close_code(rx.recv().await), CloseCode::Revoked.code());
    }

    #[tokio::test]
    async fn silence_before_auth_closes_4008_and_nonsense_closes_4003() {
        let (ctx, _) = context(Duration::from_millis(50));
        let (_tx, mut rx) = connect(ctx.clone());
        assert_eq!(close_code(rx.recv().await), CloseCode::AuthTimeout.code());

        let (tx, mut rx) = connect(ctx);
        tx.send(Ok(Message::Text(r#"{"type":"ping"}"#.into())))
            .unwrap();
        assert_eq!(close_code(rx.recv().await), CloseCode::Unauthorized.code());
    }
}
