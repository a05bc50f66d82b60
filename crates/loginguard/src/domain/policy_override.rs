//! `PolicyOverride`: an administrator's runtime change of one account's
//! policy (`PUT /api/admin/users/{username}/policy`), and how it is laid
//! over the configured policy.
//!
//! The store keeps it as JSON beside the account's sessions and lays it over
//! the configured policy (users file > flags) inside the sign-in's own
//! atomic step, so every instance uses the stored one from the next
//! sign-in on. `sign_in.lua` and `redeem.lua` read the same JSON
//! (`policy.lua`, `overridden`). No I/O here: the rules only.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::class_limits::ClassLimits;
use super::policy::{OnLimit, Policy};

/// The largest `max_sessions` (and class limit) an override may set: far
/// above any real use, low enough that a typo is caught.
pub const MAX_OVERRIDE_SESSIONS: u32 = 1000;

/// The most device classes one override may limit.
pub const MAX_OVERRIDE_CLASSES: usize = 32;

/// The fields an administrator set; a field left out (or null) keeps the
/// configured value. `class_limits: {}` is a field set: no class limits at
/// all. The same JSON is the `PUT` body, the `override` of its answer and
/// what the store keeps; an unknown field is refused (a typo must not be
/// stored as "nothing changed").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// Live sessions allowed, 1 to 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_sessions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_limit: Option<OnLimit>,
    /// Device class (1-32 characters of `a-z 0-9 _ -`) -> its limit, 1 to
    /// 1000; at most 32 classes. `{}`: no class limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, u32>>)]
    pub class_limits: Option<ClassLimits>,
}

/// Why an override was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyOverrideError {
    #[error("give at least one of max_sessions, on_limit and class_limits (DELETE removes the override)")]
    Empty,
    #[error("max_sessions must be from 1 to {MAX_OVERRIDE_SESSIONS}")]
    MaxSessions,
    #[error("a class limit must be from 1 to {MAX_OVERRIDE_SESSIONS}")]
    ClassLimit,
    #[error("class_limits may name at most {MAX_OVERRIDE_CLASSES} classes")]
    TooManyClasses,
}

impl PolicyOverride {
    /// This override if it sets something and keeps within the caps
    /// (deserializing has already checked class names and `on_limit`).
    pub fn checked(self) -> Result<Self, PolicyOverrideError> {
        let in_range = |n: u32| (1..=MAX_OVERRIDE_SESSIONS).contains(&n);
        if self == PolicyOverride::default() {
            return Err(PolicyOverrideError::Empty);
        }
        if self.max_sessions.is_some_and(|n| !in_range(n)) {
            return Err(PolicyOverrideError::MaxSessions);
        }
        if let Some(limits) = &self.class_limits {
            if limits.len() > MAX_OVERRIDE_CLASSES {
                return Err(PolicyOverrideError::TooManyClasses);
            }
            if !limits.limits().all(in_range) {
                return Err(PolicyOverrideError::ClassLimit);
            }
        }
        Ok(self)
    }

    /// `base` with the fields this override sets replaced.
    pub fn apply(&self, base: Policy) -> Policy {
        Policy {
            max_sessions: self.max_sessions.unwrap_or(base.max_sessions),
            on_limit: self.on_limit.unwrap_or(base.on_limit),
            class_limits: self.class_limits.clone().unwrap_or(base.class_limits),
            stale_after: base.stale_after,
        }
    }
}

/// `base` under `over`, when there is one: what a sign-in decides under.
pub fn effective(base: Policy, over: Option<&PolicyOverride>) -> Policy {
    match over {
        Some(o) => o.apply(base),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn base() -> Policy {
        Policy {
            max_sessions: 1,
            on_limit: OnLimit::KickOldest,
            class_limits: ClassLimits::parse("web=1").unwrap(),
            stale_after: Some(Duration::from_secs(600)),
        }
    }

    fn new(
        max_sessions: Option<u32>,
        on_limit: Option<OnLimit>,
        class_limits: Option<ClassLimits>,
    ) -> Result<PolicyOverride, PolicyOverrideError> {
        PolicyOverride {
            max_sessions,
            on_limit,
            class_limits,
        }
        .checked()
    }

    #[test]
    fn only_the_fields_given_are_replaced() {
        let o = new(Some(3), None, None).unwrap();
        let p = o.apply(base());
        assert_eq!((p.max_sessions, p.on_limit), (3, OnLimit::KickOldest));
        assert_eq!(p.class_limits, base().class_limits);
        assert_eq!(p.stale_after, base().stale_after);
        let none = new(None, Some(OnLimit::Ask), Some(ClassLimits::default()));
        let p = none.unwrap().apply(base());
        assert_eq!((p.max_sessions, p.on_limit), (1, OnLimit::Ask));
        assert!(p.class_limits.is_empty(), "{{}} lifts the class limits");
        assert_eq!(effective(base(), None), base());
    }

    #[test]
    fn refuses_empty_and_out_of_range_overrides() {
        use PolicyOverrideError as E;
        assert_eq!(new(None, None, None), Err(E::Empty));
        assert_eq!(new(Some(0), None, None), Err(E::MaxSessions));
        assert_eq!(
            new(Some(MAX_OVERRIDE_SESSIONS + 1), None, None),
            Err(E::MaxSessions)
        );
        assert!(new(Some(MAX_OVERRIDE_SESSIONS), None, None).is_ok());
        let big = ClassLimits::parse("web=1001").unwrap();
        assert_eq!(new(None, None, Some(big)), Err(E::ClassLimit));
        let many: Vec<String> = (0..=MAX_OVERRIDE_CLASSES)
            .map(|i| format!("c{i}=1"))
            .collect();
        let many = ClassLimits::parse(&many.join(",")).unwrap();
        assert_eq!(new(None, None, Some(many)), Err(E::TooManyClasses));
    }

    #[test]
    fn the_json_names_only_the_fields_set_and_refuses_unknown_ones() {
        let o = new(Some(2), Some(OnLimit::DenyNew), None).unwrap();
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(json, r#"{"max_sessions":2,"on_limit":"deny_new"}"#);
        assert_eq!(serde_json::from_str::<PolicyOverride>(&json).unwrap(), o);
        let typo = r#"{"max_sessions":2,"onlimit":"ask"}"#;
        assert!(serde_json::from_str::<PolicyOverride>(typo).is_err());
        let null = r#"{"max_sessions":null,"on_limit":"ask"}"#;
        let o = serde_json::from_str::<PolicyOverride>(null).unwrap();
        assert_eq!((o.max_sessions, o.on_limit), (None, Some(OnLimit::Ask)));
        assert!(serde_json::from_str::<PolicyOverride>(r#"{"on_limit":"never"}"#).is_err());
        assert!(serde_json::from_str::<PolicyOverride>(r#"{"class_limits":[1]}"#).is_err());
    }
}
