//! How session records and tombstones are encoded in Redis, both ways.
//!
//! A record is a MessagePack sequence: values one after another in a fixed
//! order, with neither field names nor an array header, so an absent field
//! is a `nil` (Lua tables cannot hold one, `cmsgpack.pack`'s arguments can):
//! - session: `id u d ip ua c l e h o pw dc di`
//! - tombstone: `h r t by e` (`by` a map with `Actor`'s names, or `nil`)
//!
//! Positions map to the serde names of `domain::Session` and
//! `domain::Tombstone`, whose serde form stays the one judge of a valid
//! record: this module only moves values between positions and names. `h`,
//! the token hash, is its 32 raw bytes (a MessagePack str, which is all
//! `cmsgpack` reads) where serde has 64 hex digits. A stored session's `id`
//! is `nil`, as it is the hash field already; a script's reply carries it.
//! Records stored before this encoding are JSON objects (they start with
//! `{`) and still load. `common.lua` is the scripts' side of the same
//! encoding and changes with it; this module does no I/O.

use serde_json::{Map, Number, Value};

use super::StoreError;
use crate::domain::{Millis, Session, TokenHash, Tombstone};

const SESSION: &[&str] = &[
    "id", "u", "d", "ip", "ua", "c", "l", "e", "h", "o", "pw", "dc", "di",
];
const TOMBSTONE: &[&str] = &["h", "r", "t", "by", "e"];
/// The field that is raw bytes here and hex in serde.
const HASH: &str = "h";
/// Every legacy record is a JSON object; no MessagePack record starts with
/// this byte (it would be the integer 123, and no field comes first as one).
const JSON_START: u8 = b'{';

/// A session as stored (`id` is the hash field it is stored under) or as a
/// script hands it back (`id` is `None`: the record carries it).
pub fn session(raw: &[u8], id: Option<&str>) -> Result<Session, StoreError> {
    if raw.first() == Some(&JSON_START) {
        return serde_json::from_slice(raw).map_err(StoreError::corrupt);
    }
    let mut r = Fields(raw);
    let id = r.text()?.or(id);
    Ok(Session {
        session_id: typed(id.ok_or_else(|| missing("id"))?)?,
        username: typed(r.required("u")?)?,
        device: typed(r.required("d")?)?,
        ip: r.required("ip")?.to_owned(),
        user_agent: r.required("ua")?.to_owned(),
        created_at: Millis(r.int("c")?),
        last_seen_at: Millis(r.int("l")?),
        expires_at: Millis(r.int("e")?),
        token_hash: typed(&hex::encode(r.bytes()?.ok_or_else(|| missing(HASH))?))?,
        origin: r.text()?.map(typed).transpose()?.unwrap_or_default(),
        password: r.text()?.map(typed).transpose()?,
        device_class: r.text()?.map(typed).transpose()?,
        device_id: r.text()?.map(typed).transpose()?,
    })
}

/// A session record's values read in `SESSION`'s order, straight into the
/// session's fields: every token check on Redis decodes each record of its
/// account, so this builds no tree of values on the way (`decode` does,
/// for the records read less often). Values past the layout are ignored.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    /// The next value's bytes (a MessagePack str); `None` for `nil` or the
    /// record's end.
    fn bytes(&mut self) -> Result<Option<&'a [u8]>, StoreError> {
        match self.0.first() {
            None => Ok(None),
            Some(&NIL) => {
                self.0 = &self.0[1..];
                Ok(None)
            }
            Some(_) => {
                let len = rmp::decode::read_str_len(&mut self.0).map_err(StoreError::corrupt)?;
                let len = usize::try_from(len).map_err(StoreError::corrupt)?;
                if len > self.0.len() {
                    return Err(StoreError::corrupt("a record cut short"));
                }
                let (value, rest) = self.0.split_at(len);
                self.0 = rest;
                Ok(Some(value))
            }
        }
    }

    fn text(&mut self) -> Result<Option<&'a str>, StoreError> {
        self.bytes()?
            .map(|b| std::str::from_utf8(b).map_err(StoreError::corrupt))
            .transpose()
    }

    fn required(&mut self, name: &str) -> Result<&'a str, StoreError> {
        self.text()?.ok_or_else(|| missing(name))
    }

    fn int(&mut self, name: &str) -> Result<u64, StoreError> {
        if matches!(self.0.first(), None | Some(&NIL)) {
            return Err(missing(name));
        }
        rmp::decode::read_int(&mut self.0).map_err(StoreError::corrupt)
    }
}

