//! What Roster knows of an org's IdP, and the SP endpoints it publishes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::Id;
use openssl::x509::X509;

use super::{SamlError, SamlResult};

/// An IdP's signing certificate (DER). Only its public key is used: the
/// certificate is pinned by configuration, so its chain and dates are
/// shown to the operator but not enforced, as every IdP's self-signed
/// SAML certificates require.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
}

/// Smallest RSA key accepted for signatures (NIST SP 800-131A).
const MIN_RSA_BITS: u32 = 2048;

impl Certificate {
    /// From DER, checking that it is an X.509 certificate with an RSA key
    /// of at least 2048 bits or an EC key.
    pub fn from_der(der: Vec<u8>) -> SamlResult<Self> {
        let x = X509::from_der(&der).map_err(|e| {
            SamlError::Config(format!("the signing certificate is not valid X.509: {e}"))
        })?;
        let key = x.public_key().map_err(|e| {
            SamlError::Config(format!(
                "the signing certificate's public key is unreadable: {e}"
            ))
        })?;
        match key.id() {
            Id::RSA if key.bits() < MIN_RSA_BITS => {
                return Err(SamlError::Config(format!(
                    "the signing certificate has a {}-bit RSA key; at least {MIN_RSA_BITS} bits are required",
                    key.bits()
                )));
            }
            Id::RSA | Id::EC => {}
            _ => {
                return Err(SamlError::Config(
                    "the signing certificate's key is neither RSA nor EC".into(),
                ));
            }
        }
        Ok(Certificate { der })
    }

    /// From base64 as in metadata's `<ds:X509Certificate>` (whitespace ignored).
    pub fn from_base64(text: &str) -> SamlResult<Self> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD.decode(compact.as_bytes()).map_err(|e| {
            SamlError::Config(format!("a signing certificate is not valid base64: {e}"))
        })?;
        Self::from_der(der)
    }

    /// Every certificate of a PEM file, or one bare base64 certificate (as
    /// Okta's and Entra's consoles also offer it).
    pub fn parse_file(text: &str) -> SamlResult<Vec<Self>> {
        if text.contains("-----BEGIN") {
            let stack = X509::stack_from_pem(text.as_bytes()).map_err(|e| {
                SamlError::Config(format!("the certificate file is not valid PEM: {e}"))
            })?;
            if stack.is_empty() {
                return Err(SamlError::Config(
                    "the certificate file holds no certificate".into(),
                ));
            }
            return stack
                .iter()
                .map(|x| {
                    x.to_der()
                        .map_err(|e| SamlError::Config(format!("certificate: {e}")))
                        .and_then(Self::from_der)
                })
                .collect();
        }
        Ok(vec![Self::from_base64(text)?])
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.der)
    }

    /// SHA-256 fingerprint, as IdP consoles show it (`AB:CD:...`).
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(&self.der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Subject and expiry, for `roster saml show`.
    pub fn describe(&self) -> String {
        match X509::from_der(&self.der) {
            Ok(x) => {
                let subject = x
                    .subject_name()
                    .entries()
                    .filter_map(|e| e.data().to_string().ok())
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("subject \"{subject}\", valid until {}", x.not_after())
            }
            Err(_) => "unreadable".into(),
        }
    }

    /// Days until the certificate's notAfter (negative once past). IdPs
    /// keep signing with an expired certificate and Roster, pinning the
    /// key, keeps accepting it; but an expiry is when IdPs roll over, so
    /// operators are told ahead of time.
    pub fn days_left(&self) -> Option<i32> {
        let x = X509::from_der(&self.der).ok()?;
        let now = openssl::asn1::Asn1Time::days_from_now(0).ok()?;
        now.diff(x.not_after()).ok().map(|d| d.days)
    }
}

/// A warning for certificates that expired or expire within 30 days.
pub fn expiry_warnings(certificates: &[Certificate]) -> Vec<String> {
    certificates
        .iter()
        .filter_map(|c| {
            let days = c.days_left()?;
            let when = if days < 0 {
                format!("expired {} days ago", -days)
            } else if days <= 30 {
                format!("expires in {days} days")
            } else {
                return None;
            };
            Some(format!(
                "the signing certificate {} {when}: when the IdP rolls over to a new one, run `roster saml set` again \
                 (or add the new one now with --certificate)",
                c.fingerprint()
            ))
        })
        .collect()
}

