//! The command line, parsed by hand: four commands and six options need no crate.

use std::ffi::OsString;
use std::path::PathBuf;

/// `oauth2cc --help`.
pub const HELP: &str = "\
oauth2cc: OAuth 2.0 client-credentials tokens for shell scripts

Usage: oauth2cc [OPTIONS] COMMAND

Commands:
  token       print the access token
  header      print 'Authorization: Bearer <token>', for curl -H; a DPoP-bound
              token (OAUTH2CC_DPOP=1) prints 'Authorization: DPoP <token>' and
              a second line 'DPoP: <proof>' for --method and --url
  json        print the token response as JSON: access_token, token_type,
              expires_in, expires_at (unix seconds), scope (null when unknown)
  get URL     GET URL with the token and print the body (on a 401 the token is
              refreshed and the request sent once more)

Options:
  --config FILE     read the configuration from this JSON file (keys client_id,
                    client_secret, token_url, scope, timeout_ms, cache_file, ...)
                    instead of the environment
  --no-cache        do not keep the token in a cache file
  --timeout-ms MS   timeout of each request, in milliseconds (default 30000)
  --method M        header: the method of the request the DPoP proof is for
                    (default GET)
  --url U           header: the URL of the request the DPoP proof is for
                    (required when the token is DPoP-bound)
  -v, --verbose     get: print the HTTP status on stderr
  -f, --fail        get: exit 22 when the API answers 400 or more (the body is
                    still printed)
  -h, --help        print this help
  -V, --version     print the version

Environment (without --config), as oauth2cc_config_from_env reads it:
  OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET   the client credentials (required)
  OAUTH2CC_TOKEN_URL                           the token endpoint
  OAUTH2CC_SCOPE                               the scope to ask for
  and every other OAUTH2CC_* variable the library reads.

Cache: the token is kept in $XDG_CACHE_HOME/oauth2cc/ (else ~/.cache/oauth2cc/,
on Windows %LOCALAPPDATA%\\oauth2cc\\), one file per token URL, client id and
scope, created 0600 in a 0700 folder, without the client secret; repeated calls
reuse the token until it is about to expire. A cache_file in the configuration
takes precedence; --no-cache turns caching off.

Exit status:
  0        success
  1-13     the library's status (OAUTH2CC_STATUS_*): 2 configuration,
           3 the token endpoint answered 400 (e.g. invalid_client), 4 it answered
           401, 5 rate limited (429), 6 server error (5xx), 7 another HTTP status,
           8 timeout, 9 network, 10 TLS, 11 invalid response
  22       get --fail: the API answered 400 or more
  64       bad command line
  74       stdout could not be written

Examples:
  export OAUTH2CC_CLIENT_ID=... OAUTH2CC_CLIENT_SECRET=...
  export OAUTH2CC_TOKEN_URL=https://accounts.spotify.com/api/token
  curl -H \"$(oauth2cc header)\" https://api.spotify.com/v1/browse/new-releases
  oauth2cc get https://api.spotify.com/v1/browse/new-releases | jq .
  oauth2cc json | jq -r .expires_at
  oauth2cc --config ~/.config/oauth2cc/keycloak.json token
";

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print the access token.
    Token,
    /// Print the `Authorization` header line.
    Header,
    /// Print the token as JSON.
    Json,
    /// GET a URL with the token.
    Get {
        /// The URL.
        url: String,
    },
}

/// The command and its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub command: Command,
    pub config_file: Option<PathBuf>,
    pub no_cache: bool,
    pub timeout_ms: Option<u32>,
    pub verbose: bool,
    pub fail: bool,
    /// `header`: the request a DPoP proof is made for.
    pub method: Option<String>,
    pub url: Option<String>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Options),
    Help,
    Version,
}