/// MessagePack's `nil`.
const NIL: u8 = 0xc0;

fn missing(name: &str) -> StoreError {
    StoreError::corrupt(format!("a session record without `{name}`"))
}

/// A value through its type's serde form, which stays the judge of what is
/// valid (a device class's alphabet, an origin's names).
fn typed<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    use serde::de::IntoDeserializer;
    T::deserialize(text.into_deserializer())
        .map_err(|e: serde::de::value::Error| StoreError::corrupt(e))
}

/// A session with its id, as `sign_in.lua` takes it.
pub fn encode_session(session: &Session) -> Result<Vec<u8>, StoreError> {
    encode(
        &serde_json::to_value(session).map_err(StoreError::corrupt)?,
        SESSION,
    )
}

/// A stored tombstone, in either encoding.
pub fn tombstone(raw: &[u8]) -> Result<Tombstone, StoreError> {
    if raw.first() == Some(&JSON_START) {
        return serde_json::from_slice(raw).map_err(StoreError::corrupt);
    }
    serde_json::from_value(Value::Object(decode(raw, TOMBSTONE)?)).map_err(StoreError::corrupt)
}

/// A token hash as the scripts compare it: its raw bytes.
pub fn token_hash(hash: &TokenHash) -> Vec<u8> {
    // A TokenHash is hex we made ourselves. Were one not, its text stands
    // in: never empty, which `lookup.lua` takes as "match any".
    hex::decode(hash.as_str()).unwrap_or_else(|_| hash.as_str().as_bytes().to_vec())
}

/// The values of `raw`, named by `layout`; `nil` ones are left out (serde's
/// defaults fill them), as are values past the layout (fields of a later
/// version, ignored as serde ignores unknown names).
fn decode(raw: &[u8], layout: &[&str]) -> Result<Map<String, Value>, StoreError> {
    let mut rest = raw;
    let mut fields = Map::new();
    for name in layout {
        if rest.is_empty() {
            break;
        }
        let value = rmpv::decode::read_value(&mut rest).map_err(StoreError::corrupt)?;
        let value = match value {
            rmpv::Value::Nil => continue,
            rmpv::Value::String(s) if *name == HASH => Value::String(hex::encode(s.as_bytes())),
            other => to_json(other)?,
        };
        fields.insert((*name).to_owned(), value);
    }
    Ok(fields)
}

fn encode(value: &Value, layout: &[&str]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    for name in layout {
        match value.get(*name) {
            Some(Value::String(h)) if *name == HASH => {
                let raw = hex::decode(h).map_err(StoreError::corrupt)?;
                write_str(&mut out, &raw)?;
            }
            Some(v) => {
                rmpv::encode::write_value(&mut out, &to_msgpack(v)?).map_err(StoreError::corrupt)?
            }
            None => rmpv::encode::write_value(&mut out, &rmpv::Value::Nil)
                .map_err(StoreError::corrupt)?,
        }
    }
    Ok(out)
}

/// Bytes as a MessagePack str (not bin: `cmsgpack` cannot read bin).
fn write_str(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len()).map_err(StoreError::corrupt)?;
    rmp::encode::write_str_len(out, len).map_err(StoreError::corrupt)?;
    out.extend_from_slice(bytes);
    Ok(())
}

fn to_json(value: rmpv::Value) -> Result<Value, StoreError> {
    use rmpv::Value as M;
    let unexpected = |v: &M| StoreError::corrupt(format!("unexpected value in a record: {v:?}"));
    Ok(match value {
        M::Nil => Value::Null,
        M::Boolean(b) => Value::Bool(b),
        M::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Value::from(u),
            (None, Some(n)) => Value::from(n),
            _ => return Err(unexpected(&M::Integer(i))),
        },
        M::F64(f) => Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| unexpected(&M::F64(f)))?,
        M::String(s) => match s.into_str() {
            Some(s) => Value::String(s),
            None => return Err(StoreError::corrupt("a record's text is not UTF-8")),
        },
        M::Array(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        M::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| match k {
                    M::String(k) if k.is_str() => {
                        Ok((k.into_str().unwrap_or_default(), to_json(v)?))
                    }
                    other => Err(unexpected(&other)),
                })
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(unexpected(&other)),
    })
}

