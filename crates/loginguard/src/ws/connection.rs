//! The per-connection WebSocket loop: one task owns one socket.
//!
//! Called by `http::socket`, fed by the `Hub`. It authenticates the first
//! message, registers with the hub (or closes 1008 past the per-session cap)
//! and then rechecks the session, so a revocation landing between the two is
//! not missed. Then it `select!`s over the next frame, hub commands, one timer
//! (ping, idle close or the session's end) and shutdown. It is the only code
//! that writes frames, each within `--ws-write-timeout`, so `force_logout`
//! always precedes close 4001 and a client that stops reading cannot stall it.
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
use crate::domain::{AccountKey, Clock, Lookup, Millis, SessionId, Token, Username};
use crate::metrics::{Metrics, SocketDrop};
use crate::store::SessionStore;

/// When the store could not say whether a session that should have ended
/// did, ask again after this (the sweep is the backstop as well).
const RECHECK_AFTER_ERROR: Duration = Duration::from_secs(2);

/// What a connection needs from the instance. Sockets share one behind an
/// `Arc`: a copy in each socket's task would cost its size per idle socket.
#[derive(Clone)]
pub struct ConnContext {
    pub hub: Arc<Hub>,
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
    /// How long a new socket may take to send `auth`.
    pub auth_timeout: Duration,
    /// A socket silent this long is closed (a protocol ping is sent halfway).
    pub idle_timeout: Duration,
    /// A frame the client has not taken after this drops the socket: a
    /// client that stopped reading must not hold up kicks, idle or shutdown.
    pub write_timeout: Duration,
    /// Sessions' idle timeout: with `expires_at` it tells when a socket's
    /// session ends, so the socket can push `expired` on time.
    pub session_idle: Duration,
    /// A socket's traffic touches its session at most this often.
    pub touch_after: Duration,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
}

/// How the pre-auth phase ended.
enum Auth {
    /// A live session: only its identity and when it ends; the rest of the
    /// record would cost memory per socket.
    Live {
        username: Username,
        session_id: SessionId,
        ends_at: Millis,
    },
    Closed,
}

/// What the store says about a socket's session.
enum Verdict {
    /// Live; it ends at this time unless used again.
    Live(Millis),
    /// Ended: send this `force_logout`, then close 4001.
    Ended(String),
    /// Gone without a tombstone (store data lost): close 4003.
    Unknown,
    /// The store did not answer: keep serving, ask again later.
    Unavailable,
}

/// A write failed or timed out: the socket is gone, stop serving it.
struct Gone;

/// Serves one socket until it closes, is kicked or the instance shuts down.
/// `cookie` is the token of the upgrade request's cookie, when the upgrade
/// may use it (`{"type":"auth","cookie":true}`); boxed, because this future
/// lives as long as the socket and the cookie is needed only for `auth`.
pub async fn run<S, E>(mut socket: S, ctx: Arc<ConnContext>, cookie: Option<Box<Token>>)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
    E: std::fmt::Display,
{
    let (username, session_id, ends_at) = match authenticate(&mut socket, &ctx, cookie).await {
        Auth::Live {
            username,
            session_id,
            ends_at,
        } => (username, session_id, ends_at),
        Auth::Closed => return,
    };
    // A separate future: the pre-auth phase and the session's life never
    // coexist, so the task is sized for the larger of the two, not the sum.
    serve(&mut socket, &ctx, username, session_id, ends_at).await
}

