//! Strings the library stores: NUL-terminated once (so the C shell can lend them out without
//! copying), validated to hold no NUL, wiped from memory when dropped. [`Secret`] also keeps
//! its content out of `Debug` output.

use std::ffi::CStr;
use std::fmt;

use zeroize::Zeroize;

/// An owned string with a trailing NUL, wiped on drop. Content is UTF-8 without interior NUL.
#[derive(Clone, PartialEq, Eq)]
pub struct Text {
    /// The text followed by exactly one NUL (a valid UTF-8 character): `as_str` is a slice,
    /// with no UTF-8 check on the hot path.
    text: Box<str>,
}

impl Text {
    /// Copies `s`; `None` when it contains a NUL byte.
    pub fn new(s: &str) -> Option<Text> {
        if s.as_bytes().contains(&0) {
            return None;
        }
        let mut owned = String::with_capacity(s.len() + 1);
        owned.push_str(s);
        owned.push('\0');
        Some(Text {
            text: owned.into_boxed_str(),
        })
    }

    /// The text, without the trailing NUL.
    #[inline]
    pub fn as_str(&self) -> &str {
        // The last byte is the one-byte NUL character: a char boundary.
        &self.text[..self.text.len() - 1]
    }

    /// The same bytes, NUL-terminated.
    pub fn as_c_str(&self) -> &CStr {
        CStr::from_bytes_with_nul(self.text.as_bytes()).unwrap_or_default()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.text.len() == 1
    }
}

impl Drop for Text {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.text).into_boxed_bytes();
        bytes.zeroize();
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A [`Text`] that is a credential or a token: `Debug` prints `[redacted]`, there is no
/// `Display`, and the bytes are wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Text);

impl Secret {
    /// Copies `s`; `None` when it contains a NUL byte.
    pub fn new(s: &str) -> Option<Secret> {
        Text::new(s).map(Secret)
    }

    /// The secret itself. Callers must not put it in a message or a log.
    #[inline]
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// The secret, NUL-terminated. Callers must not put it in a message or a log.
    pub fn expose_c_str(&self) -> &CStr {
        self.0.as_c_str()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A `String` wiped on drop (request bodies and headers that carry credentials).
pub type WipedString = zeroize::Zeroizing<String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_rejects_nul() {
        let t = Text::new("héllo").unwrap();
        assert_eq!(t.as_str(), "héllo");
        assert_eq!(t.as_c_str().to_bytes(), "héllo".as_bytes());
        assert!(Text::new("a\0b").is_none());
        assert!(Text::new("").unwrap().is_empty());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2").unwrap();
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.expose(), "hunter2");
    }
}
