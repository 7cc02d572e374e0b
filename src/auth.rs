//! Client authentication: how the client proves who it is to the token endpoint. The one
//! owner of these facts: the methods and their names (for the JSON file, the environment and
//! messages) and C numbers, the data each method needs, what each puts on the wire, and the
//! forms in which its secrets travel (for scrubbing error messages).

use base64::Engine as _;

use crate::form::{form_pair, percent_encode_into};
use crate::secret::{Secret, WipedString};

/// Declares [`AuthStyle`] and its table (name and C number per method) in one place, so that
/// a new method is one line here plus the match arms the compiler then asks for.
macro_rules! auth_styles {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// How the client authenticates to the token endpoint.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        pub enum AuthStyle {
            $( $(#[$doc])* $variant, )*
        }

        impl AuthStyle {
            /// Every style, in the order of their C numbers.
            pub const ALL: &'static [AuthStyle] = &[$(AuthStyle::$variant),*];

            /// The style's name in the JSON file, the environment and messages.
            pub fn name(self) -> &'static str {
                match self { $(AuthStyle::$variant => $name,)* }
            }

            /// The style's number in the C API (`OAUTH2CC_AUTH_STYLE_*`).
            pub fn code(self) -> u32 {
                match self { $(AuthStyle::$variant => $code,)* }
            }
        }
    };
}

auth_styles! {
    /// `Authorization: Basic base64(pctenc(id):pctenc(secret))` (RFC 6749 §2.3.1). Default.
    #[default]
    Basic = 0, "basic";
    /// `client_id` and `client_secret` in the form body.
    PostBody = 1, "post_body";
    /// Basic first; on a 400/401 `invalid_client`, the body once. A client remembers the winner.
    Auto = 2, "auto";
}

impl AuthStyle {
    /// The style named `name` (as in the JSON file and the environment).
    pub fn from_name(name: &str) -> Option<AuthStyle> {
        AuthStyle::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// Every name, quoted and comma-separated, for messages: `"basic", "post_body", "auto"`.
    pub fn names() -> String {
        let quoted: Vec<String> = AuthStyle::ALL
            .iter()
            .map(|s| format!("\"{}\"", s.name()))
            .collect();
        quoted.join(", ")
    }

    /// The styles one token request tries, in order: Auto is Basic, then the body once.
    pub(crate) fn attempts(self) -> &'static [AuthStyle] {
        match self {
            AuthStyle::Basic => &[AuthStyle::Basic],
            AuthStyle::PostBody => &[AuthStyle::PostBody],
            AuthStyle::Auto => &[AuthStyle::Basic, AuthStyle::PostBody],
        }
    }
}

/// The C number of a style (`OAUTH2CC_AUTH_STYLE_*`); any other number is an error.
impl TryFrom<u32> for AuthStyle {
    type Error = u32;

    fn try_from(code: u32) -> Result<AuthStyle, u32> {
        AuthStyle::ALL
            .iter()
            .copied()
            .find(|s| s.code() == code)
            .ok_or(code)
    }
}

/// A method with the data it needs: the style and the client secret it sends. Cheap to
/// clone; the secret is wiped on drop and never printed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct ClientAuth {
    style: AuthStyle,
    client_secret: Secret,
}

impl ClientAuth {
    /// `style` with `secret`.
    pub(crate) fn new(style: AuthStyle, client_secret: Secret) -> ClientAuth {
        ClientAuth {
            style,
            client_secret,
        }
    }

    pub(crate) fn style(&self) -> AuthStyle {
        self.style
    }

    /// The same credentials with another style.
    pub(crate) fn set_style(&mut self, style: AuthStyle) {
        self.style = style;
    }

    /// Adds the credentials of one attempt (`style` is Basic or PostBody, from
    /// [`AuthStyle::attempts`]) to a token request: a header, or form fields after the rest.
    pub(crate) fn apply(
        &self,
        style: AuthStyle,
        client_id: &str,
        headers: &mut Vec<(&'static str, WipedString)>,
        body: &mut String,
    ) {
        match style {
            AuthStyle::PostBody => {
                form_pair(body, "client_id", client_id);
                form_pair(body, "client_secret", self.client_secret.expose());
            }
            AuthStyle::Basic | AuthStyle::Auto => headers.push((
                "Authorization",
                basic_authorization(client_id, self.client_secret.expose()),
            )),
        }
    }

    /// Every form in which these credentials travel, for scrubbing what a server echoes: the
    /// secret raw, percent-encoded as in the Basic header and as in a form body, and the
    /// Basic credentials' base64.
    pub(crate) fn secret_forms(&self, client_id: &str) -> Vec<WipedString> {
        let secret = self.client_secret.expose();
        let mut forms = vec![WipedString::new(secret.to_owned())];
        for space_as_plus in [false, true] {
            let mut encoded = WipedString::default();
            percent_encode_into(&mut encoded, secret, space_as_plus);
            forms.push(encoded);
        }
        let basic = basic_authorization(client_id, secret);
        forms.push(WipedString::new(basic["Basic ".len()..].to_owned()));
        forms
    }
}

/// `Basic base64(pctenc(id) ":" pctenc(secret))`: RFC 6749 §2.3.1, with every byte outside
/// `A-Z a-z 0-9 - . _ ~` as `%XX` (a space is `%20`, never `+`).
pub(crate) fn basic_authorization(id: &str, secret: &str) -> WipedString {
    let mut plain = WipedString::new(String::with_capacity(id.len() + secret.len() + 1));
    percent_encode_into(&mut plain, id, false);
    plain.push(':');
    percent_encode_into(&mut plain, secret, false);
    let mut header = WipedString::new(String::with_capacity(6 + plain.len() * 4 / 3 + 4));
    header.push_str("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(plain.as_bytes(), &mut header);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip_for_every_style() {
        for (i, style) in AuthStyle::ALL.iter().enumerate() {
            assert_eq!(
                style.code() as usize,
                i,
                "{style:?}: codes are dense, in order"
            );
            assert_eq!(AuthStyle::try_from(style.code()), Ok(*style));
            assert_eq!(AuthStyle::from_name(style.name()), Some(*style));
            assert!(AuthStyle::names().contains(&format!("\"{}\"", style.name())));
        }
        let past_the_end = AuthStyle::ALL.len() as u32;
        assert_eq!(AuthStyle::try_from(past_the_end), Err(past_the_end));
        assert_eq!(AuthStyle::try_from(u32::MAX), Err(u32::MAX));
        assert_eq!(AuthStyle::from_name("Basic"), None);
        assert_eq!(AuthStyle::default(), AuthStyle::Basic);
    }

    #[test]
    fn every_attempt_is_a_concrete_style() {
        for style in AuthStyle::ALL {
            for attempt in style.attempts() {
                assert_eq!(
                    attempt.attempts(),
                    &[*attempt],
                    "{style:?} tries {attempt:?}"
                );
            }
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let auth = ClientAuth::new(AuthStyle::Basic, Secret::new("hunter2-secret").unwrap());
        let d = format!("{auth:?}");
        assert!(d.contains("Basic") && !d.contains("hunter2"), "{d}");
    }
}
