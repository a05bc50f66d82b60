//! The TOML files `auth` reads (the users file, the API keys file): loading
//! one with the file named in every error and each entry's line, and
//! keeping what was loaded in force until a reload replaces it whole.
//!
//! Used by `Accounts` and `ApiKeys`; a reload that fails changes nothing, so
//! no reader ever sees half a file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

/// Reads `path` and parses it with `parse`; errors name `what` and the file.
pub fn load<T>(
    path: &Path,
    what: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// `users[2] ("bob", line 7)`: the `i`-th `[[table]]` entry of `text`, named
/// `name`, as error messages show it (line 0 when it cannot be found).
pub fn entry_label(text: &str, table: &str, i: usize, name: &str) -> String {
    let header = format!("[[{table}]]");
    let line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == header)
        .nth(i)
        .map_or(0, |(n, _)| n + 1);
    format!("{table}[{i}] ({name:?}, line {line})")
}

/// A value loaded from a file, or a built-in one without a file.
pub struct InForce<T> {
    /// Readers clone the `Arc` and drop the lock at once, so a reload never
    /// waits for a request and no reader sees half a file.
    current: RwLock<Arc<T>>,
    /// `None` for the built-in value: nothing to reload.
    file: Option<PathBuf>,
}

impl<T> InForce<T> {
    /// `read(file)`, or `builtin()` without a file.
    pub fn load(
        file: Option<&Path>,
        read: impl FnOnce(&Path) -> Result<T, String>,
        builtin: impl FnOnce() -> T,
    ) -> Result<Self, String> {
        let value = match file {
            Some(path) => read(path)?,
            None => builtin(),
        };
        Ok(InForce {
            current: RwLock::new(Arc::new(value)),
            file: file.map(Path::to_owned),
        })
    }

    /// The value in force now.
    pub fn current(&self) -> Arc<T> {
        self.current.read().clone()
    }

    /// Reads the file again with `read` and puts the result in force;
    /// `Ok(None)` without a file. On an error the value in force stays.
    pub fn reload(
        &self,
        read: impl FnOnce(&Path) -> Result<T, String>,
    ) -> Result<Option<Arc<T>>, String> {
        let Some(path) = &self.file else {
            return Ok(None);
        };
        let value = Arc::new(read(path)?);
        *self.current.write() = value.clone();
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_labelled_with_their_line() {
        let text = "# top\n[[key]]\nname = \"a\"\n\n  [[key]]  \nname = \"b\"\n";
        assert_eq!(entry_label(text, "key", 1, "b"), "key[1] (\"b\", line 5)");
        assert_eq!(entry_label(text, "key", 2, "c"), "key[2] (\"c\", line 0)");
    }
}
