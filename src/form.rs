//! `application/x-www-form-urlencoded` and percent-encoding, both ways. A leaf.
//!
//! Ours, in 50 lines, because the crates that do it are not a better fit: `percent-encoding`
//! (in the tree through ureq) has no form mode (a space as `+`, and `+` read back as a space),
//! and `form_urlencoded` (which has) would be a new crate for these three functions.

/// Percent-encodes `s` onto `out`. Unreserved bytes (`A-Z a-z 0-9 - . _ ~`) stay; with
/// `space_as_plus` (application/x-www-form-urlencoded) a space becomes `+`.
pub(crate) fn percent_encode_into(out: &mut String, s: &str, space_as_plus: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if space_as_plus => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

/// Appends `name=value` (form-encoded) to a form body, with a `&` when it is not the first.
pub(crate) fn form_pair(body: &mut String, name: &str, value: &str) {
    if !body.is_empty() {
        body.push('&');
    }
    percent_encode_into(body, name, true);
    body.push('=');
    percent_encode_into(body, value, true);
}

/// Decodes one form-encoded name or value; `None` for a malformed escape or non-UTF-8.
pub(crate) fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits, checked first: from_str_radix alone accepts "+F".
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}
