//! Verifying a `<samlp:Response>` delivered to the ACS by the HTTP-POST
//! binding (Bindings §3.5), under the Web Browser SSO profile's rules
//! (Profiles §4.1.4.2 and §4.1.4.3).
//!
//! What is checked here, in order:
//! 1. shape: one Response holding exactly one Assertion, no encrypted
//!    ones, no DTD; every `<ds:Signature>` a child of the Response or the
//!    Assertion with one Reference to its parent's ID. Anything else is
//!    treated as XML signature wrapping;
//! 2. algorithms: SHA-256 or stronger for signatures and digests;
//! 3. signatures, by libxmlsec1 (through `samael`) with the configured
//!    certificates, then only the signed bytes are read;
//! 4. the profile: issuer, status, Destination, Audience, Recipient,
//!    NotBefore/NotOnOrAfter with [`CLOCK_SKEW`](super::CLOCK_SKEW), a bearer confirmation.
//!
//! Checks that need state (InResponseTo names a request Roster issued, an
//! assertion id used once) belong to the caller, who gets what it needs in
//! [`VerifiedAssertion`].

use super::{IdpConfig, NS_ASSERTION, NS_DSIG, NS_PROTOCOL, SamlError, SamlResult, SpEndpoints};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use roxmltree::{Document, Node, ParsingOptions};

/// Largest SAMLResponse form value read (base64); real ones are 4 to 20 KB.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Signature methods accepted: RSA and ECDSA with SHA-256 or stronger; no
/// SHA-1 (XML-DSig 1.1 §6.4.2 deprecates it; `saml.md`).
pub(crate) const SIGNATURE_METHODS: [&str; 6] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];

/// Digest methods accepted for references (XML Encryption §5.7, RFC 6931).
const DIGEST_METHODS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// What a verified response says, all of it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// The request this answers; `None` for an IdP-initiated sign-in.
    pub in_response_to: Option<String>,
    /// Until when the assertion could be replayed: a used id must be
    /// remembered this long.
    pub valid_until: DateTime<Utc>,
    pub attributes: Vec<(String, Vec<String>)>,
    pub response_signed: bool,
    pub assertion_signed: bool,
}

impl VerifiedAssertion {
    /// The first non-empty value of attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.iter())
            .map(|v| v.trim())
            .find(|v| !v.is_empty())
    }
}

/// What the document says before anything is trusted: for the test page,
/// which shows what the IdP sent even when it is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnverifiedSummary {
    pub issuer: Option<String>,
    pub name_id: Option<String>,
    pub status: Option<String>,
    pub attributes: Vec<(String, Vec<String>)>,
}

/// Decodes the POSTed `SAMLResponse` form value to XML text.
pub fn decode(saml_response: &str) -> SamlResult<String> {
    if saml_response.len() > MAX_RESPONSE_BYTES {
        return Err(SamlError::refused(
            "malformed",
            format!("the SAMLResponse is larger than {MAX_RESPONSE_BYTES} bytes"),
        ));
    }
    let compact: String = saml_response
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = STANDARD.decode(compact.as_bytes()).map_err(|_| {
        SamlError::refused(
            "malformed",
            "the SAMLResponse is not base64 (HTTP-POST binding, Bindings §3.5.4)",
        )
    })?;
    String::from_utf8(bytes)
        .map_err(|_| SamlError::refused("malformed", "the SAMLResponse is not UTF-8 XML"))
}

fn parse(xml: &str) -> SamlResult<Document<'_>> {
    Document::parse_with_options(
        xml,
        ParsingOptions {
            allow_dtd: false,
            ..ParsingOptions::default()
        },
    )
    .map_err(|e| {
        SamlError::refused(
            "malformed",
            format!("the SAMLResponse is not well-formed XML without a DTD: {e}"),
        )
    })
}

fn is(node: &Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| is(n, ns, name))
}

fn text_of(node: Option<Node<'_, '_>>) -> Option<String> {
    node.and_then(|n| n.text()).map(|t| t.trim().to_string())
}