/// The authenticated socket's life: register, recheck, `auth_ok`, then the loop.
async fn serve<S, E>(
    socket: &mut S,
    ctx: &ConnContext,
    username: Username,
    session_id: SessionId,
    mut ends_at: Millis,
) where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
    E: std::fmt::Display,
{
    let mailbox = Arc::new(Mailbox::default());
    let Some(_registration) =
        ctx.hub
            .register(username.clone(), session_id.clone(), mailbox.clone())
    else {
        ctx.metrics.socket_dropped(SocketDrop::TooManySockets);
        return close_with(socket, ctx, CloseCode::TooManySockets).await;
    };
    // Subscribe first, then check: a revocation that landed after `validate`
    // but before `register` would otherwise never reach this socket.
    let account = AccountKey::of(&username);
    match recheck(ctx, &account, &session_id).await {
        Verdict::Live(end) => ends_at = end,
        Verdict::Unavailable => {}
        Verdict::Ended(msg) => {
            kick(socket, ctx, msg).await;
            return;
        }
        Verdict::Unknown => return close_with(socket, ctx, CloseCode::Unauthorized).await,
    }
    // Built in the call: a named message would live (its time string on
    // the heap) as long as the socket.
    let ok = auth_ok(&session_id, &username, ctx.clock.as_ref());
    if write(socket, ctx, Message::Text(ok.into())).await.is_err() {
        return;
    }

    let half = ctx.idle_timeout / 2;
    let mut heard = Instant::now();
    let mut pinged = false;
    let mut last_touch = Instant::now();
    // One timer for the network deadline (ping at half the idle timeout,
    // close at all of it) and the session's end, whichever comes first.
    let net_deadline =
        |heard: Instant, pinged: bool| heard + if pinged { ctx.idle_timeout } else { half };
    let timer = tokio::time::sleep_until(wake_at(
        net_deadline(heard, pinged),
        ends_at,
        ctx.clock.as_ref(),
    ));
    tokio::pin!(timer);
    loop {
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return close_with(socket, ctx, CloseCode::Restarting).await,
            cmd = mailbox.take() => match cmd {
                Command::Send(text) => {
                    if write(socket, ctx, Message::Text(text.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                Command::Kick(text, heard) => {
                    if kick(socket, ctx, text.to_string()).await {
                        ctx.metrics.kick_delivered(heard.elapsed().as_secs_f64());
                    }
                    return;
                }
                Command::Close(code) => return close_with(socket, ctx, code).await,
            },
            frame = socket.next() => {
                heard = Instant::now();
                pinged = false;
                let reply = match frame {
                    Some(Ok(Message::Text(text))) => {
                        if text.len() > MAX_MESSAGE_BYTES {
                            return close_with(socket, ctx, CloseCode::TooBig).await;
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
                    Some(Ok(Message::Binary(_))) => return close_with(socket, ctx, CloseCode::UnsupportedData).await,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Err(e)) => return on_read_error(socket, ctx, e).await,
                };
                if let Some(reply) = reply {
                    if write(socket, ctx, Message::Text(reply.into())).await.is_err() {
                        return;
                    }
                }
            }
            _ = &mut timer => {
                if ctx.clock.now() >= ends_at {
                    // Its end as this socket knows it: the store decides (and
                    // ends it with `expired`, telling every instance, if so).
                    match recheck(ctx, &account, &session_id).await {
                        Verdict::Live(end) => ends_at = end,
                        Verdict::Unavailable => ends_at = ctx.clock.now().plus(RECHECK_AFTER_ERROR),
                        Verdict::Ended(msg) => {
                            kick(socket, ctx, msg).await;
                            return;
                        }
                        Verdict::Unknown => return close_with(socket, ctx, CloseCode::Unauthorized).await,
                    }
                } else if Instant::now() >= net_deadline(heard, pinged) {
                    if pinged {
                        return close_with(socket, ctx, CloseCode::Idle).await;
                    }
                    pinged = true;
                    if write(socket, ctx, Message::Ping(Default::default())).await.is_err() {
                        return;
                    }
                }
            }
        }
        timer.as_mut().reset(wake_at(
            net_deadline(heard, pinged),
            ends_at,
            ctx.clock.as_ref(),
        ));
    }
}

/// The earlier of `net` and the session's end; the end is a wall-clock time,
/// so it is turned into a timer deadline through `clock`. An end too far to
/// represent (a corrupt record) leaves the sweep to deal with it.
fn wake_at(net: Instant, ends_at: Millis, clock: &dyn Clock) -> Instant {
    let left = Duration::from_millis(ends_at.since(clock.now()));
    Instant::now()
        .checked_add(left)
        .map_or(net, |end| net.min(end))
}

/// Asks the store about one session, ending it with `expired` if its time is up.
async fn recheck(ctx: &ConnContext, account: &AccountKey, id: &SessionId) -> Verdict {
    let asked = [(account.clone(), id.clone())];
    match ctx.store.check(&asked, ctx.clock.now()).await.as_deref() {
        Ok([Lookup::Live(s)]) => Verdict::Live(s.ends_at(ctx.session_idle)),
        Ok([Lookup::Ended(t)]) => {
            Verdict::Ended(force_logout(id, t.reason, t.by.as_ref(), t.revoked_at))
        }
        Ok(_) => Verdict::Unknown,
        Err(e) => {
            tracing::debug!(error = %e, "socket recheck: store unavailable");
            Verdict::Unavailable
        }
    }
}

/// The `auth_ok` frame's JSON.
fn auth_ok(session_id: &SessionId, username: &Username, clock: &dyn Clock) -> String {
    ServerMessage::AuthOk {
        session_id,
        username: username.as_str(),
        server_time: clock.now().to_rfc3339(),
    }
    .to_json()
}

/// The reply to an authenticated client's text message, if any.
fn answer(text: &str, clock: &dyn Clock) -> Option<String> {
    if text == "ping" {
        return Some("pong".to_owned());
    }
    let msg = match ClientMessage::decode(text) {
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
                close_with(socket, ctx, CloseCode::Restarting).await;
                return Auth::Closed;
            }
            f = tokio::time::timeout_at(deadline, socket.next()) => f,
        };
        match frame {
            Err(_elapsed) => {
                close_with(socket, ctx, CloseCode::AuthTimeout).await;
                return Auth::Closed;
            }
            Ok(Some(Ok(Message::Text(t)))) => break t,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Binary(_)))) => {
                close_with(socket, ctx, CloseCode::UnsupportedData).await;
                return Auth::Closed;
            }
            Ok(Some(Ok(Message::Close(_))) | None) => return Auth::Closed,
            Ok(Some(Err(e))) => {
                on_read_error(socket, ctx, e).await;
                return Auth::Closed;
            }
        }
    };
    if text.len() > MAX_MESSAGE_BYTES {
        close_with(socket, ctx, CloseCode::TooBig).await;
        return Auth::Closed;
    }
    let token = match ClientMessage::decode(text.as_str()) {
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
        close_with(socket, ctx, CloseCode::Unauthorized).await;
        return Auth::Closed;
    };
    match ctx.store.validate(&token, ctx.clock.now()).await {
        Ok(Lookup::Live(session)) => Auth::Live {
            ends_at: session.ends_at(ctx.session_idle),
            username: session.username,
            session_id: session.session_id,
        },
        Ok(Lookup::Ended(t)) => {
            kick(
                socket,
                ctx,
                force_logout(token.session_id(), t.reason, t.by.as_ref(), t.revoked_at),
            )
            .await;
            Auth::Closed
        }
        Ok(Lookup::Unknown) => {
            close_with(socket, ctx, CloseCode::Unauthorized).await;
            Auth::Closed
        }
        Err(e) => {
            tracing::warn!(error = %e, "websocket auth: store unavailable");
            close_with(socket, ctx, CloseCode::TryAgainLater).await;
            Auth::Closed
        }
    }
}