/// An org's identity provider, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpConfig {
    /// The IdP's entity id: the `Issuer` of its responses.
    pub entity_id: String,
    /// Where AuthnRequests go (HTTP-Redirect binding).
    pub sso_url: String,
    /// Signatures by any of these are accepted (several during a rollover).
    pub certificates: Vec<Certificate>,
    /// Refuse responses whose assertion itself is not signed.
    pub require_signed_assertion: bool,
    /// Accept responses the IdP sends unasked (its dashboard tiles).
    pub allow_idp_initiated: bool,
}

/// What an administrator gives to configure an IdP: its metadata (Entra),
/// or its sign-on URL and entity id (Okta); and certificates, added to
/// those the metadata names (a rollover announced before the metadata
/// shows it).
pub struct IdpInput<'a> {
    pub metadata_xml: Option<&'a str>,
    pub sso_url: &'a str,
    pub entity_id: &'a str,
    pub certificates: Vec<Certificate>,
    pub require_signed_assertion: bool,
    pub allow_idp_initiated: bool,
}

/// How the inputs are named to the person giving them: flags at the
/// command line, field labels in the console.
pub struct InputNames {
    pub metadata: &'static str,
    pub sso_url: &'static str,
    pub entity_id: &'static str,
    pub certificate: &'static str,
}

impl IdpConfig {
    /// The configuration the inputs describe, checked (`validate`).
    pub fn from_input(i: IdpInput<'_>, names: &InputNames) -> SamlResult<IdpConfig> {
        let (entity_id, sso_url, mut certificates) = match i.metadata_xml {
            Some(xml) => {
                let m = super::metadata::parse_idp_metadata(xml)?;
                (m.entity_id, m.sso_url, m.certificates)
            }
            None => {
                let missing: Vec<&str> = [
                    (names.sso_url, i.sso_url.trim().is_empty()),
                    (names.entity_id, i.entity_id.trim().is_empty()),
                ]
                .into_iter()
                .filter_map(|(n, m)| m.then_some(n))
                .collect();
                if !missing.is_empty() {
                    return Err(SamlError::Config(format!(
                        "missing {}: give {}, or all of {}, {} and {}",
                        missing.join(" and "),
                        names.metadata,
                        names.sso_url,
                        names.entity_id,
                        names.certificate
                    )));
                }
                (
                    i.entity_id.trim().to_string(),
                    i.sso_url.trim().to_string(),
                    Vec::new(),
                )
            }
        };
        for c in i.certificates {
            if !certificates.contains(&c) {
                certificates.push(c);
            }
        }
        let idp = IdpConfig {
            entity_id,
            sso_url,
            certificates,
            require_signed_assertion: i.require_signed_assertion,
            allow_idp_initiated: i.allow_idp_initiated,
        };
        idp.validate()?;
        Ok(idp)
    }

    /// Checks what a configuration must have. Without a certificate no
    /// signature could be checked, so none is accepted (`saml.md`: the
    /// verifier would otherwise accept unsigned responses).
    pub fn validate(&self) -> SamlResult<()> {
        if self.certificates.is_empty() {
            return Err(SamlError::Config(
                "no signing certificate: Roster accepts only signed responses, so it needs the IdP's signing certificate \
                 (Okta: Sign On > SAML Signing Certificates; Entra: SAML Certificates > Certificate (Base64)) or metadata that contains it"
                    .into(),
            ));
        }
        let id = self.entity_id.trim();
        if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
            return Err(SamlError::Config(
                "the IdP entity id (Okta: Issuer; Entra: Microsoft Entra Identifier) must be 1 to 1024 printable characters".into(),
            ));
        }
        check_http_url(&self.sso_url, "the IdP sign-on URL")?;
        Ok(())
    }
}

/// `what` must be an absolute http(s) URL.
pub fn check_http_url(s: &str, what: &str) -> SamlResult<url::Url> {
    let u = url::Url::parse(s)
        .map_err(|e| SamlError::Config(format!("{what} \"{s}\" is not a URL: {e}")))?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        return Err(SamlError::Config(format!(
            "{what} \"{s}\" must be an http or https URL"
        )));
    }
    Ok(u)
}

