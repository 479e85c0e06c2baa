//! SAML 2.0 Web Browser SSO, the service provider's side (SAML 2.0
//! Profiles §4.1): IdP metadata in, SP metadata and AuthnRequests out, and
//! Responses verified. Pure protocol: knows no storage and no HTTP.
//!
//! XML signatures are checked by libxmlsec1 through `samael` (feature
//! `saml-signatures`, in `xmldsig`), which returns only signed content. Around it Roster adds its own rules, because the
//! crate leaves them to the caller: a configuration must carry a signing
//! certificate (without one `samael` checks no signature at all), only
//! SHA-256 or stronger is accepted, and the document must have exactly the
//! shape of one Response with one Assertion, every signature sitting on
//! the element it signs, which rules out XML signature wrapping whatever
//! the verifier would make of the rest.

pub mod config;
pub mod metadata;
pub mod request;
pub mod response;
#[cfg(feature = "saml-signatures")]
mod xmldsig;
#[cfg(not(feature = "saml-signatures"))]
mod xmldsig {
    //! Built without `saml-signatures` (a node's build): no response is
    //! accepted.
    use super::{IdpConfig, SamlError, SamlResult, SignedAssertion, SpEndpoints};

    pub(crate) fn verify_signed(
        _xml: &str,
        _idp: &IdpConfig,
        _sp: &SpEndpoints,
    ) -> SamlResult<SignedAssertion> {
        Err(SamlError::refused(
            "unsupported",
            "this roster was built without SAML signature verification (--no-default-features); \
             the server must run a default build",
        ))
    }
}

pub use config::{Certificate, IdpConfig, IdpInput, InputNames, SpEndpoints};

/// How far the IdP's clock may be from Roster's when NotBefore and
/// NotOnOrAfter are compared (Profiles §4.1.4.3 leaves it to the SP).
pub const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(60);

/// How old a Response's and an Assertion's IssueInstant may be: the
/// person's browser posts it at once, so minutes are plenty.
pub const MAX_RESPONSE_AGE: std::time::Duration = std::time::Duration::from_secs(300);

/// What the signed bytes say, as the signature check returns it.
pub(crate) struct SignedAssertion {
    pub assertion_id: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub valid_until: chrono::DateTime<chrono::Utc>,
    pub attributes: Vec<(String, Vec<String>)>,
}
pub use response::VerifiedAssertion;

/// Namespaces (SAML 2.0 Core §1.2, Metadata §1.1, XML-DSig §4).
pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Errors of the SAML layer. Every message says what was wrong and, where
/// someone can fix it, who and how.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    /// The IdP configuration, metadata or certificate is not usable.
    #[error("{0}")]
    Config(String),
    /// A Response was refused; `check` names the rule for logs and metrics.
    #[error("{detail}")]
    Refused { check: &'static str, detail: String },
}

impl SamlError {
    /// A refusal. Details may quote what the sender wrote (a status
    /// message, an issuer): control characters become spaces and the text
    /// is cut at 500 characters, so it cannot forge log lines or flood.
    pub(crate) fn refused(check: &'static str, detail: impl Into<String>) -> Self {
        SamlError::Refused {
            check,
            detail: printable(&detail.into()),
        }
    }

    /// The rule a refusal broke, or "config".
    pub fn check(&self) -> &'static str {
        match self {
            SamlError::Config(_) => "config",
            SamlError::Refused { check, .. } => check,
        }
    }
}

pub type SamlResult<T> = Result<T, SamlError>;

/// Text that quotes a sender, made safe for one log line: control
/// characters become spaces, and at most 500 characters are kept.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect()
}

/// Escapes text for an XML attribute value or element content.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
