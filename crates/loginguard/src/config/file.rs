//! The `--config` TOML file, laid under flags and env.
//!
//! The file is flat (`max_sessions = 2`, the names `--help` shows with `_`).
//! Each key must name a setting; its value is handed to clap as that
//! setting's flag, but only when neither a flag nor an env var set it, so
//! one parser checks every source and the precedence stays flags > env >
//! file > defaults.

use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use super::ConfigError;

/// `--name=value` for every setting in the file that flags and env left unset.
pub fn unset_settings_as_flags(
    path: &Path,
    command: &Command,
    matches: &ArgMatches,
) -> Result<Vec<OsString>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|source| ConfigError::NotToml {
        path: path.to_owned(),
        source,
    })?;
    let mut flags = Vec::new();
    for (key, value) in table {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == key.as_str() && a.get_long().is_some() && key != "config")
            .ok_or_else(|| ConfigError::UnknownKey {
                path: path.to_owned(),
                line: line_of(&text, &key),
                key: key.clone(),
            })?;
        let explicit = matches!(
            matches.value_source(&key),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if explicit {
            continue;
        }
        let mut value_text = as_flag_text(&value).ok_or_else(|| ConfigError::BadType {
            path: path.to_owned(),
            line: line_of(&text, &key),
            key: key.clone(),
        })?;
        if arg.get_value_delimiter().is_some() {
            // `"a, b"` and `["a", "b"]` mean the same list.
            let parts: Vec<&str> = value_text
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            if parts.is_empty() {
                continue;
            }
            value_text = parts.join(",");
        }
        let long = arg.get_long().expect("checked above");
        flags.push(OsString::from(format!("--{long}={value_text}")));
    }
    Ok(flags)
}

/// The line (from 1) where `key` is set, for error messages; 0 if not found.
pub(super) fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(0, |n| n + 1)
}

/// A TOML value as the text its flag takes; lists join with commas.
fn as_flag_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join(",")),
        _ => None,
    }
}