/// Writes one frame within `--ws-write-timeout`. A client that has not taken
/// it by then has stopped reading: the socket is dropped (and counted), as
/// waiting longer would keep it past kicks, its idle timeout and shutdown.
async fn write<S>(socket: &mut S, ctx: &ConnContext, msg: Message) -> Result<(), Gone>
where
    S: Sink<Message> + Unpin,
{
    match tokio::time::timeout(ctx.write_timeout, socket.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Gone),
        Err(_elapsed) => {
            ctx.metrics.socket_dropped(SocketDrop::WriteTimeout);
            Err(Gone)
        }
    }
}

/// `force_logout` then close 4001, in that order, from this one task.
/// Returns whether `force_logout` went out.
async fn kick<S>(socket: &mut S, ctx: &ConnContext, msg: String) -> bool
where
    S: Sink<Message> + Unpin,
{
    let delivered = write(socket, ctx, Message::Text(msg.into())).await.is_ok();
    if delivered {
        close_with(socket, ctx, CloseCode::Revoked).await;
    }
    delivered
}

/// The socket's last frame; the socket ends after it whether or not it went out.
async fn close_with<S>(socket: &mut S, ctx: &ConnContext, code: CloseCode)
where
    S: Sink<Message> + Unpin,
{
    let frame = CloseFrame {
        code: code.code(),
        reason: code.reason().into(),
    };
    let _ = write(socket, ctx, Message::Close(Some(frame))).await;
}

