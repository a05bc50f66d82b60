//! Property tests over every decoder of client input: the sign-in body (JSON
//! and form), socket messages, `X-Forwarded-For`, the admin page's cursor and
//! limit, and the domain's `parse` constructors.
//!
//! Each gets arbitrary input (it must never panic, and a refusal is a 4xx)
//! and, where a decoder has an inverse, a round trip. A fixed number of
//! cases keeps it to seconds inside `cargo test`; it stands in for
//! `cargo fuzz`, which needs a nightly toolchain.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::extract::LoginBody;
use super::forwarded::last_forwarded_for;
use super::ApiError;
use crate::app::{Cursor, PageRequest};
use crate::domain::{DeviceName, Millis, Session, SessionId, Token, Username};
use crate::ws::message::ClientMessage;

/// Cases per property: enough to find the edge cases of a small decoder,
/// few enough for the test command.
const CASES: u32 = 512;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        ..ProptestConfig::default()
    }
}

fn decode_login(content_type: &str, body: Vec<u8>) -> Result<LoginBody, ApiError> {
    let req = Request::builder()
        .method("POST")
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("a valid request");
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(LoginBody::from_request(req, &()))
}

/// A refusal must be the client's fault, never a 5xx.
fn refused_as_client_error(result: Result<LoginBody, ApiError>) -> bool {
    result.err().is_none_or(|e| e.status().is_client_error())
}

/// User names the rules accept.
fn username() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._@ -]{1,64}"
}

/// Passwords the rules accept: 1 to 1024 bytes, no NUL.
fn password() -> impl Strategy<Value = String> {
    "[^\u{0}]{1,200}".prop_filter("at most 1024 bytes", |p| p.len() <= 1024)
}

fn device() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-zA-Z0-9 ]{0,64}")
}

