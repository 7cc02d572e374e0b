//! Plain-language messages for TLS failures: which host, what was wrong with its certificate
//! or handshake, or what went wrong on an established connection, and what to do about it.
//! Never a Rust `Debug` string: rustls's enum names are turned into words ([`words`]).

use rustls::{CertificateError, Error as TlsError};

use super::tls::{Phase, TlsFailure};

/// Finds the TLS failure inside a ureq error, if there is one: our TLS transport (module
/// `tls`) reports rustls's failures inside an `io::Error`, with the phase they happened in.
pub(crate) fn find(e: &ureq::Error) -> Option<&TlsFailure> {
    match e {
        ureq::Error::Io(io) => io.get_ref().and_then(|inner| inner.downcast_ref()),
        _ => None,
    }
}

/// "TLS: certificate for HOST is not trusted (unknown issuer; ...)" and the like. `peer`
/// names the host being verified (or "HOST or proxy P" through a TLS proxy); `trust` says
/// which roots were trusted.
pub(crate) fn describe(failure: &TlsFailure, peer: &str, trust: &str) -> String {
    let e = &failure.error;
    if let TlsError::InvalidCertificate(cert) = e {
        return describe_certificate(cert, peer, trust);
    }
    if failure.phase == Phase::Established {
        return match e {
            TlsError::AlertReceived(alert) => format!(
                "TLS: {peer} ended the connection with an alert ({})",
                words(alert)
            ),
            other => format!(
                "TLS: {peer} broke the TLS protocol on an established connection ({}); \
                 the connection was dropped",
                error_words(other)
            ),
        };
    }
    match e {
        TlsError::AlertReceived(alert) => {
            format!(
                "TLS: {peer} refused the handshake (alert: {})",
                words(alert)
            )
        }
        TlsError::PeerIncompatible(why) => format!(
            "TLS: {peer} has no TLS version or cipher suite in common with us ({})",
            words(why)
        ),
        TlsError::InvalidMessage(_)
        | TlsError::InappropriateMessage { .. }
        | TlsError::InappropriateHandshakeMessage { .. } => format!(
            "TLS: {peer} did not answer with TLS ({}); is it a plain http:// endpoint?",
            error_words(e)
        ),
        TlsError::NoCertificatesPresented => format!("TLS: {peer} presented no certificate"),
        other => format!("TLS: handshake with {peer} failed: {}", error_words(other)),
    }
}

/// A rustls error other than a certificate's, in words.
fn error_words(e: &TlsError) -> String {
    match e {
        TlsError::InvalidMessage(why) => format!("a malformed TLS message: {}", words(why)),
        TlsError::InappropriateMessage { got_type, .. } => {
            format!("an unexpected TLS message ({})", words(got_type))
        }
        TlsError::InappropriateHandshakeMessage { got_type, .. } => {
            format!("an unexpected handshake message ({})", words(got_type))
        }
        TlsError::PeerMisbehaved(why) => words(why),
        TlsError::PeerIncompatible(why) => words(why),
        TlsError::AlertReceived(alert) => format!("alert: {}", words(alert)),
        TlsError::PeerSentOversizedRecord => "a TLS record larger than the protocol allows".into(),
        TlsError::DecryptError => "a record that does not decrypt (forged or damaged)".into(),
        TlsError::EncryptError => "a record could not be encrypted".into(),
        TlsError::NoCertificatesPresented => "no certificate presented".into(),
        TlsError::UnsupportedNameType => "a server name of an unsupported type".into(),
        TlsError::FailedToGetCurrentTime => "the system clock could not be read".into(),
        TlsError::FailedToGetRandomBytes => "the system gave no random bytes".into(),
        TlsError::HandshakeNotComplete => "the handshake did not complete".into(),
        TlsError::NoApplicationProtocol => "no application protocol in common".into(),
        TlsError::BadMaxFragmentSize => "a bad maximum fragment size".into(),
        TlsError::InconsistentKeys(why) => {
            format!(
                "the client certificate does not match its key ({})",
                words(why)
            )
        }
        TlsError::InvalidCertRevocationList(why) => {
            format!("an unusable certificate revocation list ({})", words(why))
        }
        TlsError::InvalidEncryptedClientHello(why) => {
            format!("encrypted client hello failed ({})", words(why))
        }
        // Ours (a client key rustls cannot use), already in words.
        TlsError::General(why) => why.clone(),
        TlsError::InvalidCertificate(cert) => words(cert),
        other => words(other),
    }
}

