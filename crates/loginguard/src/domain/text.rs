//! Which characters a user name or device name may hold.
//!
//! Both are shown to people (the device in "signed out because ... signed in
//! on <device>"), so besides control characters we refuse the invisible and
//! direction-changing ones that could make one name look like another.

/// True for control characters, zero-width and bidirectional formatting
/// characters, and line/paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_spoofing_characters_and_keeps_ordinary_text() {
        for c in [
            '\u{0}', '\n', '\u{7f}', '\u{202E}', '\u{2028}', '\u{200B}', '\u{FEFF}', '\u{2066}',
        ] {
            assert!(is_unsafe(c), "{c:?}");
        }
        for c in ['a', 'é', '사', '🙂', ' ', '-', '\u{00A0}'] {
            assert!(!is_unsafe(c), "{c:?}");
        }
    }
}
