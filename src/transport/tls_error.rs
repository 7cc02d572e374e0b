//! Plain-language messages for TLS failures: which host, and what was wrong with its
//! certificate or handshake.

use rustls::{CertificateError, Error as TlsError};

/// Finds the rustls error inside a ureq error, if there is one: our TLS transport (module
/// `tls`) reports rustls's failures inside an `io::Error`, as ureq's rustls transport did.
pub(crate) fn find(e: &ureq::Error) -> Option<&TlsError> {
    match e {
        ureq::Error::Io(io) => io.get_ref().and_then(|inner| inner.downcast_ref()),
        _ => None,
    }
}

/// "TLS: certificate for HOST is not trusted (unknown issuer; ...)" and the like. `peer`
/// names the host being verified (or "HOST or proxy P" through a TLS proxy); `trust` says
/// which roots were trusted.
pub(crate) fn describe(e: &TlsError, peer: &str, trust: &str) -> String {
    match e {
        TlsError::InvalidCertificate(cert) => describe_certificate(cert, peer, trust),
        TlsError::AlertReceived(alert) => {
            format!("TLS: {peer} refused the handshake (alert {alert:?})")
        }
        TlsError::PeerIncompatible(why) => {
            format!("TLS: {peer} has no TLS version or cipher suite in common with us ({why:?})")
        }
        TlsError::InvalidMessage(_) | TlsError::InappropriateMessage { .. } => {
            format!("TLS: {peer} did not answer with TLS ({e}); is it a plain http:// endpoint?")
        }
        TlsError::NoCertificatesPresented => {
            format!("TLS: {peer} presented no certificate")
        }
        other => format!("TLS: handshake with {peer} failed: {other}"),
    }
}

fn describe_certificate(e: &CertificateError, peer: &str, trust: &str) -> String {
    use CertificateError as C;
    let what = match e {
        C::UnknownIssuer => format!("is not trusted (unknown issuer; trusted roots: {trust})"),
        C::NotValidForName => "does not match that name".to_string(),
        C::NotValidForNameContext { presented, .. } => {
            let names: Vec<String> = presented.iter().map(|n| tidy_name(n)).collect();
            if names.is_empty() {
                "does not match that name (it names no host)".to_string()
            } else {
                format!("does not match that name (it is for {})", names.join(", "))
            }
        }
        C::Expired => "has expired".to_string(),
        C::ExpiredContext { not_after, .. } => format!(
            "has expired (valid until {})",
            utc_date(not_after.as_secs())
        ),
        C::NotValidYet => "is not valid yet".to_string(),
        C::NotValidYetContext { not_before, .. } => format!(
            "is not valid yet (valid from {})",
            utc_date(not_before.as_secs())
        ),
        C::Revoked => "has been revoked".to_string(),
        C::BadSignature => "has a bad signature".to_string(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "is not meant for TLS servers (extended key usage)".to_string()
        }
        C::BadEncoding => "is malformed".to_string(),
        other => format!("was rejected ({other})"),
    };
    format!("TLS: certificate for {peer} {what}")
}

/// `DnsName("a.example")` -> `a.example`; `IpAddress(127.0.0.1)` -> `127.0.0.1`.
fn tidy_name(presented: &str) -> String {
    let inner = presented
        .strip_prefix("DnsName(\"")
        .and_then(|s| s.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|s| s.strip_suffix(')'))
        });
    inner.unwrap_or(presented).to_string()
}

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the Unix epoch.
fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{ServerName, UnixTime};
    use std::time::Duration;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc_date(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }

    fn cert(e: CertificateError) -> String {
        describe(
            &TlsError::InvalidCertificate(e),
            "127.0.0.1",
            "CA file /x.pem",
        )
    }

    #[test]
    fn certificate_messages_name_the_host_and_the_fault() {
        assert_eq!(
            cert(CertificateError::UnknownIssuer),
            "TLS: certificate for 127.0.0.1 is not trusted (unknown issuer; trusted roots: CA file /x.pem)"
        );
        assert_eq!(
            cert(CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("127.0.0.1").unwrap(),
                presented: vec![
                    "DnsName(\"other.example\")".into(),
                    "IpAddress(10.0.0.1)".into()
                ],
            }),
            "TLS: certificate for 127.0.0.1 does not match that name (it is for other.example, 10.0.0.1)"
        );
        assert_eq!(
            cert(CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(Duration::from_secs(1_700_086_400)),
                not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
            }),
            "TLS: certificate for 127.0.0.1 has expired (valid until 2023-11-14 22:13:20 UTC)"
        );
        assert!(cert(CertificateError::NotValidYet).ends_with("is not valid yet"));
        assert!(cert(CertificateError::Revoked).ends_with("has been revoked"));
    }

    #[test]
    fn handshake_messages() {
        let alert = describe(
            &TlsError::AlertReceived(rustls::AlertDescription::HandshakeFailure),
            "h.example",
            "",
        );
        assert_eq!(
            alert,
            "TLS: h.example refused the handshake (alert HandshakeFailure)"
        );
        let plain = describe(
            &TlsError::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
            "h.example",
            "",
        );
        assert!(plain.contains("plain http://"), "{plain}");
    }
}
