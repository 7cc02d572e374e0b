//! A client assertion made by someone else and kept in a file: a Kubernetes projected
//! service-account token, Microsoft Entra workload identity's federated token, a SPIFFE
//! JWT-SVID. The platform rotates the file under the process, so it is read at every token
//! request (never cached), with the library's one bounded file reader, and its text,
//! trimmed, is the `client_assertion` (RFC 7523 §2.2).

use std::path::Path;

use crate::error::{Error, Result};
use crate::secret::WipedString;

/// Largest assertion file read (a Kubernetes token is about 1 KiB; Entra's a few).
pub(crate) const MAX_ASSERTION_FILE_BYTES: u64 = 64 * 1024;

/// The JWT in the file at `path`, surrounding whitespace trimmed, in wiped memory. Missing,
/// unreadable, empty or not a compact JWT (three dot-separated base64url parts whose first
/// is a JSON object): CONFIG naming the path and the reason, never the content.
pub(crate) fn read(path: &Path) -> Result<WipedString> {
    let fail =
        |why: &str| Error::config(format!("client assertion file {}: {why}", path.display()));
    let bytes = crate::files::read_file(path, "client assertion file", MAX_ASSERTION_FILE_BYTES)?;
    let text = bytes.trim_ascii();
    if text.is_empty() {
        return Err(fail("the file is empty"));
    }
    if !is_compact_jwt(text) {
        return Err(fail(
            "the file does not hold a JWT (three base64url parts separated by dots)",
        ));
    }
    // The checks above leave only ASCII: the copy is the whole text, sized once.
    let mut jwt = WipedString::new(String::with_capacity(text.len()));
    jwt.extend(text.iter().map(|&b| char::from(b)));
    Ok(jwt)
}

/// Whether `text` is a compact JWS: three parts of the base64url alphabet separated by
/// dots, the first two non-empty, the header decoding to a JSON object (`{` first).
fn is_compact_jwt(text: &[u8]) -> bool {
    use base64::Engine as _;
    let parts: Vec<&[u8]> = text.split(|&b| b == b'.').collect();
    let base64url = |part: &&[u8]| {
        part.iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    };
    if parts.len() != 3 || !parts.iter().all(base64url) || parts[..2].iter().any(|p| p.is_empty()) {
        return false;
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[0])
        .is_ok_and(|header| header.trim_ascii_start().first() == Some(&b'{'))
}