fn to_msgpack(value: &Value) -> Result<rmpv::Value, StoreError> {
    use rmpv::Value as M;
    Ok(match value {
        Value::Null => M::Nil,
        Value::Bool(b) => M::Boolean(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => M::from(u),
            (None, Some(i), _) => M::from(i),
            (None, None, Some(f)) => M::F64(f),
            _ => return Err(StoreError::corrupt(format!("unexpected number {n}"))),
        },
        Value::String(s) => M::from(s.as_str()),
        Value::Array(items) => M::Array(items.iter().map(to_msgpack).collect::<Result<_, _>>()?),
        Value::Object(fields) => M::Map(
            fields
                .iter()
                .map(|(k, v)| Ok((M::from(k.as_str()), to_msgpack(v)?)))
                .collect::<Result<_, StoreError>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::{Actor, DeviceName, Millis, Reason};

    fn sample() -> Session {
        let (mut s, _) = Session::sample(7, Millis(1_796_210_455_827), Duration::from_secs(43_200));
        s.user_agent = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0".into();
        s.last_seen_at = Millis(s.created_at.0 + 61_000);
        s
    }

    /// What `common.lua` stores: the record with a `nil` id.
    fn stored(s: &Session) -> Vec<u8> {
        let mut raw = encode_session(s).unwrap();
        let id_len = 2 + s.session_id.as_str().len(); // str8 header + 34 bytes
        raw.splice(..id_len, [0xc0]);
        raw
    }

    fn tomb(by: Option<Actor>) -> Tombstone {
        Tombstone {
            token_hash: sample().token_hash,
            reason: Reason::DuplicateLogin,
            revoked_at: Millis(1_796_210_500_000),
            by,
            until: Millis(1_796_253_655_827),
        }
    }

    fn encode_tombstone(t: &Tombstone) -> Vec<u8> {
        encode(&serde_json::to_value(t).unwrap(), TOMBSTONE).unwrap()
    }

    #[test]
    fn a_session_round_trips_in_either_encoding() {
        let s = sample();
        let id = s.session_id.as_str();
        assert_eq!(session(&encode_session(&s).unwrap(), None).unwrap(), s);
        assert_eq!(
            session(&stored(&s), Some(id)).unwrap(),
            s,
            "id from the field"
        );
        let json = serde_json::to_vec(&s).unwrap();
        assert_eq!(
            session(&json, Some(id)).unwrap(),
            s,
            "a record stored as JSON"
        );
        // Less by the names, the id and the hash's hex at the least.
        let (compact, json) = (stored(&s).len(), json.len());
        assert!(compact + 140 < json, "{compact} vs {json}");
    }

    #[test]
    fn absent_optional_fields_stay_absent() {
        let mut s = sample();
        (s.password, s.device_class) = (None, None);
        s.device_id = Some(crate::domain::ClientDeviceId::parse("laptop-1").unwrap());
        assert_eq!(session(&encode_session(&s).unwrap(), None).unwrap(), s);
    }

    #[test]
    fn the_token_hash_is_stored_as_its_raw_bytes() {
        let s = sample();
        let raw = token_hash(&s.token_hash);
        assert_eq!(raw.len(), 32);
        let record = encode_session(&s).unwrap();
        let at = record.windows(32).position(|w| w == raw.as_slice());
        assert!(at.is_some(), "the 32 bytes appear as they are");
        assert!(!record
            .windows(64)
            .any(|w| w == s.token_hash.as_str().as_bytes()));
    }

    #[test]
    fn timestamps_stay_exact_integers() {
        let mut s = sample();
        s.expires_at = Millis((1 << 53) - 1);
        assert_eq!(session(&encode_session(&s).unwrap(), None).unwrap(), s);
    }

    #[test]
    fn a_tombstone_round_trips_in_either_encoding() {
        let by = Actor {
            device: DeviceName::parse("Firefox on Linux").unwrap(),
            ip: "10.0.0.2".into(),
            at: Millis(1_796_210_500_000),
        };
        for t in [tomb(Some(by)), tomb(None)] {
            assert_eq!(tombstone(&encode_tombstone(&t)).unwrap(), t);
            assert_eq!(tombstone(&serde_json::to_vec(&t).unwrap()).unwrap(), t);
        }
    }

    #[test]
    fn a_cut_or_foreign_record_is_corrupt_not_a_panic() {
        let s = encode_session(&sample()).unwrap();
        assert!(session(&s[..s.len() / 2], None).is_err());
        assert!(session(b"\xc0", None).is_err(), "a record of nothing");
        assert!(tombstone(b"\xc1").is_err(), "a byte MessagePack never uses");
    }
}
