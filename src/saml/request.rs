//! AuthnRequests (SAML 2.0 Core §3.4.1), sent by the HTTP-Redirect
//! binding (Bindings §3.4): DEFLATE, base64, a query parameter. Written
//! here rather than by the signature library, so that this part needs no
//! C library.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngCore;

use super::{
    BINDING_POST, IdpConfig, NS_ASSERTION, NS_PROTOCOL, SamlError, SamlResult, SpEndpoints,
    xml_escape,
};

/// A request ready to send: its id (to match the response's InResponseTo)
/// and the URL that carries it to the IdP.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    pub id: String,
    pub redirect_url: String,
}

/// A fresh request id: 128 random bits, an NCName as xs:ID requires
/// (Core §1.3.4: identifiers must be unguessable, at least 128 bits).
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("_{hex}")
}

/// The AuthnRequest document: asks for a response POSTed to the ACS.
fn document(id: &str, sp: &SpEndpoints, idp: &IdpConfig, now: DateTime<Utc>) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="{NS_PROTOCOL}" xmlns:saml="{NS_ASSERTION}" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="{BINDING_POST}"><saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>"#,
        id = xml_escape(id),
        instant = now.to_rfc3339_opts(SecondsFormat::Secs, true),
        destination = xml_escape(&idp.sso_url),
        acs = xml_escape(&sp.acs_url),
        issuer = xml_escape(&sp.entity_id),
    )
}

/// Builds an AuthnRequest and the redirect that carries it.
pub fn authn_request(
    sp: &SpEndpoints,
    idp: &IdpConfig,
    relay_state: &str,
    now: DateTime<Utc>,
) -> SamlResult<OutgoingRequest> {
    let id = new_request_id();
    let xml = document(&id, sp, idp, now);
    // Bindings §3.4.4.1: DEFLATE (RFC 1951, no zlib header), then base64.
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|e| SamlError::Config(format!("cannot compress the AuthnRequest: {e}")))?;
    let deflated = deflater
        .finish()
        .map_err(|e| SamlError::Config(format!("cannot compress the AuthnRequest: {e}")))?;
    let mut url = super::config::check_http_url(&idp.sso_url, "the IdP sign-on URL")?;
    url.query_pairs_mut()
        .append_pair("SAMLRequest", &STANDARD.encode(deflated));
    if !relay_state.is_empty() {
        url.query_pairs_mut().append_pair("RelayState", relay_state);
    }
    Ok(OutgoingRequest {
        id,
        redirect_url: url.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::saml::config::tests::test_idp;

    #[test]
    fn requests_have_fresh_ids_and_carry_the_acs_and_entity_id() {
        let a = new_request_id();
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('_'));
        assert_ne!(a, new_request_id());
        let sp = SpEndpoints::for_org("https://r.example", "org1");
        let idp = test_idp("https://idp.example/sso?tenant=1", false);
        let out = authn_request(&sp, &idp, "", chrono::DateTime::UNIX_EPOCH).unwrap();
        let url = url::Url::parse(&out.redirect_url).unwrap();
        assert_eq!(
            url.query_pairs().find(|(k, _)| k == "tenant").unwrap().1,
            "1"
        );
        let encoded = url
            .query_pairs()
            .find(|(k, _)| k == "SAMLRequest")
            .unwrap()
            .1
            .to_string();
        let deflated =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded).unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .read_to_string(&mut xml)
            .unwrap();
        assert!(xml.contains(&format!("ID=\"{}\"", out.id)), "{xml}");
        assert!(
            xml.contains(&sp.acs_url) && xml.contains(&sp.entity_id),
            "{xml}"
        );
        assert!(
            xml.contains("Destination=\"https://idp.example/sso?tenant=1\""),
            "{xml}"
        );
    }
}