fn attributes_of(assertion: Node<'_, '_>) -> Vec<(String, Vec<String>)> {
    assertion
        .children()
        .filter(|n| is(n, NS_ASSERTION, "AttributeStatement"))
        .flat_map(|s| s.children().filter(|n| is(n, NS_ASSERTION, "Attribute")))
        .filter_map(|a| {
            let name = a.attribute("Name")?.to_string();
            let values = a
                .children()
                .filter(|n| is(n, NS_ASSERTION, "AttributeValue"))
                .map(|v| v.text().unwrap_or_default().to_string())
                .collect();
            Some((name, values))
        })
        .collect()
}

/// Reads what the document claims, verifying nothing.
pub fn summarize_unverified(xml: &str) -> UnverifiedSummary {
    let Ok(doc) = parse(xml) else {
        return UnverifiedSummary::default();
    };
    let root = doc.root_element();
    let assertion = root
        .descendants()
        .find(|n| is(n, NS_ASSERTION, "Assertion"));
    UnverifiedSummary {
        issuer: text_of(child(root, NS_ASSERTION, "Issuer"))
            .or_else(|| assertion.and_then(|a| text_of(child(a, NS_ASSERTION, "Issuer")))),
        name_id: assertion.and_then(|a| {
            child(a, NS_ASSERTION, "Subject")
                .and_then(|s| text_of(child(s, NS_ASSERTION, "NameID")))
        }),
        status: child(root, NS_PROTOCOL, "Status")
            .and_then(|s| child(s, NS_PROTOCOL, "StatusCode"))
            .and_then(|c| c.attribute("Value"))
            .map(str::to_string),
        attributes: assertion.map(attributes_of).unwrap_or_default(),
    }
}

/// The shape a response must have, read before any signature is checked.
#[derive(Debug)]
struct Shape {
    assertion_id: String,
    response_signed: bool,
    assertion_signed: bool,
    in_response_to: Option<String>,
}

pub(crate) const WRAPPING: &str = "the response's structure is not one Response with one Assertion, each signature on the element it signs \
                        (a sign of XML signature wrapping); nothing in it was used";

