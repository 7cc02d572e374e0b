//! An authorized API request, checked before anything is sent: the method, the caller's
//! headers and the body. Pure; the client adds the `Authorization` header and sends it.

use crate::error::{Error, Result};
use crate::transport::HttpResponse;

/// Headers the caller may not set: the library owns `Authorization`, and the transport
/// computes the others from the URL and the body.
const RESERVED_HEADERS: [(&str, &str); 4] = [
    (
        "authorization",
        "is the library's (it carries the token; use oauth2cc_client_token for another use)",
    ),
    ("content-length", "is computed from the body"),
    ("transfer-encoding", "is chosen by the library"),
    ("host", "is taken from the URL"),
];

/// A checked request: what [`crate::Client::request`] sends, resent as it is after a 401.
#[derive(Debug)]
pub(crate) struct ApiRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl<'a> ApiRequest<'a> {
    /// Checks `method` and `headers`; the URL is checked by the caller. Any problem is
    /// INVALID_ARGUMENT with a message that names it (a header by its name, never its value).
    pub(crate) fn new(
        method: &'a str,
        url: &'a str,
        headers: &'a [(&'a str, &'a str)],
        body: &'a [u8],
    ) -> Result<ApiRequest<'a>> {
        if !is_token(method) {
            return Err(Error::invalid_argument(format!(
                "method {method:?} is not an HTTP method (an RFC 9110 token such as GET or POST)"
            )));
        }
        for (name, value) in headers {
            check_header(name, value)?;
        }
        Ok(ApiRequest {
            method,
            url,
            headers,
            body,
        })
    }
}

/// Splits a `"Name: value"` line into its name and its value without surrounding spaces.
/// The parts are checked by [`ApiRequest::new`].
pub fn split_header_line(line: &str) -> Result<(&str, &str)> {
    let (name, value) = line.split_once(':').ok_or_else(|| {
        let shown: String = line.chars().take(40).collect();
        Error::invalid_argument(format!(
            "header {shown:?} has no colon (expected \"Name: value\")"
        ))
    })?;
    Ok((name, value.trim_matches([' ', '\t'])))
}

fn check_header(name: &str, value: &str) -> Result<()> {
    if !is_token(name) {
        return Err(Error::invalid_argument(format!(
            "header name {name:?} is not a token (letters, digits and !#$%&'*+-.^_`|~)"
        )));
    }
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::invalid_argument(format!(
            "header {name} has a CR, LF or NUL in its value"
        )));
    }
    if let Some((_, why)) = RESERVED_HEADERS
        .iter()
        .find(|(reserved, _)| reserved.eq_ignore_ascii_case(name))
    {
        return Err(Error::invalid_argument(format!("header {name} {why}")));
    }
    Ok(())
}

/// An RFC 9110 token: one or more of `A-Z a-z 0-9 ! # $ % & ' * + - . ^ _ \` | ~`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Whether an API response says the token was not accepted: a 401, or any status with a
/// `WWW-Authenticate: Bearer ... error="invalid_token"` challenge (RFC 6750 §3.1).
pub fn is_token_rejected(response: &HttpResponse) -> bool {
    response.status == 401
        || response.header_values("www-authenticate").any(|challenge| {
            let lower = challenge.to_ascii_lowercase();
            lower.trim_start().starts_with("bearer")
                && lower
                    .replace([' ', '\t'], "")
                    .contains("error=\"invalid_token\"")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn refused(method: &str, headers: &[(&str, &str)]) -> String {
        let e = ApiRequest::new(method, "https://x/", headers, b"").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        e.message().to_string()
    }

    #[test]
    fn methods_are_tokens() {
        for ok in ["GET", "POST", "PATCH", "PROPFIND", "M-SEARCH", "get"] {
            ApiRequest::new(ok, "https://x/", &[], b"").unwrap();
        }
        for bad in ["", "GE T", "GET\r\n", "PO(ST", "G\0"] {
            assert!(refused(bad, &[]).contains("not an HTTP method"), "{bad:?}");
        }
    }

    #[test]
    fn headers_are_checked_by_name_and_value() {
        let ok = [("Content-Type", "application/json"), ("X-Id", "")];
        ApiRequest::new("POST", "https://x/", &ok, b"{}").unwrap();
        assert!(refused("GET", &[("Bad Name", "v")]).contains("not a token"));
        assert!(refused("GET", &[("X", "a\r\nEvil: 1")]).contains("CR, LF or NUL"));
        assert!(refused("GET", &[("X", "a\nb")]).contains("CR, LF or NUL"));
        assert!(refused("GET", &[("X", "a\0b")]).contains("CR, LF or NUL"));
        for reserved in [
            "Authorization",
            "content-length",
            "Transfer-Encoding",
            "HOST",
        ] {
            let message = refused("GET", &[(reserved, "x")]);
            assert!(message.contains(reserved), "{message}");
        }
        assert!(refused("GET", &[("Authorization", "Bearer mine")]).contains("library's"));
    }

    #[test]
    fn header_lines_split_at_the_first_colon() {
        assert_eq!(split_header_line("A: b").unwrap(), ("A", "b"));
        assert_eq!(split_header_line("A:b: c ").unwrap(), ("A", "b: c"));
        assert_eq!(split_header_line("A:").unwrap(), ("A", ""));
        let e = split_header_line("no colon here").unwrap_err();
        assert!(e.message().contains("no colon"), "{}", e.message());
    }

    fn response(status: u16, challenge: Option<&str>) -> HttpResponse {
        HttpResponse {
            status,
            headers: challenge
                .map(|c| vec![("www-authenticate".to_string(), c.to_string())])
                .unwrap_or_default(),
            body: Vec::new(),
        }
    }

    #[test]
    fn a_rejected_token_is_a_401_or_an_invalid_token_challenge() {
        assert!(is_token_rejected(&response(401, None)));
        assert!(is_token_rejected(&response(
            400,
            Some(r#"Bearer realm="api", error="invalid_token", error_description="expired""#)
        )));
        assert!(is_token_rejected(&response(
            403,
            Some(r#"Bearer error = "invalid_token""#)
        )));
        assert!(!is_token_rejected(&response(
            403,
            Some(r#"Bearer error="insufficient_scope""#)
        )));
        assert!(!is_token_rejected(&response(
            400,
            Some(r#"Basic error="invalid_token""#)
        )));
        assert!(!is_token_rejected(&response(200, None)));
    }
}
