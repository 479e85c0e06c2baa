//! AuthnRequests (SAML 2.0 Core §3.4.1), sent by the HTTP-Redirect
//! binding (Bindings §3.4).

use chrono::{DateTime, Utc};
use rand::RngCore;
use samael::schema::{AuthnRequest, Issuer};

use super::{BINDING_POST, IdpConfig, SamlError, SamlResult, SpEndpoints};

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

/// Builds an AuthnRequest asking for a response POSTed to the ACS.
pub fn authn_request(
    sp: &SpEndpoints,
    idp: &IdpConfig,
    relay_state: &str,
    now: DateTime<Utc>,
) -> SamlResult<OutgoingRequest> {
    let id = new_request_id();
    let request = AuthnRequest {
        id: id.clone(),
        version: "2.0".into(),
        issue_instant: now,
        destination: Some(idp.sso_url.clone()),
        issuer: Some(Issuer {
            value: Some(sp.entity_id.clone()),
            ..Issuer::default()
        }),
        assertion_consumer_service_url: Some(sp.acs_url.clone()),
        protocol_binding: Some(BINDING_POST.into()),
        ..AuthnRequest::default()
    };
    let url = request
        .redirect(relay_state)
        .map_err(|e| SamlError::Config(format!("cannot encode the AuthnRequest: {e}")))?
        .ok_or_else(|| SamlError::Config("the AuthnRequest has no destination".into()))?;
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
        let out = authn_request(&sp, &idp, "", Utc::now()).unwrap();
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
