//! Form-encoded bodies (`application/x-www-form-urlencoded`), decoded
//! strictly, and `JsonOrForm`, the body of the endpoints that take both
//! (sign-in, RFC 7662 introspection).
//!
//! A field that is not UTF-8 once percent-decoded, or that is given twice,
//! is refused rather than guessed at; fields nobody asked for are ignored.
//! Any other media type goes the JSON way (`ApiJson`: 415 unless JSON).

use axum::extract::{FromRequest, Request};
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

use super::extract::{has_content_type, read_body, ApiJson};
use super::ApiError;

/// A body type that can also be read from a form.
pub trait FromForm: Sized {
    fn from_form(body: &[u8]) -> Result<Self, ApiError>;
}

/// The values of the fields `names`, in that order, from a form body.
pub fn form_fields<const N: usize>(
    body: &[u8],
    names: [&str; N],
) -> Result<[Option<String>; N], ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| bad_form("not UTF-8"))?;
    let mut values: [Option<String>; N] = std::array::from_fn(|_| None);
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        let Some(slot) = names.iter().position(|n| *n == key) else {
            continue;
        };
        if values[slot].replace(decode(value)?).is_some() {
            return Err(bad_form("a field is given twice"));
        }
    }
    Ok(values)
}

fn decode(s: &str) -> Result<String, ApiError> {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| bad_form("a field is not UTF-8"))
}

/// 400 for a form body that cannot be used.
pub fn bad_form(what: &str) -> ApiError {
    ApiError::BadRequest(format!("invalid form body: {what}"))
}

/// A body given as a JSON object or as a form with the same field names.
pub struct JsonOrForm<T>(pub T);

impl<T: DeserializeOwned + FromForm, S: Send + Sync> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if has_content_type(&req, "application/x-www-form-urlencoded") {
            Ok(JsonOrForm(T::from_form(&read_body(req, state).await?)?))
        } else {
            Ok(JsonOrForm(ApiJson::<T>::from_request(req, state).await?.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_are_decoded_strictly() {
        let [user, password, device] = form_fields(
            b"username=us%C3%A9r+1&password=p%26w&extra=1",
            ["username", "password", "device"],
        )
        .unwrap();
        assert_eq!(
            (user.as_deref(), password.as_deref(), device),
            (Some("usér 1"), Some("p&w"), None)
        );
        for bad in [
            &b"username=%FF&password=x"[..],
            b"username=a&username=b&password=x",
            b"username=a&password=\xff",
        ] {
            assert!(
                form_fields(bad, ["username", "password"]).is_err(),
                "{bad:?}"
            );
        }
        let [token] = form_fields(b"token=&token_type_hint=access_token", ["token"]).unwrap();
        assert_eq!(token.as_deref(), Some(""));
    }
}
