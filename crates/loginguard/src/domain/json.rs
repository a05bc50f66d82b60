//! The one shape every JSON input has: an object.
//!
//! serde accepts a struct in sequence form (`["user1","password1"]` for
//! `{username, password}`) and an internally tagged enum from an array
//! (`["ping"]`). Every HTTP body (`http::ApiJson`) and every WebSocket
//! message (`ws::message::ClientMessage::decode`) is decoded here instead, so
//! a new endpoint or message type gets the rule without thinking of it.

use serde::de::DeserializeOwned;

/// Why a JSON input was refused (HTTP 400, socket `bad_message`).
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("a JSON object is expected")]
    NotAnObject,
    #[error(transparent)]
    Invalid(#[from] serde_json::Error),
}

/// Decodes `bytes` as a `T` written as a JSON object, nothing else.
pub fn from_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    // By the JSON grammar, a document is an object exactly when its first
    // byte after whitespace is `{`; serde_json then checks all the rest.
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err(JsonError::NotAnObject);
    }
    Ok(serde_json::from_slice(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Pair {
        a: String,
        b: u8,
    }

    #[test]
    fn objects_pass_and_every_other_shape_is_refused() {
        let pair = Pair {
            a: "x".into(),
            b: 1,
        };
        assert_eq!(from_object::<Pair>(br#" {"a":"x","b":1}"#).unwrap(), pair);
        assert_eq!(
            from_object::<Pair>(b"\r\n\t{\"b\":1,\"a\":\"x\"}\n").unwrap(),
            pair
        );
        assert!(
            serde_json::from_slice::<Pair>(br#"["x",1]"#).is_ok(),
            "what serde alone lets through"
        );
        for shape in [
            &br#"["x",1]"#[..],
            b"null",
            b"\"x\"",
            b"1",
            b"",
            b"  ",
            b"true",
        ] {
            assert!(
                matches!(from_object::<Pair>(shape), Err(JsonError::NotAnObject)),
                "{shape:?}"
            );
        }
        for broken in [&br#"{"a":"x","b":1} {}"#[..], b"{", br#"{"a":"x"}"#] {
            assert!(
                matches!(from_object::<Pair>(broken), Err(JsonError::Invalid(_))),
                "{broken:?}"
            );
        }
    }
}
