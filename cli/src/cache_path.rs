//! Where the token cache file goes by default: one file per (token URL, client id, scope)
//! under the user's cache folder, so repeated shell calls reuse one token.
//!
//! `$XDG_CACHE_HOME/oauth2cc/` (else `$HOME/.cache/oauth2cc/`; on Windows
//! `%LOCALAPPDATA%\oauth2cc\`), created 0700. The file name is a hash, not a secret: the
//! library checks the key stored inside the file and ignores a file that is not this
//! client's, so a collision costs a token request, never a wrong token.

use std::path::PathBuf;

use oauth2cc::{Config, Error};

/// The default cache file for `config`, creating its folder; `None` when there is no home or
/// cache folder to put it in.
pub fn default_for(config: &Config) -> Result<Option<String>, Error> {
    let Some(dir) = cache_dir() else {
        return Ok(None);
    };
    create_private_dir(&dir).map_err(|e| {
        Error::config(format!(
            "cannot create the cache folder {}: {e} (use --no-cache, or set a cache_file)",
            dir.display()
        ))
    })?;
    let key = [
        config.token_url().unwrap_or(""),
        config.client_id(),
        config.scope().unwrap_or(""),
    ]
    .join("\n");
    let file = dir.join(format!("{:016x}.json", fnv1a64(key.as_bytes())));
    match file.into_os_string().into_string() {
        Ok(path) => Ok(Some(path)),
        Err(path) => Err(Error::config(format!(
            "the cache file path {} is not UTF-8 (use --no-cache)",
            PathBuf::from(path).display()
        ))),
    }
}

fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        var("LOCALAPPDATA")
    } else {
        var("XDG_CACHE_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|home| home.join(".cache")))
    };
    base.map(|base| base.join("oauth2cc"))
}

/// Creates `dir` (and its parents) with mode 0700 for the last part. An existing folder is
/// left as it is.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms (unlike `DefaultHasher`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::fnv1a64;

    #[test]
    fn fnv1a64_matches_the_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