/// Any JSON document, its keys and strings often the ones the decoders look
/// for, so that shapes close to valid ones come up.
fn json_value() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("type".to_owned()),
        Just("auth".to_owned()),
        Just("ping".to_owned()),
        Just("token".to_owned()),
        Just("username".to_owned()),
        Just("password".to_owned()),
        Just("device".to_owned()),
        "\\PC{0,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        word.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(word.clone(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn form_field(name: &str, value: &str) -> String {
    format!("{name}={}", utf8_percent_encode(value, NON_ALPHANUMERIC))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn login_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        for content_type in ["application/json", "application/x-www-form-urlencoded"] {
            prop_assert!(refused_as_client_error(decode_login(content_type, body.clone())));
        }
    }

    #[test]
    fn only_json_objects_decode(v in json_value()) {
        let text = v.to_string();
        let login = decode_login("application/json", text.clone().into_bytes());
        prop_assert!(login.is_err() || v.is_object(), "{text}");
        prop_assert!(refused_as_client_error(login));
        prop_assert!(ClientMessage::decode(&text).is_err() || v.is_object(), "{text}");
    }

    #[test]
    fn login_json_round_trips_and_arrays_are_refused(
        user in username(), pass in password(), dev in device()
    ) {
        let body = json!({"username": user, "password": pass, "device": dev});
        let LoginBody(creds) = decode_login("application/json", body.to_string().into_bytes())
            .expect("a valid object");
        prop_assert_eq!(creds.username.as_str(), user.as_str());
        prop_assert_eq!(&creds.password, &pass);
        prop_assert_eq!(creds.device.as_ref().map(DeviceName::as_str), dev.as_deref());
        let array = json!([user, pass, dev]).to_string().into_bytes();
        prop_assert!(matches!(
            decode_login("application/json", array),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn login_form_round_trips(user in username(), pass in password(), dev in device()) {
        let mut fields = vec![form_field("password", &pass), form_field("username", &user)];
        if let Some(d) = &dev {
            fields.push(form_field("device", d));
        }
        let body = fields.join("&").into_bytes();
        let LoginBody(creds) = decode_login("application/x-www-form-urlencoded", body)
            .expect("a valid form");
        prop_assert_eq!(creds.username.as_str(), user.as_str());
        prop_assert_eq!(&creds.password, &pass);
        prop_assert_eq!(creds.device.as_ref().map(DeviceName::as_str), dev.as_deref());
    }

    #[test]
    fn socket_messages_never_panic_and_only_objects_pass(text in "\\PC{0,64}") {
        if ClientMessage::decode(&text).is_ok() {
            prop_assert!(text.trim_start().starts_with('{'), "{text}");
        }
    }

    #[test]
    fn socket_messages_round_trip(token in "\\PC{0,100}") {
        let auth = json!({"type": "auth", "token": token}).to_string();
        prop_assert_eq!(
            ClientMessage::decode(&auth).expect("an auth message"),
            ClientMessage::Auth { token: Some(token.clone()), cookie: false }
        );
        let as_array = json!(["auth", token]).to_string();
        prop_assert!(ClientMessage::decode(&as_array).is_err());
    }

    #[test]
    fn forwarded_for_never_panics(lines in proptest::collection::vec(any::<Vec<u8>>(), 0..4)) {
        let _ = last_forwarded_for(lines.iter().map(Vec::as_slice));
    }

    #[test]
    fn forwarded_for_takes_the_last_address_of_the_last_line(
        forged in proptest::collection::vec("\\PC{0,30}", 0..3),
        earlier in "[0-9a-f.:, ]{0,30}",
        ip in any::<IpAddr>(),
        port in proptest::option::of(any::<u16>()),
    ) {
        let last = match port {
            Some(p) => SocketAddr::new(ip, p).to_string(),
            None => ip.to_string(),
        };
        let mut lines = forged;
        lines.push(format!("{earlier}, {last}"));
        prop_assert_eq!(last_forwarded_for(lines.iter().map(|l| l.as_bytes())), Some(ip));
    }

    #[test]
    fn page_requests_never_panic_and_limits_are_bounded(
        cursor in proptest::option::of("\\PC{0,80}"),
        limit in proptest::option::of("[-0-9a-z]{0,6}"),
    ) {
        if let Ok(page) = PageRequest::parse(cursor.as_deref(), limit.as_deref()) {
            prop_assert!((1..=1000).contains(&page.limit));
        }
        if let Some(n) = limit.as_deref().and_then(|l| l.parse::<usize>().ok()) {
            let page = PageRequest::parse(None, Some(&n.to_string()));
            prop_assert_eq!(page.is_ok(), (1..=1000).contains(&n));
        }
    }

    #[test]
    fn cursors_round_trip(
        user in username(), created in any::<u64>(), id in any::<[u8; 16]>()
    ) {
        let name = Username::parse(&user).expect("a valid name");
        let token = Token::issue(&name, id, [7; 32]);
        let session = Session {
            session_id: token.session_id().clone(),
            username: name,
            device: DeviceName::parse("PC").expect("a valid device"),
            ip: "127.0.0.1".into(),
            user_agent: String::new(),
            created_at: Millis(created),
            last_seen_at: Millis(created),
            expires_at: Millis(created),
            token_hash: token.hash(),
            origin: Default::default(),
            password: None,
            device_class: None,
            device_id: None,
        };
        let cursor = Cursor::after(&session);
        let page = PageRequest::parse(Some(&cursor.encode()), None).expect("its own cursor");
        prop_assert_eq!(page.after, Some(cursor));
    }

    #[test]
    fn names_parse_to_themselves_or_are_refused(raw in "\\PC{0,80}|[\\x00-\\x1f\u{200b}\u{202e}a]{0,4}") {
        if let Ok(name) = Username::parse(&raw) {
            prop_assert_eq!(name.as_str(), raw.as_str());
            prop_assert!((1..=64).contains(&raw.chars().count()));
            prop_assert!(!raw.chars().any(char::is_control));
        }
        if let Ok(device) = DeviceName::parse(&raw) {
            prop_assert_eq!(device.as_str(), raw.as_str());
            prop_assert!(raw.chars().count() <= 64);
            prop_assert!(!raw.chars().any(char::is_control));
        }
    }

    #[test]
    fn plain_names_are_accepted(raw in "[a-zA-Z0-9._@ -]{1,64}") {
        prop_assert!(Username::parse(&raw).is_ok());
        prop_assert!(DeviceName::parse(&raw).is_ok());
    }

    #[test]
    fn user_agents_are_stored_cut_to_256_characters(ua in proptest::option::of("\\PC{0,400}")) {
        let stored = Session::stored_user_agent(ua.as_deref());
        prop_assert!(stored.chars().count() <= Session::MAX_USER_AGENT_CHARS);
        prop_assert!(ua.unwrap_or_default().starts_with(&stored));
    }

    #[test]
    fn tokens_and_session_ids_round_trip(
        user in username(), id in any::<[u8; 16]>(), secret in any::<[u8; 32]>()
    ) {
        let token = Token::issue(&Username::parse(&user).expect("a valid name"), id, secret);
        let parsed = Token::parse(token.expose()).expect("its own token");
        prop_assert_eq!(parsed.hash(), token.hash());
        prop_assert_eq!(parsed.session_id(), token.session_id());
        prop_assert_eq!(parsed.account(), token.account());
        let sid = SessionId::from_bytes(id);
        prop_assert_eq!(SessionId::parse(sid.as_str()), Ok(sid));
    }

    #[test]
    fn tokens_and_session_ids_never_panic(
        raw in "[A-Za-z0-9_=+/-]{86}|\\PC{0,100}|s_[0-9a-fA-F]{30,34}"
    ) {
        if let Ok(token) = Token::parse(&raw) {
            prop_assert_eq!(token.expose(), raw.as_str());
        }
        if let Ok(id) = SessionId::parse(&raw) {
            prop_assert_eq!(id.as_str(), raw.as_str());
        }
    }
}
