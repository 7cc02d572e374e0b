//! `oauth2cc`: OAuth 2.0 client-credentials tokens for shell scripts, on top of the oauth2cc
//! library. `oauth2cc --help` says what it does; README "Command line" has the exit codes.

mod args;
mod cache_path;
mod exit;

use std::io::Write as _;
use std::process::ExitCode;

use oauth2cc::{Client, Config, Error, Token};

use args::{Command, Options};
use exit::Exit;

fn main() -> ExitCode {
    let options = match args::parse(std::env::args_os().skip(1)) {
        Ok(args::Parsed::Run(options)) => options,
        Ok(args::Parsed::Help) => {
            return finish(write_stdout(args::HELP.as_bytes()));
        }
        Ok(args::Parsed::Version) => {
            let line = format!("oauth2cc {}\n", env!("CARGO_PKG_VERSION"));
            return finish(write_stdout(line.as_bytes()));
        }
        Err(message) => {
            eprintln!("oauth2cc: {message}\nTry 'oauth2cc --help'.");
            return Exit::Usage.code();
        }
    };
    finish(run(&options))
}

/// The exit code for a result, after reporting an error on stderr.
fn finish(result: Result<(), Exit>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => exit.code(),
    }
}

fn run(options: &Options) -> Result<(), Exit> {
    let config = load_config(options).map_err(report)?;
    let client = Client::new(&config).map_err(report)?;
    match &options.command {
        Command::Token => {
            let token = client.token().map_err(report)?;
            let mut line = token.access_token().expose().to_owned();
            line.push('\n');
            write_stdout(line.as_bytes())
        }
        Command::Header => {
            let token = client.token().map_err(report)?;
            let mut line = String::from("Authorization: ");
            line.push_str(&token.authorization_header());
            line.push('\n');
            if token.token_type().as_str() == "DPoP" {
                // A bound token is useless without a proof for the request it goes with.
                let Some(url) = options.url.as_deref() else {
                    eprintln!(
                        "oauth2cc: the token is DPoP-bound: header needs --url (and \
                         --method unless GET) for its DPoP proof"
                    );
                    return Err(Exit::Usage);
                };
                let method = options.method.as_deref().unwrap_or("GET");
                let proof = client
                    .dpop_proof(method, url, Some(token.access_token().expose()))
                    .map_err(report)?;
                line.push_str("DPoP: ");
                line.push_str(&proof);
                line.push('\n');
            }
            write_stdout(line.as_bytes())
        }
        Command::Json => {
            let token = client.token().map_err(report)?;
            let mut text = token_json(&token);
            text.push('\n');
            write_stdout(text.as_bytes())
        }
        Command::Get { url } => {
            let response = client.get(url).map_err(report)?;
            if options.verbose {
                eprintln!("oauth2cc: GET {url}: HTTP {}", response.status);
            }
            write_stdout(&response.body)?;
            if options.fail && response.status >= 400 {
                eprintln!("oauth2cc: GET {url}: HTTP {}", response.status);
                return Err(Exit::HttpFailure);
            }
            Ok(())
        }
    }
}

/// The configuration: `--config FILE` or the `OAUTH2CC_*` variables, then the command
/// line's `--timeout-ms`, then the cache file (the configured one, or the default one unless
/// `--no-cache`).
fn load_config(options: &Options) -> Result<Config, Error> {
    let mut config = match &options.config_file {
        Some(path) => Config::from_file(path)?,
        None => Config::from_env()?,
    };
    if let Some(ms) = options.timeout_ms {
        config.set_timeout_ms(ms)?;
    }
    if options.no_cache {
        config.set_cache_file(None)?;
    } else if config.cache_file().is_none() {
        if let Some(path) = cache_path::default_for(&config)? {
            config.set_cache_file(Some(&path))?;
        }
    }
    Ok(config)
}

/// The token response as one line of JSON, keys in the order of RFC 6749 §5.1 (serde_json's
/// map would sort them); `null` for what the server did not say.
fn token_json(token: &Token) -> String {
    let string = |s: &str| serde_json::Value::from(s).to_string();
    let number = |n: Option<i64>| n.map_or("null".to_owned(), |n| n.to_string());
    format!(
        r#"{{"access_token":{},"token_type":{},"expires_in":{},"expires_at":{},"scope":{}}}"#,
        string(token.access_token().expose()),
        string(token.token_type().as_str()),
        number(token.expires_in()),
        number(token.expires_at()),
        token
            .scope()
            .map_or("null".to_owned(), |s| string(s.as_str())),
    )
}

/// Reports a library error on stderr (never a secret: the library's messages hold none) and
/// picks its exit code.
fn report(error: Error) -> Exit {
    let mut line = format!("oauth2cc: {error}");
    if let Some(seconds) = error.retry_after() {
        line.push_str(&format!(" (retry after {seconds} s)"));
    }
    eprintln!("{line}");
    Exit::Status(error.kind())
}

/// Writes all of `bytes` to stdout; a closed or full stdout is [`Exit::Output`].
fn write_stdout(bytes: &[u8]) -> Result<(), Exit> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("oauth2cc: cannot write to stdout: {e}");
            }
            Exit::Output
        })
}