fn describe_certificate(e: &CertificateError, peer: &str, trust: &str) -> String {
    use CertificateError as C;
    let what = match e {
        C::UnknownIssuer => format!(
            "is not trusted (unknown issuer; trusted roots: {trust}); give the CA that signed \
             it as the CA file"
        ),
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
            "is not valid yet (valid from {}; is the clock right?)",
            utc_date(not_before.as_secs())
        ),
        C::Revoked => "has been revoked".to_string(),
        C::UnknownRevocationStatus => "has an unknown revocation status".to_string(),
        C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
            "could not be checked: the revocation list has expired".to_string()
        }
        C::BadSignature => "has a bad signature".to_string(),
        #[allow(deprecated)]
        C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "is signed with an algorithm we do not support".to_string()
        }
        C::UnhandledCriticalExtension => {
            "has a critical extension we do not understand".to_string()
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "is not meant for TLS servers (extended key usage)".to_string()
        }
        C::InvalidOcspResponse => "came with an invalid OCSP response".to_string(),
        C::ApplicationVerificationFailure => "was refused by the verifier".to_string(),
        C::BadEncoding => "is malformed".to_string(),
        C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => format!(
                "is a CA certificate (CA:TRUE), not a server's, and is not itself trusted \
                 (trusted roots: {trust}); if it is the server's own self-signed certificate, \
                 give exactly that certificate as the CA file"
            ),
            Some(webpki::Error::EndEntityUsedAsCa) => {
                "chain uses a server certificate as a CA".to_string()
            }
            Some(webpki::Error::PathLenConstraintViolated) => {
                "chain is longer than a CA in it allows".to_string()
            }
            Some(webpki::Error::NameConstraintViolation) => {
                "names a host its CA may not issue for (name constraints)".to_string()
            }
            Some(webpki::Error::MaximumPathDepthExceeded)
            | Some(webpki::Error::MaximumPathBuildCallsExceeded) => {
                "chain is too long or tangled to verify".to_string()
            }
            Some(found) => format!("was rejected ({})", words(found)),
            None => format!("was rejected ({})", words(&other.0.to_string())),
        },
        other => format!("was rejected ({})", words(other)),
    };
    format!("TLS: certificate for {peer} {what}")
}