fn check_signature_node(sig: Node<'_, '_>, parent: Node<'_, '_>) -> SamlResult<()> {
    let parent_id = parent.attribute("ID").unwrap_or_default();
    let signed_info = child(sig, NS_DSIG, "SignedInfo")
        .ok_or_else(|| SamlError::refused("wrapping", WRAPPING))?;
    let refs: Vec<Node<'_, '_>> = signed_info
        .children()
        .filter(|n| is(n, NS_DSIG, "Reference"))
        .collect();
    // Profiles §4.1.4.5 with SAML Core §5.4.2: one Reference, to the
    // enclosing element's ID.
    match refs.as_slice() {
        [r] if !parent_id.is_empty() && r.attribute("URI") == Some(&format!("#{parent_id}")) => {}
        _ => return Err(SamlError::refused("wrapping", WRAPPING)),
    }
    let method = child(signed_info, NS_DSIG, "SignatureMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or_default();
    let digests: Vec<&str> = refs
        .iter()
        .filter_map(|r| child(*r, NS_DSIG, "DigestMethod").and_then(|d| d.attribute("Algorithm")))
        .collect();
    let ok_method = SIGNATURE_METHODS.contains(&method);
    let ok_digests = !digests.is_empty() && digests.iter().all(|d| DIGEST_METHODS.contains(d));
    if !ok_method || !ok_digests {
        return Err(SamlError::refused(
            "algorithm",
            format!(
                "the response is signed with {method} (digest {}); Roster accepts RSA or ECDSA with SHA-256 or stronger. \
                 Set the IdP's signature algorithm to RSA-SHA256 (Okta: Signature Algorithm; Entra: Signing Algorithm)",
                digests.join(", ")
            ),
        ));
    }
    Ok(())
}

fn shape(xml: &str, idp: &IdpConfig) -> SamlResult<Shape> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if !is(&root, NS_PROTOCOL, "Response") {
        return Err(SamlError::refused(
            "malformed",
            format!(
                "the SAMLResponse holds a <{}>, not a <samlp:Response>",
                root.tag_name().name()
            ),
        ));
    }
    if root
        .descendants()
        .any(|n| is(&n, NS_ASSERTION, "EncryptedAssertion"))
    {
        return Err(SamlError::refused(
            "encrypted",
            "the assertion is encrypted, which Roster does not support; turn off assertion encryption in the IdP",
        ));
    }
    // Status first: a failed sign-in at the IdP has no assertion at all,
    // and its own message is what the person needs to see (Core §3.2.2.2).
    let status = child(root, NS_PROTOCOL, "Status")
        .and_then(|s| child(s, NS_PROTOCOL, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .unwrap_or_default();
    if status != "urn:oasis:names:tc:SAML:2.0:status:Success" {
        let message = text_of(
            child(root, NS_PROTOCOL, "Status").and_then(|s| child(s, NS_PROTOCOL, "StatusMessage")),
        )
        .unwrap_or_default();
        return Err(SamlError::refused(
            "status",
            format!("the IdP did not sign you in: status {status} {message}"),
        ));
    }
    let assertions: Vec<Node<'_, '_>> = root
        .descendants()
        .filter(|n| is(n, NS_ASSERTION, "Assertion"))
        .collect();
    let assertion = match assertions.as_slice() {
        [a] if a.parent() == Some(root) => *a,
        [] => {
            return Err(SamlError::refused(
                "malformed",
                "the response holds no assertion",
            ));
        }
        _ => return Err(SamlError::refused("wrapping", WRAPPING)),
    };
    let mut response_signed = false;
    let mut assertion_signed = false;
    for sig in root.descendants().filter(|n| is(n, NS_DSIG, "Signature")) {
        let parent = sig
            .parent()
            .ok_or_else(|| SamlError::refused("wrapping", WRAPPING))?;
        if parent == root {
            check_signature_node(sig, root)?;
            response_signed = true;
        } else if parent == assertion {
            check_signature_node(sig, assertion)?;
            assertion_signed = true;
        } else {
            return Err(SamlError::refused("wrapping", WRAPPING));
        }
    }
    if !response_signed && !assertion_signed {
        return Err(SamlError::refused(
            "unsigned",
            "neither the response nor its assertion is signed; Roster accepts only signed responses. \
             Have the IdP sign the response or the assertion (Entra: Sign SAML response and assertion)",
        ));
    }
    if idp.require_signed_assertion && !assertion_signed {
        return Err(SamlError::refused(
            "unsigned",
            "the assertion is not signed, and this org requires signed assertions; \
             have the IdP sign the assertion (Okta: Assertion Signature: Signed), or turn the requirement off",
        ));
    }
    // Bindings §3.5.5.2: a signed response must carry a Destination (the
    // verifier compares it with the ACS URL).
    if response_signed && root.attribute("Destination").is_none() {
        return Err(SamlError::refused(
            "destination",
            "the signed response has no Destination; the IdP must name Roster's ACS URL",
        ));
    }
    let assertion_id = assertion.attribute("ID").unwrap_or_default().to_string();
    let in_response_to = child(assertion, NS_ASSERTION, "Subject")
        .into_iter()
        .flat_map(|s| {
            s.children()
                .filter(|n| is(n, NS_ASSERTION, "SubjectConfirmation"))
        })
        .filter_map(|c| child(c, NS_ASSERTION, "SubjectConfirmationData"))
        .find_map(|d| d.attribute("InResponseTo"))
        // The Response's own attribute counts only when the Response is
        // signed: with only the assertion signed, anyone could add it, and
        // an unsolicited response would pass as an answer to a request
        // (turning IdP-initiated sign-in on for an org that has it off).
        .or_else(|| {
            response_signed
                .then(|| root.attribute("InResponseTo"))
                .flatten()
        })
        .map(str::to_string);
    if let (Some(a), Some(r)) = (&in_response_to, root.attribute("InResponseTo"))
        && a != r
    {
        return Err(SamlError::refused(
            "in_response_to",
            "the response and its assertion answer different requests (InResponseTo differs)",
        ));
    }
    Ok(Shape {
        assertion_id,
        response_signed,
        assertion_signed,
        in_response_to,
    })
}

/// Verifies a decoded Response for the SP `sp` and the IdP `idp`.
pub fn verify(xml: &str, idp: &IdpConfig, sp: &SpEndpoints) -> SamlResult<VerifiedAssertion> {
    idp.validate()?;
    let shape = shape(xml, idp)?;
    let signed = super::xmldsig::verify_signed(xml, idp, sp)?;
    // The verifier returns only signed content; it must be the one
    // assertion the shape check saw.
    if signed.assertion_id != shape.assertion_id {
        return Err(SamlError::refused("wrapping", WRAPPING));
    }
    Ok(VerifiedAssertion {
        assertion_id: signed.assertion_id,
        issuer: signed.issuer,
        name_id: signed.name_id,
        name_id_format: signed.name_id_format,
        in_response_to: shape.in_response_to,
        valid_until: signed.valid_until,
        attributes: signed.attributes,
        response_signed: shape.response_signed,
        assertion_signed: shape.assertion_signed,
    })
}

#[cfg(test)]
mod tests {
    //! The checks that come before any signature is verified; the
    //! signatures themselves are tested against a real IdP
    //! (tests/api/saml.rs).
    use super::*;
    use crate::saml::config::tests::test_idp;

    const SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    const DIGEST256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

    fn idp(require_signed_assertion: bool) -> IdpConfig {
        test_idp("https://idp.example/sso", require_signed_assertion)
    }

    fn signature(reference: &str, method: &str, digest: &str) -> String {
        format!(
            r##"<ds:Signature><ds:SignedInfo><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{reference}"><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>"##
        )
    }

    /// A response; `response_sig` and `assertion_sig` go where a
    /// signature sits, `extra` after the assertion.
    fn response(response_sig: &str, assertion_sig: &str, extra: &str) -> String {
        format!(
            r#"<samlp:Response xmlns:samlp="{NS_PROTOCOL}" xmlns:saml="{NS_ASSERTION}" xmlns:ds="{NS_DSIG}" ID="_r1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://sp/acs" InResponseTo="_req"><saml:Issuer>https://idp.example</saml:Issuer>{response_sig}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://idp.example</saml:Issuer>{assertion_sig}<saml:Subject><saml:NameID>alice@example.com</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="_req" Recipient="https://sp/acs" NotOnOrAfter="2026-01-01T00:05:00Z"/></saml:SubjectConfirmation></saml:Subject></saml:Assertion>{extra}</samlp:Response>"#
        )
    }

    fn refused(xml: &str, require_signed_assertion: bool) -> &'static str {
        match shape(xml, &idp(require_signed_assertion)) {
            Ok(_) => "accepted",
            Err(e) => e.check(),
        }
    }

    #[test]
    fn a_well_formed_response_passes_the_shape_check() {
        let xml = response(
            &signature("_r1", SHA256, DIGEST256),
            &signature("_a1", SHA256, DIGEST256),
            "",
        );
        let s = shape(&xml, &idp(true)).unwrap();
        assert!(s.response_signed && s.assertion_signed);
        assert_eq!(s.assertion_id, "_a1");
        assert_eq!(s.in_response_to.as_deref(), Some("_req"));
    }

    #[test]
    fn wrapping_shapes_are_refused() {
        let good = signature("_a1", SHA256, DIGEST256);
        // A second assertion, signed or not.
        let second = r#"<saml:Assertion ID="_a2" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>x</saml:Issuer></saml:Assertion>"#;
        assert_eq!(refused(&response("", &good, second), false), "wrapping");
        // A signature somewhere else (inside Extensions, say).
        let elsewhere = format!(
            "<samlp:Extensions>{}</samlp:Extensions>",
            signature("_r1", SHA256, DIGEST256)
        );
        assert_eq!(refused(&response("", &good, &elsewhere), false), "wrapping");
        // A signature on the assertion that references another element.
        assert_eq!(
            refused(
                &response("", &signature("_r1", SHA256, DIGEST256), ""),
                false
            ),
            "wrapping"
        );
        // Two references in one signature.
        let two = signature("_a1", SHA256, DIGEST256).replace(
            "</ds:SignedInfo>",
            r##"<ds:Reference URI="#_x"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/></ds:Reference></ds:SignedInfo>"##,
        );
        assert_eq!(refused(&response("", &two, ""), false), "wrapping");
        // The assertion nested deeper than the response's child.
        let xml = response("", &good, "")
            .replace("<saml:Assertion ", "<samlp:Extensions><saml:Assertion ")
            .replace("</saml:Assertion>", "</saml:Assertion></samlp:Extensions>");
        assert_eq!(refused(&xml, false), "wrapping");
    }

    #[test]
    fn weak_algorithms_missing_signatures_and_other_shapes_are_refused() {
        let sha1 = signature(
            "_a1",
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            DIGEST256,
        );
        assert_eq!(refused(&response("", &sha1, ""), false), "algorithm");
        let sha1_digest = signature("_a1", SHA256, "http://www.w3.org/2000/09/xmldsig#sha1");
        assert_eq!(refused(&response("", &sha1_digest, ""), false), "algorithm");
        assert_eq!(refused(&response("", "", ""), false), "unsigned");
        let only_response = signature("_r1", SHA256, DIGEST256);
        assert_eq!(
            refused(&response(&only_response, "", ""), false),
            "accepted"
        );
        assert_eq!(refused(&response(&only_response, "", ""), true), "unsigned");
        let no_destination =
            response(&only_response, "", "").replace(r#" Destination="https://sp/acs""#, "");
        assert_eq!(refused(&no_destination, false), "destination");
        let good = signature("_a1", SHA256, DIGEST256);
        let encrypted = r#"<saml:EncryptedAssertion/>"#;
        assert_eq!(refused(&response("", &good, encrypted), false), "encrypted");
        let failed = response("", &good, "").replace(
            "status:Success\"/>",
            "status:Responder\"/><samlp:StatusMessage>user locked</samlp:StatusMessage>",
        );
        let e = shape(&failed, &idp(false)).unwrap_err();
        assert_eq!(e.check(), "status");
        assert!(e.to_string().contains("user locked"));
        let other_request = response("", &good, "").replace(
            r#"InResponseTo="_req" Recipient"#,
            r#"InResponseTo="_other" Recipient"#,
        );
        assert_eq!(refused(&other_request, false), "in_response_to");
        // An unsolicited response, assertion signed, with an
        // InResponseTo added to the unsigned Response: not an answer.
        let unsolicited =
            response("", &good, "").replace(r#"InResponseTo="_req" Recipient"#, "Recipient");
        let shaped = shape(&unsolicited, &idp(false)).ok();
        assert!(shaped.is_some_and(|s| s.in_response_to.is_none()));
        let shaped = shape(
            &response(&only_response, "", "")
                .replace(r#"InResponseTo="_req" Recipient"#, "Recipient"),
            &idp(false),
        )
        .ok();
        assert_eq!(
            shaped.and_then(|s| s.in_response_to).as_deref(),
            Some("_req"),
            "a signed Response's own InResponseTo counts"
        );
        assert_eq!(
            refused(
                "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
                false
            ),
            "malformed"
        );
        assert_eq!(
            refused("<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>", false),
            "malformed"
        );
    }

    #[test]
    fn decode_takes_base64_with_line_breaks_and_refuses_the_rest() {
        let xml = "<samlp:Response/>";
        let wrapped: String = STANDARD
            .encode(xml)
            .as_bytes()
            .chunks(4)
            .map(|c| format!("{}\r\n", String::from_utf8_lossy(c)))
            .collect();
        assert_eq!(decode(&wrapped).unwrap(), xml);
        assert_eq!(decode("***").unwrap_err().check(), "malformed");
        assert_eq!(
            decode(&STANDARD.encode([0xff, 0xfe])).unwrap_err().check(),
            "malformed"
        );
        assert_eq!(
            decode(&"A".repeat(MAX_RESPONSE_BYTES + 4))
                .unwrap_err()
                .check(),
            "malformed"
        );
    }

    #[test]
    fn refusals_quote_the_sender_without_control_characters() {
        let good = signature("_a1", SHA256, DIGEST256);
        let forged = response("", &good, "").replace(
            "status:Success\"/>",
            "status:Responder\"/><samlp:StatusMessage>no\nINFO roster: forged line</samlp:StatusMessage>",
        );
        let e = shape(&forged, &idp(false)).unwrap_err().to_string();
        assert!(e.contains("no INFO roster: forged line"), "{e}");
        assert!(!e.contains('\n'));
        let long = SamlError::refused("status", "x".repeat(10_000)).to_string();
        assert_eq!(long.len(), 500);
    }

    #[test]
    fn the_unverified_summary_reads_what_the_document_claims() {
        let s = summarize_unverified(&response("", "", ""));
        assert_eq!(s.issuer.as_deref(), Some("https://idp.example"));
        assert_eq!(s.name_id.as_deref(), Some("alice@example.com"));
        assert_eq!(
            summarize_unverified("garbage"),
            UnverifiedSummary::default()
        );
    }
}
