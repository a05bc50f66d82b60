//! `ConfigError`: a setting that cannot be used, named by its setting name
//! (`max_sessions`) and, for the file, by the file it came from.
//!
//! Built from clap's errors (flags and env are parsed by clap) so the whole
//! message is ours: `configuration: max_sessions = "0": must be at least 1`.

use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse or breaks a rule.
    #[error("configuration: {setting} = {value:?}: {problem}")]
    Invalid {
        setting: String,
        value: String,
        problem: String,
    },
    /// Anything else clap refused (an unknown flag, two settings that exclude each other).
    #[error("configuration: {0}")]
    Usage(String),
    #[error("configuration file {path}, line {line}: {source}")]
    InFile {
        path: PathBuf,
        line: usize,
        #[source]
        source: Box<ConfigError>,
    },
    #[error("configuration file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration file {path}: not valid TOML: {source}")]
    NotToml {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("configuration file {path}, line {line}: unknown setting {key}")]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
    },
    #[error("configuration file {path}, line {line}: {key} must be a string, number, boolean or list of strings")]
    BadType {
        path: PathBuf,
        line: usize,
        key: String,
    },
}

impl ConfigError {
    pub(super) fn from_clap(e: clap::Error) -> Self {
        let text = |kind| match e.get(kind) {
            Some(ContextValue::String(s)) => Some(s.clone()),
            _ => None,
        };
        match (e.kind(), text(ContextKind::InvalidArg)) {
            (ErrorKind::ValueValidation | ErrorKind::InvalidValue, Some(arg)) => {
                let problem = std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .or_else(|| text(ContextKind::ValidValue))
                    .unwrap_or_else(|| e.kind().to_string());
                let setting = setting_name(&arg);
                let value = if SECRET_SETTINGS.contains(&setting.as_str()) {
                    "***".to_owned()
                } else {
                    text(ContextKind::InvalidValue).unwrap_or_default()
                };
                ConfigError::Invalid {
                    setting,
                    value,
                    problem,
                }
            }
            _ => {
                // clap's text up to its usage hint, on one line.
                let rendered = e.to_string();
                let what: Vec<&str> = rendered
                    .lines()
                    .take_while(|l| !l.starts_with("Usage:"))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                ConfigError::Usage(what.join(" ").trim_start_matches("error: ").to_owned())
            }
        }
    }

    /// A value from the file was refused: name the file and the line.
    pub(super) fn in_file(self, path: &Path) -> Self {
        let line = match &self {
            ConfigError::Invalid { setting, .. } => {
                std::fs::read_to_string(path).map_or(0, |text| super::file::line_of(&text, setting))
            }
            _ => 0,
        };
        ConfigError::InFile {
            path: path.to_owned(),
            line,
            source: Box::new(self),
        }
    }
}

/// Settings whose values are or may hold a secret (Redis URLs, the device
/// token key): never repeated.
const SECRET_SETTINGS: [&str; 5] = [
    "redis",
    "redis_cluster",
    "redis_sentinel",
    "redis_master",
    "device_cookie_key",
];

/// `--max-sessions <N>` -> `max_sessions`, the name the file and docs use.
fn setting_name(arg: &str) -> String {
    arg.trim_start_matches('-')
        .split([' ', '='])
        .next()
        .unwrap_or_default()
        .replace('-', "_")
}

#[cfg(test)]
mod tests {
    #[test]
    fn flags_become_setting_names() {
        assert_eq!(super::setting_name("--max-sessions <N>"), "max_sessions");
        assert_eq!(
            super::setting_name("--ws-idle-timeout <WS_IDLE_TIMEOUT>"),
            "ws_idle_timeout"
        );
    }
}