/// An enum value as words, for messages: `CaUsedAsEndEntity` -> `ca used as end entity`,
/// `PeerIncompatible(NoCipherSuitesInCommon)` -> `no cipher suites in common` (the outer
/// name is the kind, said by the message already, when it wraps one value), punctuation gone.
pub(crate) fn words(value: &dyn std::fmt::Debug) -> String {
    let debug = format!("{value:?}");
    // `Outer(Inner)`: the inner value says what happened.
    let inner = match (debug.find('('), debug.ends_with(')')) {
        (Some(open), true)
            if debug[..open].chars().all(|c| c.is_ascii_alphanumeric())
                && debug[open + 1..].starts_with(|c: char| c.is_ascii_uppercase()) =>
        {
            &debug[open + 1..debug.len() - 1]
        }
        _ => debug.as_str(),
    };
    let mut out = String::with_capacity(inner.len() + 8);
    let mut prev: Option<char> = None;
    for c in inner.chars() {
        let c = match c {
            '(' | ')' | '{' | '}' | '"' | '_' => ' ',
            c => c,
        };
        if c.is_ascii_uppercase()
            && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
        {
            out.push(' ');
        }
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            prev = Some(c);
            continue;
        }
        out.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    out.trim_end().to_string()
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

    fn handshake(error: TlsError) -> TlsFailure {
        TlsFailure {
            error,
            phase: Phase::Handshake,
        }
    }

    fn cert(e: CertificateError) -> String {
        describe(
            &handshake(TlsError::InvalidCertificate(e)),
            "127.0.0.1",
            "CA file /x.pem",
        )
    }

    #[test]
    fn certificate_messages_name_the_host_and_the_fault() {
        assert_eq!(
            cert(CertificateError::UnknownIssuer),
            "TLS: certificate for 127.0.0.1 is not trusted (unknown issuer; trusted roots: \
             CA file /x.pem); give the CA that signed it as the CA file"
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
            &handshake(TlsError::AlertReceived(
                rustls::AlertDescription::HandshakeFailure,
            )),
            "h.example",
            "",
        );
        assert_eq!(
            alert,
            "TLS: h.example refused the handshake (alert: handshake failure)"
        );
        let plain = describe(
            &handshake(TlsError::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType,
            )),
            "h.example",
            "",
        );
        assert!(plain.contains("plain http://"), "{plain}");
    }

    /// Whether a message reads as words: no Rust identifier in CamelCase, no `Debug` shapes.
    fn assert_worded(message: &str, what: &str) {
        assert!(message.starts_with("TLS: "), "{what}: {message}");
        for token in message.split(|c: char| !c.is_ascii_alphanumeric()) {
            let humps = token
                .chars()
                .zip(token.chars().skip(1))
                .filter(|(a, b)| a.is_ascii_lowercase() && b.is_ascii_uppercase())
                .count();
            assert_eq!(humps, 0, "{what}: a Rust name in {message:?}");
        }
        for shape in ["Other(", "OtherError", "{ ", "\"", "::"] {
            assert!(!message.contains(shape), "{what}: {shape} in {message:?}");
        }
    }

    #[test]
    #[allow(deprecated)]
    fn every_certificate_error_is_worded_for_a_person() {
        use rustls::pki_types::ServerName;
        let now = UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000));
        let other =
            |e: webpki::Error| CertificateError::Other(rustls::OtherError(std::sync::Arc::new(e)));
        let all = vec![
            CertificateError::BadEncoding,
            CertificateError::Expired,
            CertificateError::ExpiredContext {
                time: now,
                not_after: now,
            },
            CertificateError::NotValidYet,
            CertificateError::NotValidYetContext {
                time: now,
                not_before: now,
            },
            CertificateError::Revoked,
            CertificateError::UnhandledCriticalExtension,
            CertificateError::UnknownIssuer,
            CertificateError::UnknownRevocationStatus,
            CertificateError::ExpiredRevocationList,
            CertificateError::ExpiredRevocationListContext {
                time: now,
                next_update: now,
            },
            CertificateError::BadSignature,
            CertificateError::UnsupportedSignatureAlgorithm,
            CertificateError::NotValidForName,
            CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("a.example").unwrap(),
                presented: vec!["DnsName(\"b.example\")".into()],
            },
            CertificateError::InvalidPurpose,
            CertificateError::InvalidOcspResponse,
            CertificateError::ApplicationVerificationFailure,
            other(webpki::Error::CaUsedAsEndEntity),
            other(webpki::Error::EndEntityUsedAsCa),
            other(webpki::Error::PathLenConstraintViolated),
            other(webpki::Error::NameConstraintViolation),
            other(webpki::Error::MaximumPathDepthExceeded),
            other(webpki::Error::UnsupportedCertVersion),
            other(webpki::Error::TrailingData(webpki::DerTypeId::Certificate)),
        ];
        for e in all {
            let what = format!("{e:?}");
            assert_worded(&cert(e), &what);
        }
        assert!(cert(other(webpki::Error::CaUsedAsEndEntity)).contains("self-signed"));
    }

    #[test]
    fn every_other_tls_error_is_worded_in_both_phases() {
        use rustls::{AlertDescription, InvalidMessage, PeerIncompatible, PeerMisbehaved};
        let all = vec![
            TlsError::InappropriateMessage {
                expect_types: vec![rustls::ContentType::Handshake],
                got_type: rustls::ContentType::ApplicationData,
            },
            TlsError::InappropriateHandshakeMessage {
                expect_types: vec![rustls::HandshakeType::Finished],
                got_type: rustls::HandshakeType::KeyUpdate,
            },
            TlsError::InvalidMessage(InvalidMessage::InvalidContentType),
            TlsError::InvalidMessage(InvalidMessage::MessageTooLarge),
            TlsError::NoCertificatesPresented,
            TlsError::UnsupportedNameType,
            TlsError::DecryptError,
            TlsError::EncryptError,
            TlsError::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
            TlsError::PeerMisbehaved(PeerMisbehaved::KeyEpochWithPendingFragment),
            TlsError::PeerMisbehaved(PeerMisbehaved::TooManyKeyUpdateRequests),
            TlsError::AlertReceived(AlertDescription::BadRecordMac),
            TlsError::AlertReceived(AlertDescription::Unknown(200)),
            TlsError::General("client key: not a key".into()),
            TlsError::FailedToGetCurrentTime,
            TlsError::FailedToGetRandomBytes,
            TlsError::HandshakeNotComplete,
            TlsError::PeerSentOversizedRecord,
            TlsError::NoApplicationProtocol,
            TlsError::BadMaxFragmentSize,
            TlsError::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch),
            TlsError::InvalidCertRevocationList(rustls::CertRevocationListError::BadSignature),
        ];
        for e in all {
            let what = format!("{e:?}");
            for phase in [Phase::Handshake, Phase::Established] {
                let failure = TlsFailure {
                    error: e.clone(),
                    phase,
                };
                let message = describe(&failure, "h.example", "the system trust store");
                assert_worded(&message, &what);
                // Only a handshake failure may suggest a plain http:// endpoint.
                if phase == Phase::Established {
                    assert!(!message.contains("http://"), "{what}: {message}");
                    assert!(
                        !message.contains("refused the handshake"),
                        "{what}: {message}"
                    );
                    assert!(!message.contains("handshake with"), "{what}: {message}");
                }
            }
        }
    }

    #[test]
    fn words_split_names() {
        assert_eq!(words(&"CaUsedAsEndEntity"), "ca used as end entity");
        assert_eq!(
            words(&rustls::PeerIncompatible::NoCipherSuitesInCommon),
            "no cipher suites in common"
        );
        assert_eq!(
            words(&rustls::AlertDescription::Unknown(200)),
            "alert description 0xc8"
        );
    }
}
