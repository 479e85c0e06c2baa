//! The signature check: libxmlsec1 through `samael` (feature
//! `saml-signatures`, on by default). Everything before it (the document's
//! shape, the algorithms) and after it (InResponseTo, one use, the person)
//! is Roster's own and needs no C library.

use std::time::Duration;

use chrono::Utc;
use samael::crypto::{AllowedSignatureAlgorithm, ReduceMode};
use samael::metadata::EntityDescriptor;
use samael::service_provider::{Error as SpError, ServiceProvider};

use super::{
    BINDING_REDIRECT, CLOCK_SKEW, Certificate, IdpConfig, MAX_RESPONSE_AGE, NS_DSIG, NS_METADATA,
    SamlError, SamlResult, SignedAssertion, SpEndpoints, xml_escape,
};

/// The IdP as minimal metadata, the form the signature verifier is given.
fn idp_entity_descriptor(entity_id: &str, sso_url: &str, certificates: &[Certificate]) -> String {
    let keys: String = certificates
        .iter()
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                c.to_base64()
            )
        })
        .collect();
    format!(
        r#"<md:EntityDescriptor xmlns:md="{NS_METADATA}" xmlns:ds="{NS_DSIG}" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="{BINDING_REDIRECT}" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        xml_escape(entity_id),
        xml_escape(sso_url)
    )
}

/// The algorithms of `response::SIGNATURE_METHODS`, as samael names them.
const ALLOWED: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Explains a refusal by the verifier in words an operator can act on.
fn explain(e: SpError, idp: &IdpConfig, sp: &SpEndpoints) -> SamlError {
    match e {
        SpError::FailedToValidateSignature | SpError::CryptoXmlError(_) => SamlError::refused(
            "signature",
            "the signature does not verify with the configured IdP certificate: the response was altered, \
             or it was signed by another key (if the IdP's certificate was renewed, run `roster saml set` with the new one)",
        ),
        SpError::DestinationValidationError {
            response_destination,
            ..
        } => SamlError::refused(
            "destination",
            format!(
                "the response is addressed to {}, not to this org's ACS URL {}; check the IdP's Single sign-on / Reply URL",
                response_destination.as_deref().unwrap_or("nowhere"),
                sp.acs_url
            ),
        ),
        SpError::AssertionRecipientMismatch {
            assertion_recipient,
            ..
        } => SamlError::refused(
            "recipient",
            format!(
                "the assertion's Recipient is {}, not this org's ACS URL {}; check the IdP's Recipient URL",
                assertion_recipient.as_deref().unwrap_or("missing"),
                sp.acs_url
            ),
        ),
        SpError::ResponseIssuerMismatch { issuer, .. }
        | SpError::AssertionIssuerMismatch { issuer, .. } => SamlError::refused(
            "issuer",
            format!(
                "the response was issued by \"{}\", but this org's IdP is \"{}\"; check the IdP entity id (Okta: Issuer)",
                issuer.unwrap_or_default(),
                idp.entity_id
            ),
        ),
        SpError::AssertionConditionAudienceRestrictionFailed { .. } => SamlError::refused(
            "audience",
            format!(
                "the assertion is meant for another service (Audience); set the IdP's Audience URI / Entity ID to {}",
                sp.entity_id
            ),
        ),
        SpError::AssertionExpired { time }
        | SpError::ResponseExpired { time }
        | SpError::AssertionConditionExpired { time }
        | SpError::AssertionSubjectConfirmationExpired { time } => SamlError::refused(
            "expired",
            format!(
                "the response expired at {time}; sign in again (if this repeats, check both clocks)"
            ),
        ),
        SpError::AssertionConditionExpiredBefore { time }
        | SpError::AssertionSubjectConfirmationExpiredBefore { time } => SamlError::refused(
            "not_yet_valid",
            format!(
                "the response is not valid before {time}: the IdP's clock or Roster's is wrong"
            ),
        ),
        SpError::AssertionBearerSubjectConfirmationMissing
        | SpError::AssertionSubjectConfirmationMissing => SamlError::refused(
            "subject",
            "the assertion has no bearer SubjectConfirmation with NotOnOrAfter and Recipient (Profiles §4.1.4.2)",
        ),
        SpError::ResponseBadStatusCode { code } => SamlError::refused(
            "status",
            format!("the IdP did not sign you in: status {code}"),
        ),
        other => SamlError::refused("malformed", format!("the response cannot be read: {other}")),
    }
}