/// Parses the arguments (without the program name). Options may come before or after the
/// command; `--name value` and `--name=value` both work; `--` ends the options.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    let mut words: Vec<String> = Vec::new();
    let mut config_file = None;
    let mut no_cache = false;
    let mut timeout_ms = None;
    let mut verbose = false;
    let mut fail = false;
    let mut method = None;
    let mut url = None;
    let mut only_words = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // --config takes a path, which need not be UTF-8.
        if !only_words && (arg == "--config" || arg.to_string_lossy().starts_with("--config=")) {
            let path = if arg == "--config" {
                args.next().ok_or("--config needs a file")?
            } else {
                let text = arg
                    .into_string()
                    .map_err(|_| "--config=FILE: use --config FILE for a path that is not UTF-8")?;
                OsString::from(&text["--config=".len()..])
            };
            config_file = Some(PathBuf::from(path));
            continue;
        }
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument is not UTF-8: {}", a.to_string_lossy()))?;
        if only_words || !arg.starts_with('-') || arg == "-" {
            words.push(arg);
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let takes_no_value = |flag: &mut bool| {
            if inline.is_some() {
                Err(format!("{name} takes no value"))
            } else {
                *flag = true;
                Ok(())
            }
        };
        match name {
            "--" => only_words = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--no-cache" => takes_no_value(&mut no_cache)?,
            "-v" | "--verbose" => takes_no_value(&mut verbose)?,
            "-f" | "--fail" => takes_no_value(&mut fail)?,
            "--method" | "--url" => {
                let text = match inline {
                    Some(text) => text,
                    None => args
                        .next()
                        .and_then(|a| a.into_string().ok())
                        .ok_or(format!("{name} needs a value"))?,
                };
                *(if name == "--url" {
                    &mut url
                } else {
                    &mut method
                }) = Some(text);
            }
            "--timeout-ms" => {
                let text = match inline {
                    Some(text) => text,
                    None => args
                        .next()
                        .and_then(|a| a.into_string().ok())
                        .ok_or("--timeout-ms needs a number of milliseconds")?,
                };
                let ms: u32 = text
                    .parse()
                    .ok()
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| format!("--timeout-ms: not a positive number: {text:?}"))?;
                timeout_ms = Some(ms);
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }

    let mut words = words.into_iter();
    let command = match words.next().as_deref() {
        None => return Err("no command: token, header, json or get URL".to_owned()),
        Some("token") => Command::Token,
        Some("header") => Command::Header,
        Some("json") => Command::Json,
        Some("get") => Command::Get {
            url: words.next().ok_or("get needs a URL")?,
        },
        Some(other) => return Err(format!("unknown command {other:?}")),
    };
    if let Some(extra) = words.next() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    Ok(Parsed::Run(Options {
        command,
        config_file,
        no_cache,
        timeout_ms,
        verbose,
        fail,
        method,
        url,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Parsed, String> {
        parse(args.iter().map(OsString::from))
    }

    fn options(args: &[&str]) -> Options {
        match parse_str(args) {
            Ok(Parsed::Run(options)) => options,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn commands_and_options_in_any_order() {
        let o = options(&["-v", "get", "https://api.example/x", "--no-cache", "--fail"]);
        assert_eq!(
            o.command,
            Command::Get {
                url: "https://api.example/x".into()
            }
        );
        assert!(o.verbose && o.no_cache && o.fail);
        let o = options(&["header", "--method=POST", "--url", "https://api.example/x"]);
        assert_eq!(o.command, Command::Header);
        assert_eq!(o.method.as_deref(), Some("POST"));
        assert_eq!(o.url.as_deref(), Some("https://api.example/x"));
        let o = options(&["token", "--config=/etc/c.json", "--timeout-ms", "250"]);
        assert_eq!(o.command, Command::Token);
        assert_eq!(o.config_file, Some(PathBuf::from("/etc/c.json")));
        assert_eq!(o.timeout_ms, Some(250));
        let o = options(&["--config", "c.json", "json"]);
        assert_eq!(o.config_file, Some(PathBuf::from("c.json")));
        assert!(!o.verbose && !o.no_cache && !o.fail);
        assert_eq!(options(&["header"]).command, Command::Header);
        assert_eq!(
            options(&["get", "--", "-odd"]).command,
            Command::Get { url: "-odd".into() }
        );
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(parse_str(&["token", "--help"]), Ok(Parsed::Help));
        assert_eq!(parse_str(&["-h"]), Ok(Parsed::Help));
        assert_eq!(parse_str(&["-V"]), Ok(Parsed::Version));
    }

    #[test]
    fn mistakes_are_named() {
        let err = |args: &[&str]| parse_str(args).unwrap_err();
        assert!(err(&[]).contains("no command"));
        assert!(err(&["tokens"]).contains("unknown command \"tokens\""));
        assert!(err(&["get"]).contains("get needs a URL"));
        assert!(err(&["token", "extra"]).contains("unexpected argument \"extra\""));
        assert!(err(&["token", "--bogus"]).contains("unknown option \"--bogus\""));
        assert!(err(&["token", "--config"]).contains("--config needs a file"));
        assert!(err(&["token", "--timeout-ms", "0"]).contains("not a positive number"));
        assert!(err(&["token", "--timeout-ms=x"]).contains("not a positive number"));
        assert!(err(&["token", "--no-cache=1"]).contains("takes no value"));
        assert!(err(&["header", "--url"]).contains("--url needs a value"));
    }
}