/// A read error: an oversized frame gets 1009, text that is not UTF-8 gets
/// 1007, anything else just ends.
async fn on_read_error<S, E>(socket: &mut S, ctx: &ConnContext, e: E)
where
    S: Sink<Message> + Unpin,
    E: std::fmt::Display,
{
    // axum hides tungstenite's error type; its capacity error is the only one
    // whose text says "Space limit exceeded".
    let text = e.to_string();
    if text.contains("Space limit exceeded") {
        close_with(socket, ctx, CloseCode::TooBig).await;
    } else if text.contains("UTF-8") {
        close_with(socket, ctx, CloseCode::InvalidData).await;
    } else {
        tracing::debug!(error = %text, "websocket read error");
    }
}

#[cfg(test)]
mod tests {
    //! The loop driven through channels instead of a real socket (R13): no
    //! HTTP, no network, just the frames in and out.

    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
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
        /// Once set, the client takes no more frames: every write stays pending.
        stalled: Arc<AtomicBool>,
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
            if self.stalled.load(Ordering::SeqCst) {
                Poll::Pending
            } else {
                Poll::Ready(Ok(()))
            }
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

    fn context(auth_timeout: Duration, life: Lifetimes) -> (ConnContext, Arc<MemoryStore>) {
        let metrics = Arc::new(Metrics::new());
        let hub = Hub::new(metrics.clone(), 2);
        let bus = LocalBus::new();
        bus.attach(hub.clone() as Arc<dyn EventHandler>);
        let store = Arc::new(MemoryStore::new(life, bus));
        let ctx = ConnContext {
            hub,
            store: store.clone(),
            clock: Arc::new(SystemClock),
            auth_timeout,
            idle_timeout: Duration::from_secs(90),
            write_timeout: Duration::from_secs(10),
            session_idle: life.idle,
            touch_after: life.touch_after,
            metrics,
            shutdown: CancellationToken::new(),
        };
        (ctx, store)
    }