/// Microsoft Entra workload identity's variables, as the webhook sets them in a pod, read
/// through `var`: the JSON config keys `client_id` (`AZURE_CLIENT_ID`),
/// `client_assertion_file` (`AZURE_FEDERATED_TOKEN_FILE`) and `token_url`
/// (`AZURE_AUTHORITY_HOST`, default `https://login.microsoftonline.com/`, with or without
/// its trailing `/`, + `AZURE_TENANT_ID` + `/oauth2/v2.0/token`). `None` unless the client
/// id, the tenant and the file are all set (non-empty); a tenant that is not a plain name
/// (letters, digits, `-`, `.`) is CONFIG.
pub(crate) fn azure_workload_identity(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Vec<(String, serde_json::Value)>>> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let (Some(client_id), Some(tenant), Some(file)) = (
        get("AZURE_CLIENT_ID"),
        get("AZURE_TENANT_ID"),
        get("AZURE_FEDERATED_TOKEN_FILE"),
    ) else {
        return Ok(None);
    };
    let tenant = tenant.trim();
    if !tenant
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(Error::config(format!(
            "environment variable AZURE_TENANT_ID is not a tenant id or domain: {tenant:?}"
        )));
    }
    let host = get("AZURE_AUTHORITY_HOST")
        .unwrap_or_else(|| "https://login.microsoftonline.com/".to_string());
    let token_url = format!(
        "{}/{tenant}/oauth2/v2.0/token",
        host.trim().trim_end_matches('/')
    );
    Ok(Some(vec![
        ("client_id".into(), client_id.trim().into()),
        ("token_url".into(), token_url.into()),
        ("client_assertion_file".into(), file.into()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use oauth2cc_testkit::temp::TempFile;

    /// A JWT-shaped text (the signature is not checked here: the server checks it).
    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln";

    #[test]
    fn the_text_is_trimmed_and_reread_every_time() {
        let file = TempFile::new("assertion", "jwt", format!("\n  {JWT}\r\n"));
        assert_eq!(read(file.path()).unwrap().as_str(), JWT);
        let rotated = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJuZXcifQ.c2lnMg";
        std::fs::write(file.path(), rotated).unwrap();
        assert_eq!(read(file.path()).unwrap().as_str(), rotated);
    }

    #[test]
    fn missing_empty_or_not_a_jwt_is_config_naming_the_path_not_the_content() {
        let missing = std::env::temp_dir().join("oauth2cc-no-such-assertion.jwt");
        let e = read(&missing).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.message().contains("oauth2cc-no-such-assertion.jwt"),
            "{e}"
        );
        for (content, why) in [
            ("", "empty"),
            (" \n\t", "empty"),
            ("hunter2-not-a-jwt", "does not hold a JWT"),
            ("a.b", "does not hold a JWT"),
            ("aGk.eyJ9.c2ln", "does not hold a JWT"),
            ("eyJ9.e30.c2ln.eA", "does not hold a JWT"),
            ("eyJ9..c2ln", "does not hold a JWT"),
            ("eyJ9.e3+0.c2ln", "does not hold a JWT"),
        ] {
            let file = TempFile::new("assertion", "jwt", content);
            let e = read(file.path()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{content:?}");
            let message = e.message();
            assert!(message.contains(why), "{content:?}: {message}");
            assert!(message.contains(&file.path().display().to_string()));
            if content.len() > 3 {
                assert!(!message.contains(content.trim()), "{message}");
            }
        }
    }
}

#[cfg(test)]
mod request_tests {
    use std::time::SystemTime;

    use oauth2cc_testkit::temp::TempFile;

    use crate::config::{AuthStyle, Config};
    use crate::error::ErrorKind;
    use crate::token::build_token_request;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln";

    fn body(config: &Config) -> crate::error::Result<String> {
        build_token_request(
            config,
            config.auth_style(),
            "https://as.example/token",
            SystemTime::now(),
        )
        .map(|r| r.body.to_string())
    }

    #[test]
    fn the_file_is_the_client_assertion_with_the_client_id_and_replaces_the_secret() {
        let file = TempFile::new("k8s-token", "jwt", format!("{JWT}\n"));
        let mut config = Config::new("entra-app", "s3cret").unwrap();
        config
            .set_client_assertion_file(Some(&file.path().to_string_lossy()))
            .unwrap();
        assert_eq!(config.auth_style(), AuthStyle::PrivateKeyJwt);
        assert_eq!(config.client_assertion_file(), Some(file.path()));
        assert_eq!(
            body(&config).unwrap(),
            format!(
                "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3A\
                 oauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={JWT}\
                 &client_id=entra-app"
            )
        );
        // Rotated: the next request sends the new one.
        let rotated = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJuZXcifQ.bmV3";
        std::fs::write(file.path(), rotated).unwrap();
        assert!(body(&config).unwrap().contains(rotated));
        // An explicit style wins over the file.
        config.set_auth_style(AuthStyle::PostBody);
        assert!(body(&config).unwrap().contains("client_secret=s3cret"));
    }

    #[test]
    fn a_file_mounted_later_is_read_then_and_a_missing_one_is_config() {
        let dir = oauth2cc_testkit::temp::TempDir::new("assertion-later");
        let path = dir.path().join("token");
        let mut config = Config::with_optional_secret("app", None).unwrap();
        config
            .set_client_assertion_file(Some(&path.to_string_lossy()))
            .unwrap();
        let e = body(&config).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains(&path.display().to_string()), "{e}");
        std::fs::write(&path, JWT).unwrap();
        assert!(body(&config).unwrap().contains(JWT));
    }

    #[test]
    fn json_and_environment_keys() {
        let file = TempFile::new("k8s-token", "jwt", JWT);
        let dir = file.path().parent().unwrap();
        let json = serde_json::json!({
            "client_id": "app",
            "token_url": "https://as.example/token",
            "client_assertion_file": file.path().file_name().unwrap().to_string_lossy(),
        });
        let config = Config::from_json_bytes(json.to_string().as_bytes(), dir).unwrap();
        assert_eq!(config.client_assertion_file(), Some(file.path()));
        let path = file.path().to_string_lossy().to_string();
        let vars = [
            ("OAUTH2CC_CLIENT_ID", "app"),
            ("OAUTH2CC_CLIENT_ASSERTION_FILE", path.as_str()),
            ("OAUTH2CC_JWT_BEARER_SUBJECT", "someone"),
        ];
        let config = from(&vars).unwrap();
        assert_eq!(config.client_assertion_file(), Some(file.path()));
        assert_eq!(config.jwt_bearer(), Some(Some("someone")));
    }

    fn from(vars: &[(&str, &str)]) -> crate::error::Result<Config> {
        Config::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn entra_workload_identity_variables() {
        let azure = [
            ("AZURE_CLIENT_ID", "11111111-2222"),
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                "/var/run/secrets/azure/tokens/azure-identity-token",
            ),
            ("OAUTH2CC_SCOPE", "https://graph.microsoft.com/.default"),
        ];
        let config = from(&azure).unwrap();
        assert_eq!(config.client_id(), "11111111-2222");
        assert_eq!(
            config.token_url(),
            Some("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
        );
        assert_eq!(config.scope(), Some("https://graph.microsoft.com/.default"));
        assert_eq!(
            config.client_assertion_file(),
            Some(std::path::Path::new(
                "/var/run/secrets/azure/tokens/azure-identity-token"
            ))
        );
        assert_eq!(config.auth_style(), AuthStyle::PrivateKeyJwt);
        for host in ["http://127.0.0.1:8400", "http://127.0.0.1:8400/"] {
            let mut vars = azure.to_vec();
            vars.push(("AZURE_AUTHORITY_HOST", host));
            assert_eq!(
                from(&vars).unwrap().token_url(),
                Some("http://127.0.0.1:8400/contoso.onmicrosoft.com/oauth2/v2.0/token")
            );
        }
        // OAUTH2CC_CLIENT_ID set: the AZURE_ variables are not read.
        let mut vars = azure.to_vec();
        vars.push(("OAUTH2CC_CLIENT_ID", "own"));
        vars.push(("OAUTH2CC_CLIENT_SECRET", "secret"));
        let config = from(&vars).unwrap();
        assert_eq!(config.client_id(), "own");
        assert_eq!(config.client_assertion_file(), None);
        // Missing one of the three: nothing to go on.
        let e = from(&azure[1..]).unwrap_err();
        assert!(e.message().contains("OAUTH2CC_CLIENT_ID"), "{e}");
        let mut vars = azure.to_vec();
        vars[1] = ("AZURE_TENANT_ID", "../evil");
        assert_eq!(from(&vars).unwrap_err().kind(), ErrorKind::Config);
    }

    #[test]
    fn google_application_credentials() {
        let json =
            crate::jwt_bearer::tests::service_account_json("https://oauth2.googleapis.com/token");
        let file = TempFile::new("sa-key", "json", json);
        let path = file.path().to_string_lossy().to_string();
        let config = from(&[
            ("GOOGLE_APPLICATION_CREDENTIALS", path.as_str()),
            (
                "OAUTH2CC_SCOPE",
                "https://www.googleapis.com/auth/cloud-platform",
            ),
        ])
        .unwrap();
        assert_eq!(config.client_id(), "robot@proj-1.iam.gserviceaccount.com");
        assert_eq!(
            config.scope(),
            Some("https://www.googleapis.com/auth/cloud-platform")
        );
        assert_eq!(config.jwt_bearer(), Some(None));
    }
}
