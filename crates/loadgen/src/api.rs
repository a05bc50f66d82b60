//! The loginguard calls the scenarios make, per PROTOCOL.md.
//!
//! Each call checks the status it expects and decodes only the fields a
//! scenario needs. No timing happens here: callers take their own timestamps
//! around a call so that they decide exactly what is measured.

use hyper::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::http::HttpConn;
use crate::LoadgenError;

/// A signed-in session: its public id and its secret bearer token.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Session {
    pub session_id: String,
    pub token: String,
}

/// `POST /api/auth/login`; 200 or an error.
pub async fn login(
    conn: &mut HttpConn,
    username: &str,
    password: &str,
    device: &str,
) -> Result<Session, LoadgenError> {
    let body = json!({"username": username, "password": password, "device": device});
    let reply = conn
        .send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(body.to_string()),
        )
        .await?
        .expect("sign-in", 200)?;
    Ok(serde_json::from_slice(&reply.body)?)
}

/// `DELETE /api/auth/sessions/{id}` with another session of the same account; 204.
pub async fn revoke_session(
    conn: &mut HttpConn,
    token: &str,
    session_id: &str,
) -> Result<(), LoadgenError> {
    let path = format!("/api/auth/sessions/{session_id}");
    conn.send(Method::DELETE, &path, Some(token), None)
        .await?
        .expect("revoke", 204)?;
    Ok(())
}

/// `GET /api/auth/session`; 200.
pub async fn validate(conn: &mut HttpConn, token: &str) -> Result<(), LoadgenError> {
    conn.send(Method::GET, "/api/auth/session", Some(token), None)
        .await?
        .expect("validate", 200)?;
    Ok(())
}

/// `GET /api/auth/verify` (the reverse-proxy check); 200.
pub async fn verify(conn: &mut HttpConn, token: &str) -> Result<(), LoadgenError> {
    conn.send(Method::GET, "/api/auth/verify", Some(token), None)
        .await?
        .expect("verify", 200)?;
    Ok(())
}

/// The part of an introspection answer a load run checks.
#[derive(Deserialize)]
struct Introspection {
    active: bool,
}

/// `POST /api/v1/introspect` with `api_key`; 200 and `"active": true`
/// (an inactive answer is also a 200, so the body decides).
pub async fn introspect(
    conn: &mut HttpConn,
    api_key: &str,
    token: &str,
) -> Result<(), LoadgenError> {
    let body = json!({ "token": token }).to_string();
    let reply = conn
        .send(
            Method::POST,
            "/api/v1/introspect",
            Some(api_key),
            Some(body),
        )
        .await?
        .expect("introspect", 200)?;
    if serde_json::from_slice::<Introspection>(&reply.body)?.active {
        Ok(())
    } else {
        Err(LoadgenError::Status {
            what: "introspect (inactive token)",
            status: reply.status,
            body: String::from_utf8_lossy(&reply.body).into_owned(),
        })
    }
}