    /// The test's end of a fake socket, and the task serving the other end.
    struct Client {
        tx: chan::UnboundedSender<Result<Message, String>>,
        rx: chan::UnboundedReceiver<Message>,
        stalled: Arc<AtomicBool>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Client {
        fn auth(&self, token: &Token) {
            let auth = format!(r#"{{"type":"auth","token":"{}"}}"#, token.expose());
            self.tx.send(Ok(Message::Text(auth.into()))).unwrap();
        }

        async fn next_text(&mut self) -> String {
            match self.rx.recv().await {
                Some(Message::Text(t)) => t.to_string(),
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    fn connect(ctx: ConnContext) -> Client {
        let (tx, from_client) = chan::unbounded_channel();
        let (to_client, rx) = chan::unbounded_channel();
        let stalled = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(
            Pipe {
                from_client,
                to_client,
                stalled: stalled.clone(),
            },
            Arc::new(ctx),
            None,
        ));
        Client {
            tx,
            rx,
            stalled,
            task,
        }
    }

    /// A signed-in session of user1 living `absolute`, and its token.
    async fn signed_in(store: &MemoryStore, absolute: Duration) -> (Session, Token) {
        let (session, token) = Session::sample(1, SystemClock.now(), absolute);
        store
            .sign_in(SignInRequest::one_per_account(session.clone()))
            .await
            .unwrap();
        (session, token)
    }

    fn close_code(m: Option<Message>) -> u16 {
        match m {
            Some(Message::Close(Some(f))) => f.code,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// The loop's future lives inside the socket's task for the socket's
    /// whole life, so its size is memory per idle socket (BENCHMARKS.md,
    /// issue 13). 1,808 bytes in a debug build (less in release); a copy of
    /// `ConnContext` (136 bytes) or a message kept across the loop would
    /// push it past the bound.
    #[test]
    fn the_socket_future_stays_small() {
        fn returned<F: FnOnce(A, B, C) -> R, A, B, C, R>(_: F) -> usize {
            std::mem::size_of::<R>()
        }
        let size = returned(run::<axum::extract::ws::WebSocket, axum::Error>);
        assert!(size <= 1856, "the socket future grew to {size} bytes");
    }

    #[tokio::test]
    async fn force_logout_is_written_before_close_4001() {
        let (ctx, store) = context(Duration::from_secs(5), LIFE);
        let (session, token) = signed_in(&store, LIFE.absolute).await;
        let mut client = connect(ctx);
        client.auth(&token);
        assert!(client.next_text().await.contains("auth_ok"));

        store
            .revoke(
                &AccountKey::of(&session.username),
                token.session_id(),
                Reason::RevokedByAdmin,
                None,
                Millis(SystemClock.now().0 + 1),
            )
            .await
            .unwrap();
        let kick = client.next_text().await;
        assert!(kick.contains(r#""reason":"revoked_by_admin""#), "{kick}");
        assert_eq!(
            close_code(client.rx.recv().await),
            CloseCode::Revoked.code()
        );
    }

    #[tokio::test]
    async fn silence_before_auth_closes_4008_and_nonsense_closes_4003() {
        let (ctx, _) = context(Duration::from_millis(50), LIFE);
        let mut client = connect(ctx.clone());
        assert_eq!(
            close_code(client.rx.recv().await),
            CloseCode::AuthTimeout.code()
        );

        let mut client = connect(ctx);
        client
            .tx
            .send(Ok(Message::Text(r#"{"type":"ping"}"#.into())))
            .unwrap();
        assert_eq!(
            close_code(client.rx.recv().await),
            CloseCode::Unauthorized.code()
        );
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_dropped_at_the_write_timeout() {
        let (mut ctx, store) = context(Duration::from_secs(5), LIFE);
        ctx.write_timeout = Duration::from_millis(100);
        let (session, token) = signed_in(&store, LIFE.absolute).await;
        let mut client = connect(ctx.clone());
        client.auth(&token);
        assert!(client.next_text().await.contains("auth_ok"));

        client.stalled.store(true, Ordering::SeqCst);
        let account = AccountKey::of(&session.username);
        store
            .revoke(
                &account,
                token.session_id(),
                Reason::Logout,
                None,
                SystemClock.now(),
            )
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(2), client.task)
            .await
            .expect("the task ends soon after the write timeout")
            .unwrap();
        assert_eq!(
            ctx.hub.connections(&session.username, token.session_id()),
            0
        );
        assert!(ctx
            .metrics
            .render(&Default::default())
            .contains("loginguard_sockets_dropped_total{cause=\"write_timeout\"} 1"));
    }

    #[tokio::test]
    async fn a_socket_past_the_cap_per_session_closes_1008_after_auth() {
        let (ctx, store) = context(Duration::from_secs(5), LIFE);
        let (_, token) = signed_in(&store, LIFE.absolute).await;
        let mut open = Vec::new();
        for _ in 0..2 {
            let mut client = connect(ctx.clone());
            client.auth(&token);
            assert!(client.next_text().await.contains("auth_ok"));
            open.push(client);
        }
        let mut third = connect(ctx.clone());
        third.auth(&token);
        assert_eq!(close_code(third.rx.recv().await), 1008);
        assert!(ctx
            .metrics
            .render(&Default::default())
            .contains("loginguard_sockets_dropped_total{cause=\"too_many_sockets\"} 1"));
    }

    #[tokio::test]
    async fn the_session_end_is_pushed_without_a_sweep() {
        let short_idle = Lifetimes {
            idle: Duration::from_millis(600),
            touch_after: Duration::from_millis(150),
            ..LIFE
        };
        for (life, absolute) in [
            (LIFE, Duration::from_millis(600)),
            (short_idle, LIFE.absolute),
        ] {
            let (ctx, store) = context(Duration::from_secs(5), life);
            let (_, token) = signed_in(&store, absolute).await;
            let mut client = connect(ctx);
            client.auth(&token);
            assert!(client.next_text().await.contains("auth_ok"));
            let kick = tokio::time::timeout(Duration::from_secs(2), client.next_text())
                .await
                .expect("force_logout within 1 s of the end");
            assert!(kick.contains(r#""reason":"expired""#), "{kick}");
            assert_eq!(
                close_code(client.rx.recv().await),
                CloseCode::Revoked.code()
            );
        }
    }
}