/// Verifies every signature of `xml` with the IdP's certificates, and the
/// profile's rules on the signed bytes: issuer, Destination, Recipient,
/// Audience, times.
pub(crate) fn verify_signed(
    xml: &str,
    idp: &IdpConfig,
    sp: &SpEndpoints,
) -> SamlResult<SignedAssertion> {
    let metadata: EntityDescriptor =
        idp_entity_descriptor(&idp.entity_id, &idp.sso_url, &idp.certificates)
            .parse()
            .map_err(|e| SamlError::Config(format!("the IdP configuration cannot be used: {e}")))?;
    let seconds =
        |d: Duration| chrono::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let provider = ServiceProvider {
        entity_id: Some(sp.entity_id.clone()),
        acs_url: Some(sp.acs_url.clone()),
        metadata_url: Some(sp.entity_id.clone()),
        idp_metadata: metadata,
        // InResponseTo is checked by the caller against the requests it
        // issued; the verifier is told to leave it alone.
        allow_idp_initiated: true,
        max_issue_delay: seconds(MAX_RESPONSE_AGE),
        max_clock_skew: seconds(CLOCK_SKEW),
        allowed_signature_algorithms: Some(ALLOWED.to_vec()),
        ..ServiceProvider::default()
    };
    // PreDigest: what is read is exactly the bytes the signature covers
    // (the canonical form xmlsec digested), the strictest of samael's
    // modes; its default mode also leaked ~3 KB of libxml2 nodes per
    // response whose assertion alone is signed (tests/saml_memory.rs).
    let assertion = provider
        .parse_xml_response_with_mode(xml, None, ReduceMode::PreDigest)
        .map_err(|e| explain(e, idp, sp))?;
    let conditions = assertion.conditions.as_ref();
    // Profiles §4.1.4.2: the assertion MUST have an AudienceRestriction
    // naming the SP; the verifier checks it only when present.
    let audiences: Vec<&String> = conditions
        .and_then(|c| c.audience_restrictions.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|r| r.audience.iter())
        .collect();
    if !audiences.contains(&&sp.entity_id) {
        return Err(explain(
            SpError::AssertionConditionAudienceRestrictionFailed {
                requirement: sp.entity_id.clone(),
            },
            idp,
            sp,
        ));
    }
    let subject = assertion.subject.as_ref();
    let name_id = subject
        .and_then(|s| s.name_id.as_ref())
        .map(|n| (n.value.trim().to_string(), n.format.clone()))
        .filter(|(v, _)| !v.is_empty())
        .ok_or_else(|| SamlError::refused("subject", "the assertion names no one (no NameID)"))?;
    let confirmation_until = subject
        .and_then(|s| s.subject_confirmations.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.subject_confirmation_data.as_ref()?.not_on_or_after)
        .max();
    let valid_until = [
        conditions.and_then(|c| c.not_on_or_after),
        confirmation_until,
    ]
    .into_iter()
    .flatten()
    .max()
    // samael checks the validity window against the system clock itself;
    // this fallback (an assertion with no window at all) agrees with it.
    .unwrap_or_else(
        #[allow(clippy::disallowed_methods)]
        Utc::now,
    ) + seconds(CLOCK_SKEW);
    Ok(SignedAssertion {
        assertion_id: assertion.id.clone(),
        issuer: assertion.issuer.value.clone().unwrap_or_default(),
        name_id: name_id.0,
        name_id_format: name_id.1,
        valid_until,
        // From the verified assertion, never from the document as posted.
        attributes: assertion
            .attribute_statements
            .iter()
            .flatten()
            .flat_map(|s| s.attributes.iter())
            .filter_map(|a| {
                let values = a.values.iter().filter_map(|v| v.value.clone()).collect();
                Some((a.name.clone()?, values))
            })
            .collect(),
    })
}
