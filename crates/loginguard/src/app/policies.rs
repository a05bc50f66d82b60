//! Which policy an account is under: the configured one (users-file entry >
//! flags), and the administrators' runtime overrides kept in the store
//! (`GET|PUT|DELETE /api/admin/users/{username}/policy`).
//!
//! The sign-in never reads the override here: it hands the configured
//! policy to the store, whose atomic step lays the stored override over it
//! (so no instance can use an old one). This module only shows, stores and
//! removes overrides, and says what a sign-in would use now. It holds no
//! cache.

use std::sync::Arc;

use super::AppError;
use crate::auth::Accounts;
use crate::domain::{effective, AccountKey, Policy, PolicyOverride, Session, Username};
use crate::store::SessionStore;

/// The configured policy of each account: the flags with the overrides of
/// its users-file entry (the file in force at the call).
#[derive(Clone)]
pub struct ConfiguredPolicies {
    pub accounts: Arc<Accounts>,
    /// `--max-sessions`, `--on-limit`, `--class-limits`, `--stale-after`.
    pub flags: Policy,
}

impl ConfiguredPolicies {
    pub fn of(&self, username: &Username) -> Policy {
        let users = self.accounts.current();
        let user = users.get(username);
        Policy {
            max_sessions: user
                .and_then(|u| u.max_sessions)
                .unwrap_or(self.flags.max_sessions),
            on_limit: user.and_then(|u| u.on_limit).unwrap_or(self.flags.on_limit),
            class_limits: user
                .and_then(|u| u.class_limits.clone())
                .unwrap_or_else(|| self.flags.class_limits.clone()),
            stale_after: self.flags.stale_after,
        }
    }
}

/// An account's override and the policy its next sign-in gets.
pub struct AccountPolicy {
    pub username: Username,
    pub stored: Option<PolicyOverride>,
    pub effective: Policy,
}

pub struct PolicyService {
    pub store: Arc<dyn SessionStore>,
    pub configured: ConfiguredPolicies,
}

impl PolicyService {
    /// `raw`'s stored override and effective policy. Any valid user name
    /// has one: a trusted backend's subjects are in no users file.
    pub async fn show(&self, raw: &str) -> Result<AccountPolicy, AppError> {
        let username = parse(raw)?;
        let stored = self
            .store
            .policy_override(&AccountKey::of(&username))
            .await?;
        Ok(self.policy(username, stored))
    }

    /// Stores `value` as `raw`'s whole override (fields it leaves out are
    /// not kept from an earlier one).
    pub async fn set(
        &self,
        admin: &Session,
        raw: &str,
        value: PolicyOverride,
    ) -> Result<AccountPolicy, AppError> {
        let username = parse(raw)?;
        let replaced = self
            .store
            .set_policy_override(&AccountKey::of(&username), Some(&value))
            .await?;
        tracing::info!(target: "audit", admin = %admin.username, account = %username, policy = ?value, replaced, "admin set a policy override");
        Ok(self.policy(username, Some(value)))
    }

    /// Removes `raw`'s override; removing none is no error.
    pub async fn remove(&self, admin: &Session, raw: &str) -> Result<(), AppError> {
        let username = parse(raw)?;
        let removed = self
            .store
            .set_policy_override(&AccountKey::of(&username), None)
            .await?;
        tracing::info!(target: "audit", admin = %admin.username, account = %username, removed, "admin removed a policy override");
        Ok(())
    }

    fn policy(&self, username: Username, stored: Option<PolicyOverride>) -> AccountPolicy {
        let effective = effective(self.configured.of(&username), stored.as_ref());
        AccountPolicy {
            username,
            stored,
            effective,
        }
    }
}

fn parse(raw: &str) -> Result<Username, AppError> {
    Username::parse(raw).map_err(|_| AppError::BadInput("not a valid user name"))
}
