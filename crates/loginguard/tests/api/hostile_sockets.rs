//! Sockets whose clients misbehave (PROTOCOL.md Part 2, "Hostile clients"):
//! a client that stops reading, too many sockets for one session, and a
//! session that ends while its socket is open, on memory and on Redis.

use std::sync::Arc;
use std::time::Duration;

use loginguard::config::Config;
use loginguard::domain::ManualClock;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio::time::Instant;
use tokio_tungstenite::MaybeTlsStream;
use tokio_util::task::AbortOnDropHandle;

use crate::helpers::*;
use crate::redis_server::RedisServer;

/// `GET /metrics` as text.
async fn metrics(app: &TestApp) -> String {
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    r.text().await.unwrap()
}

/// A socket whose receive buffer is as small as the kernel allows, so the
/// server's writes back up after a few kilobytes the test does not read.
async fn ws_with_a_tiny_receive_buffer(app: &TestApp, token: &str) -> Ws {
    let tcp = TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(1).unwrap();
    let tcp = tcp.connect(app.addr.parse().unwrap()).await.unwrap();
    let (stream, _) = tokio_tungstenite::client_async(
        format!("ws://{}/ws", app.addr),
        MaybeTlsStream::Plain(tcp),
    )
    .await
    .expect("websocket connects");
    let mut ws = Ws { stream };
    ws.send_json(json!({"type": "auth", "token": token})).await;
    assert_eq!(ws.next_json().await["type"], "auth_ok");
    ws
}

/// Writes `{"type":"ping"}` frames and reads no pong until the server has
/// taken nothing for a second: it is then stuck writing to this socket (a
/// server still reading would free buffer space well within that).
async fn flood_until_the_server_stalls(ws: &mut Ws) {
    let payload = br#"{"type":"ping"}"#;
    // A client frame masked with a zero key, which leaves the payload as is.
    let mut frame = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    let frames = frame.repeat(4096);
    let raw = ws.stream.get_mut();
    let give_up = Instant::now() + Duration::from_secs(60);
    // Where the next write starts, so that a partial write never splits a frame stream.
    let mut at = 0;
    while Instant::now() < give_up {
        match tokio::time::timeout(Duration::from_secs(1), raw.write(&frames[at..])).await {
            Ok(Ok(n)) if n > 0 => at = (at + n) % frames.len(),
            Ok(_) | Err(_) => return,
        }
    }
    panic!("the server kept reading for 60 s without the test reading a pong");
}

/// Moves the app's manual clock along with real time (until dropped), so the
/// store's "now" and the sockets' timers agree, as they do in production.
fn follow_real_time(clock: Arc<ManualClock>) -> AbortOnDropHandle<()> {
    AbortOnDropHandle::new(tokio::spawn(async move {
        let start = Instant::now();
        let mut moved = Duration::ZERO;
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let now = start.elapsed();
            clock.advance(now - moved);
            moved = now;
        }
    }))
}

#[tokio::test]
async fn a_socket_whose_client_stops_reading_is_dropped_after_its_kick() {
    let write_timeout = Duration::from_secs(2);
    let mut config = base_config();
    config.ws.write_timeout = write_timeout;
    let app = spawn_app(config).await;
    let t = app.login_ok("user1", "PC1").await;
    let mut ws = ws_with_a_tiny_receive_buffer(&app, &t).await;
    flood_until_the_server_stalls(&mut ws).await;

    app.login_ok("user1", "PC2").await;
    let kicked = Instant::now();
    eventually("the socket that stopped reading is dropped", || async {
        metrics(&app).await.contains("loginguard_open_sockets 0")
    })
    .await;
    assert!(
        kicked.elapsed() <= write_timeout + Duration::from_secs(1),
        "dropped {:?} after the kick",
        kicked.elapsed()
    );
    let text = metrics(&app).await;
    assert!(
        text.contains("loginguard_sockets_dropped_total{cause=\"write_timeout\"} 1"),
        "{text}"
    );
    drop(ws);
}

