//! Benchmark accounts: their names (`PREFIX` + index) and the users file the
//! server loads them from (`loginguard serve --users FILE`).
//!
//! The file holds one argon2id hash shared by every account. It never holds a
//! real password: it is a benchmark fixture, made by `loadgen users`.

use std::path::Path;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use clap::Args;

use crate::LoadgenError;

/// Which accounts a scenario signs in as.
#[derive(Args, Clone, Debug)]
pub struct AccountArgs {
    /// Account names are this prefix followed by an index (lg0, lg1, ...).
    #[arg(long, default_value = "lg")]
    pub user_prefix: String,
    /// How many accounts the users file holds (indices 0 .. N-1).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub accounts: u32,
    /// The password every benchmark account shares.
    #[arg(long, default_value = "loadgen-password")]
    pub password: String,
}

impl AccountArgs {
    /// The name of account `i` (taken modulo the number of accounts).
    pub fn name(&self, i: u64) -> String {
        format!("{}{}", self.user_prefix, i % u64::from(self.accounts))
    }
}

/// argon2id cost of the hash written to the users file.
#[derive(Clone, Copy, Debug)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

/// Hashes `password` with argon2id at `cost` (p = 1, as the server's own hashes).
///
/// The salt is fixed: every account in a benchmark file shares this one hash,
/// which is fine for a throwaway fixture and wrong for anything real.
pub fn hash_password(password: &str, cost: HashCost) -> Result<String, LoadgenError> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| LoadgenError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(b"loadgen-fixture!")
        .map_err(|e| LoadgenError::Hash(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| LoadgenError::Hash(e.to_string()))
}

/// The users file text: `count` accounts named `prefix` + index, and the
/// administrator `admin` when given, one shared hash.
pub fn users_toml(prefix: &str, count: u32, admin: Option<&str>, hash: &str) -> String {
    let mut out = String::from(
        "# Benchmark accounts written by `loadgen users`; all share one password hash.\n",
    );
    for i in 0..count {
        out.push_str(&format!(
            "\n[[users]]\nusername = \"{prefix}{i}\"\npassword_hash = \"{hash}\"\n"
        ));
    }
    if let Some(name) = admin {
        out.push_str(&format!(
            "\n[[users]]\nusername = \"{name}\"\npassword_hash = \"{hash}\"\nadmin = true\n"
        ));
    }
    out
}

/// Writes a users file of `count` accounts named `prefix` + index (and
/// `admin`) to `path`.
pub fn write_users_file(
    path: &Path,
    prefix: &str,
    count: u32,
    admin: Option<&str>,
    password: &str,
    cost: HashCost,
) -> Result<(), LoadgenError> {
    let hash = hash_password(password, cost)?;
    std::fs::write(path, users_toml(prefix, count, admin, &hash))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    #[test]
    fn hash_verifies_with_its_own_parameters() {
        let cost = HashCost {
            memory_kib: 64,
            iterations: 1,
        };
        let hash = hash_password("pw", cost).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"no", &parsed).is_err());
    }

    #[test]
    fn users_file_lists_every_account() {
        let text = users_toml("lg", 3, None, "$argon2id$x");
        assert_eq!(text.matches("[[users]]").count(), 3);
        assert!(!text.contains("admin"));
        let with_admin = users_toml("lg", 3, Some("boss"), "$argon2id$x");
        assert_eq!(with_admin.matches("[[users]]").count(), 4);
        assert!(with_admin
            .ends_with("username = \"boss\"\npassword_hash = \"$argon2id$x\"\nadmin = true\n"));
        assert!(text.contains("username = \"lg0\"") && text.contains("username = \"lg2\""));
        let args = AccountArgs {
            user_prefix: "lg".into(),
            accounts: 3,
            password: "p".into(),
        };
        assert_eq!(args.name(4), "lg1");
    }
}
