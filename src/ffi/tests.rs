//! The C shell's own rules, checked over every value and every export.

use super::*;

#[test]
fn every_kind_has_a_status_and_every_status_a_name() {
    for (value, status) in oauth2cc_status::ALL.iter().enumerate() {
        assert_eq!(*status as usize, value, "{status:?} sits at its value");
        assert_eq!(oauth2cc_status::try_from(value as c_int), Ok(*status));
        let name = status.name().to_str().unwrap();
        assert!(name.starts_with("OAUTH2CC_STATUS_"), "{name}");
        let header = include_str!("../../include/oauth2cc.h");
        assert!(
            header.contains(&format!("  {name} = {value},")),
            "{name} = {value} is in the header"
        );
    }
    for kind in ErrorKind::ALL {
        let status = oauth2cc_status::from(*kind);
        assert_ne!(status, oauth2cc_status::Ok, "{kind:?}");
        let expected = format!("OAUTH2CC_STATUS_{}", screaming(kind));
        assert_eq!(status.name().to_str().unwrap(), expected, "{kind:?}");
    }
    assert_eq!(ErrorKind::ALL.len() + 1, oauth2cc_status::ALL.len());
    for unknown in [-1, 14, c_int::MAX, c_int::MIN] {
        assert_eq!(oauth2cc_status::try_from(unknown), Err(unknown));
    }
}

#[test]
fn auth_style_constants_are_the_cores_codes() {
    use crate::config::AuthStyle;
    let constants = [
        (config::oauth2cc_auth_style::BASIC, AuthStyle::Basic),
        (config::oauth2cc_auth_style::POST_BODY, AuthStyle::PostBody),
        (config::oauth2cc_auth_style::AUTO, AuthStyle::Auto),
        (
            config::oauth2cc_auth_style::PRIVATE_KEY_JWT,
            AuthStyle::PrivateKeyJwt,
        ),
        (
            config::oauth2cc_auth_style::CLIENT_SECRET_JWT,
            AuthStyle::ClientSecretJwt,
        ),
        (
            config::oauth2cc_auth_style::TLS_CLIENT,
            AuthStyle::TlsClient,
        ),
    ];
    assert_eq!(constants.len(), AuthStyle::ALL.len());
    for (constant, style) in constants {
        assert_eq!(AuthStyle::try_from(constant.0), Ok(style));
    }
}

#[test]
fn a_panic_names_its_export_and_returns_the_fallback() {
    fn oauth2cc_test_panics() -> oauth2cc_status {
        ffi_export!({
            if true {
                panic!("on purpose");
            }
            Ok(())
        })
    }
    fn oauth2cc_test_panics_ptr() -> *const c_char {
        ffi_export!({
            if true {
                panic!("again");
            }
            c"x".as_ptr()
        })
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let status = oauth2cc_test_panics();
    let null = oauth2cc_test_panics_ptr();
    std::panic::set_hook(hook);
    assert_eq!(status, oauth2cc_status::Panic);
    assert!(null.is_null());
    let message = error::oauth2cc_last_error_message();
    // SAFETY: the last-error message is a NUL-terminated string owned by this thread.
    let message = unsafe { CStr::from_ptr(message) }.to_str().unwrap();
    assert_eq!(
        message,
        "bug in oauth2cc: oauth2cc_test_panics_ptr panicked: again"
    );
}

#[test]
fn snprintf_protocol() {
    let mut needed = 0usize;
    let mut buf = [0x55 as c_char; 8];
    // SAFETY: buf is writable for its length; needed is writable.
    let small = unsafe { write_c_buf(b"abcdefgh", buf.as_mut_ptr(), 8, &mut needed, "x") };
    assert_eq!(small.unwrap_err().kind(), ErrorKind::BufferTooSmall);
    assert_eq!(needed, 8);
    assert!(
        buf.iter().all(|&b| b == 0x55),
        "nothing written when too small"
    );
    // SAFETY: as above.
    let fits = unsafe { write_c_buf(b"abcdefg", buf.as_mut_ptr(), 8, std::ptr::null_mut(), "x") };
    fits.unwrap();
    assert_eq!(&buf[..8], b"abcdefg\0".map(|b| b as c_char).as_slice());
    // SAFETY: NULL with 0 asks for the size only.
    let size = unsafe { write_c_buf(b"abc", std::ptr::null_mut(), 0, &mut needed, "x") };
    assert_eq!(size.unwrap_err().kind(), ErrorKind::BufferTooSmall);
    assert_eq!(needed, 3);
    // SAFETY: NULL with a length is refused before any write.
    let bad = unsafe { write_c_buf(b"abc", std::ptr::null_mut(), 4, &mut needed, "x") };
    assert_eq!(bad.unwrap_err().kind(), ErrorKind::InvalidArgument);
}

/// Every `extern "C"` function in `src/ffi/` is `#[no_mangle]`, documented, and runs its
/// body behind `ffi_export!`; no export passes its own name as a string.
#[test]
fn every_export_is_behind_the_boundary() {
    let files = [
        ("mod.rs", include_str!("mod.rs")),
        ("authorization.rs", include_str!("authorization.rs")),
        ("client.rs", include_str!("client.rs")),
        ("config.rs", include_str!("config.rs")),
        ("error.rs", include_str!("error.rs")),
        ("response.rs", include_str!("response.rs")),
    ];
    let mut exports = Vec::new();
    for (file, text) in files {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(at) = line.find("extern \"C\" fn ") else {
                continue;
            };
            if line.trim_start().starts_with("//") {
                continue;
            }
            let name = &line[at + "extern \"C\" fn ".len()..];
            let name = name.split('(').next().unwrap();
            exports.push(name.to_string());
            assert!(name.starts_with("oauth2cc_"), "{file}: {name}");
            assert_eq!(lines[i - 1].trim(), "#[no_mangle]", "{file}: {name}");
            let body_start = (i..lines.len()).find(|&j| lines[j].ends_with('{')).unwrap();
            assert!(
                lines[body_start + 1].trim().starts_with("ffi_export!({"),
                "{file}: {name} must run behind ffi_export!"
            );
        }
        assert!(
            !text.contains(&format!("{}(\"oauth2cc_", "boundary")),
            "{file}"
        );
    }
    let mut declared: Vec<String> = include_str!("../../include/oauth2cc.h")
        .lines()
        .filter(|l| !l.trim_start().starts_with('*') && !l.contains("typedef"))
        .filter_map(|l| {
            let (before, _) = l.split_once('(')?;
            let name = before.rsplit(' ').next()?.trim_start_matches('*');
            name.starts_with("oauth2cc_").then(|| name.to_string())
        })
        .collect();
    exports.sort();
    declared.sort();
    assert_eq!(exports, declared, "exports in src/ffi vs the header");
}