#[tokio::test]
async fn a_socket_past_max_sockets_per_session_is_closed_1008_after_auth() {
    let mut config = base_config();
    config.ws.max_sockets_per_session = 2;
    let app = spawn_app(config).await;
    let t = app.login_ok("user1", "PC1").await;
    let first = app.ws_authed(&t).await;
    let _second = app.ws_authed(&t).await;

    let mut third = app.ws_raw().await;
    third.send_json(json!({"type": "auth", "token": t})).await;
    let closed = third.expect_close().await;
    assert_eq!(
        (closed.code, closed.reason.as_str()),
        (1008, "too_many_sockets")
    );
    let text = metrics(&app).await;
    assert!(
        text.contains("loginguard_sockets_dropped_total{cause=\"too_many_sockets\"} 1"),
        "{text}"
    );

    // The cap is per session: another session of the account is not affected,
    // and a closed socket makes room.
    let other = app.login_ok("user2", "PC2").await;
    app.ws_authed(&other).await;
    drop(first);
    eventually("the closed socket is unregistered", || async {
        metrics(&app).await.contains("loginguard_open_sockets 1")
    })
    .await;
    app.ws_authed(&t).await;
}

/// A session lifetime short enough to wait for.
const SHORT: Duration = Duration::from_secs(2);

/// Which of a session's two ends a test waits for.
#[derive(Clone, Copy, Debug)]
enum End {
    Absolute,
    Idle,
}

/// Signs in on a clock that follows real time, with the `end` lifetime set
/// to `SHORT` and no sweep to help, and asserts that the open socket gets
/// `force_logout` `expired` within 1 s of the session's end.
async fn the_end_is_pushed_within_a_second(mut config: Config, end: End) {
    match end {
        End::Absolute => config.session.absolute_lifetime = SHORT,
        End::Idle => config.session.idle_timeout = SHORT,
    }
    config.session.sweep_interval = Duration::from_secs(3600);
    let app = spawn_app(config).await;
    let _clock = follow_real_time(app.clock.clone());
    let t = app.login_ok("user1", "PC1").await;
    let signed_in = Instant::now();
    let mut ws = app.ws_authed(&t).await;
    ws.expect_force_logout("expired").await;
    assert!(
        signed_in.elapsed() <= SHORT + Duration::from_secs(1),
        "{end:?} end pushed {:?} after sign-in, for a {SHORT:?} lifetime",
        signed_in.elapsed()
    );
}

#[tokio::test]
async fn absolute_expiry_is_pushed_within_a_second_on_memory() {
    the_end_is_pushed_within_a_second(base_config(), End::Absolute).await;
}

#[tokio::test]
async fn absolute_expiry_is_pushed_within_a_second_on_redis() {
    let redis = RedisServer::start();
    the_end_is_pushed_within_a_second(redis_config(&redis), End::Absolute).await;
}

#[tokio::test]
async fn idle_expiry_is_pushed_within_a_second_on_memory() {
    the_end_is_pushed_within_a_second(base_config(), End::Idle).await;
}

#[tokio::test]
async fn idle_expiry_is_pushed_within_a_second_on_redis() {
    let redis = RedisServer::start();
    the_end_is_pushed_within_a_second(redis_config(&redis), End::Idle).await;
}

#[tokio::test]
async fn a_socket_in_use_keeps_its_session_past_the_idle_timeout() {
    let mut config = base_config();
    config.session.idle_timeout = SHORT;
    config.session.sweep_interval = Duration::from_secs(3600);
    let app = spawn_app(config).await;
    let _clock = follow_real_time(app.clock.clone());
    let t = app.login_ok("user1", "PC1").await;
    let mut ws = app.ws_authed(&t).await;
    // Pings count as use (a touch at most every idle/4), so the socket's
    // recheck at the first idle deadline finds the session live and waits on.
    let busy_until = Instant::now() + SHORT * 2;
    while Instant::now() < busy_until {
        ws.send_json(json!({"type": "ping"})).await;
        assert_eq!(ws.next_event().await["type"], "pong");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let quiet = Instant::now();
    ws.expect_force_logout("expired").await;
    assert!(
        quiet.elapsed() <= SHORT + Duration::from_secs(1),
        "pushed {:?} after the last ping",
        quiet.elapsed()
    );
}