/// The URLs an org's SP is known by (docs/saml.md, "Roster's URLs, per
/// organization").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpEndpoints {
    /// The SP entity id, which also serves the SP metadata.
    pub entity_id: String,
    /// The Assertion Consumer Service.
    pub acs_url: String,
    /// Where SP-initiated sign-in starts.
    pub login_url: String,
}

impl SpEndpoints {
    pub fn for_org(public_url: &str, org_id: &str) -> Self {
        let base = format!(
            "{}/accounts/saml/{org_id}",
            public_url.trim_end_matches('/')
        );
        SpEndpoints {
            entity_id: format!("{base}/metadata"),
            acs_url: format!("{base}/acs"),
            login_url: format!("{base}/login"),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};

    fn self_signed(bits: u32, days: u32) -> X509 {
        let key = PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "idp.test").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(days).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    /// A fresh self-signed RSA-2048 certificate.
    pub(crate) fn test_certificate() -> Certificate {
        Certificate::from_der(self_signed(2048, 30).to_der().unwrap()).unwrap()
    }

    /// A valid IdP configuration with a fresh certificate.
    pub(crate) fn test_idp(sso_url: &str, require_signed_assertion: bool) -> IdpConfig {
        IdpConfig {
            entity_id: "https://idp.example".into(),
            sso_url: sso_url.into(),
            certificates: vec![test_certificate()],
            require_signed_assertion,
            allow_idp_initiated: true,
        }
    }

    #[test]
    fn certificates_parse_from_pem_and_base64_and_small_keys_are_refused() {
        let x = self_signed(2048, 30);
        let pem = String::from_utf8(x.to_pem().unwrap()).unwrap();
        let both = format!(
            "{pem}{}",
            String::from_utf8(self_signed(2048, 30).to_pem().unwrap()).unwrap()
        );
        assert_eq!(Certificate::parse_file(&pem).unwrap().len(), 1);
        assert_eq!(Certificate::parse_file(&both).unwrap().len(), 2);
        let b64 = Certificate::parse_file(&pem).unwrap()[0].to_base64();
        assert_eq!(
            Certificate::parse_file(&b64).unwrap()[0].der(),
            x.to_der().unwrap().as_slice()
        );
        let e = Certificate::from_der(self_signed(1024, 30).to_der().unwrap()).unwrap_err();
        assert!(e.to_string().contains("1024-bit"), "{e}");
        assert!(
            Certificate::parse_file("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
                .is_err()
        );
        let fp = Certificate::parse_file(&pem).unwrap()[0].fingerprint();
        assert_eq!(fp.len(), 32 * 3 - 1);
    }

    #[test]
    fn certificates_near_their_end_are_named() {
        let fresh = test_certificate();
        // Made for 30 days from now, at whole seconds: read a moment
        // later, across a second's turn, 29 days and some hours are left.
        assert!(
            matches!(fresh.days_left(), Some(29 | 30)),
            "{:?}",
            fresh.days_left()
        );
        assert_eq!(
            expiry_warnings(std::slice::from_ref(&fresh)).len(),
            1,
            "30 days left warns"
        );
        let long = Certificate::from_der(self_signed(2048, 365).to_der().unwrap()).unwrap();
        assert!(expiry_warnings(&[long]).is_empty());
    }

    #[test]
    fn a_configuration_needs_a_certificate_an_issuer_and_an_http_url() {
        let good = test_idp("https://idp.example/sso", false);
        assert!(good.validate().is_ok());
        let no_cert = IdpConfig {
            certificates: vec![],
            ..good.clone()
        };
        assert!(
            no_cert
                .validate()
                .unwrap_err()
                .to_string()
                .contains("no signing certificate")
        );
        let no_issuer = IdpConfig {
            entity_id: " ".into(),
            ..good.clone()
        };
        assert!(no_issuer.validate().is_err());
        let bad_url = IdpConfig {
            sso_url: "ftp://idp.example/sso".into(),
            ..good
        };
        assert!(bad_url.validate().is_err());
    }
}
