//! The exit codes: the library's status numbers, so a script can tell a bad secret from a
//! network failure; a few more for the command line itself. README "Command line" has the
//! table; `exit_codes_follow_the_c_status_numbers` in the tests holds it to the header.

use std::process::ExitCode;

use oauth2cc::ErrorKind;

/// Why the tool stops with a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The library failed: the exit code is the C status number (`OAUTH2CC_STATUS_*`, 1-13).
    Status(ErrorKind),
    /// `get --fail` and the API answered 400 or more (curl's `--fail` code).
    HttpFailure,
    /// Bad command line (sysexits' EX_USAGE).
    Usage,
    /// stdout could not be written (sysexits' EX_IOERR).
    Output,
}

/// `get --fail` with an HTTP error.
pub const HTTP_FAILURE: u8 = 22;
/// A bad command line.
pub const USAGE: u8 = 64;
/// stdout could not be written.
pub const OUTPUT: u8 = 74;

impl Exit {
    /// The process exit code.
    pub fn number(self) -> u8 {
        match self {
            Exit::Status(kind) => status_number(kind),
            Exit::HttpFailure => HTTP_FAILURE,
            Exit::Usage => USAGE,
            Exit::Output => OUTPUT,
        }
    }

    /// [`Exit::number`] as an [`ExitCode`].
    pub fn code(self) -> ExitCode {
        ExitCode::from(self.number())
    }
}

/// The C status number of `kind`: `ErrorKind::ALL` lists the kinds in the order of their
/// status codes, which start at 1 (`OAUTH2CC_STATUS_INVALID_ARGUMENT`).
fn status_number(kind: ErrorKind) -> u8 {
    ErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .map_or(1, |i| (i + 1) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_their_c_numbers_and_never_collide_with_the_others() {
        assert_eq!(Exit::Status(ErrorKind::InvalidArgument).number(), 1);
        assert_eq!(Exit::Status(ErrorKind::Config).number(), 2);
        assert_eq!(Exit::Status(ErrorKind::BadRequest).number(), 3);
        assert_eq!(Exit::Status(ErrorKind::Unauthorized).number(), 4);
        assert_eq!(Exit::Status(ErrorKind::Timeout).number(), 8);
        assert_eq!(Exit::Status(ErrorKind::Panic).number(), 13);
        for kind in ErrorKind::ALL {
            let n = Exit::Status(*kind).number();
            assert!((1..HTTP_FAILURE).contains(&n), "{kind:?} -> {n}");
        }
    }
}
