//! SAML metadata (SAML 2.0 Metadata): the IdP's read, the SP's written.

use roxmltree::{Document, Node, ParsingOptions};

use super::config::{Certificate, check_http_url};
use super::{
    BINDING_POST, BINDING_REDIRECT, NS_DSIG, NS_METADATA, SamlError, SamlResult, SpEndpoints,
    xml_escape,
};

/// Largest metadata document read (Entra's is ~10 KB; aggregates are not
/// what an org configures).
pub const MAX_METADATA_BYTES: usize = 1 << 20;

/// What an IdP's metadata says Roster needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    pub certificates: Vec<Certificate>,
}

fn is(node: &Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

/// Parses an IdP's metadata: an `EntityDescriptor` with an
/// `IDPSSODescriptor` (Metadata §2.4.3), or an `EntitiesDescriptor` holding
/// exactly one. DTDs are refused (no entity expansion).
pub fn parse_idp_metadata(xml: &str) -> SamlResult<IdpMetadata> {
    if xml.len() > MAX_METADATA_BYTES {
        return Err(SamlError::Config(format!(
            "the metadata is {} bytes; at most {MAX_METADATA_BYTES} are read",
            xml.len()
        )));
    }
    let doc = Document::parse_with_options(
        xml,
        ParsingOptions {
            allow_dtd: false,
            ..ParsingOptions::default()
        },
    )
    .map_err(|e| SamlError::Config(format!("the metadata is not well-formed XML: {e}")))?;
    let idps: Vec<Node<'_, '_>> = doc
        .descendants()
        .filter(|n| is(n, NS_METADATA, "IDPSSODescriptor"))
        .collect();
    let idp = match idps.as_slice() {
        [one] => *one,
        [] => {
            return Err(SamlError::Config(
                "the metadata describes no identity provider (no md:IDPSSODescriptor): is it the IdP's metadata, not an SP's?"
                    .into(),
            ));
        }
        many => {
            return Err(SamlError::Config(format!(
                "the metadata describes {} identity providers; give the metadata of the one for this org",
                many.len()
            )));
        }
    };
    let entity = idp
        .parent()
        .filter(|p| is(p, NS_METADATA, "EntityDescriptor"))
        .ok_or_else(|| {
            SamlError::Config("the IDPSSODescriptor is not inside an EntityDescriptor".into())
        })?;
    let entity_id = entity
        .attribute("entityID")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SamlError::Config("the EntityDescriptor has no entityID".into()))?
        .to_string();

    let services: Vec<(&str, &str)> = idp
        .children()
        .filter(|n| is(n, NS_METADATA, "SingleSignOnService"))
        .filter_map(|n| Some((n.attribute("Binding")?, n.attribute("Location")?)))
        .collect();
    let sso_url = services
        .iter()
        .find(|(b, _)| *b == BINDING_REDIRECT)
        .map(|(_, l)| l.trim().to_string())
        .ok_or_else(|| {
            SamlError::Config(format!(
                "the metadata has no SingleSignOnService with the HTTP-Redirect binding (it has: {}); Roster sends sign-in requests by redirect",
                if services.is_empty() {
                    "none".to_string()
                } else {
                    services.iter().map(|(b, _)| *b).collect::<Vec<_>>().join(", ")
                }
            ))
        })?;
    check_http_url(&sso_url, "the metadata's sign-on URL")?;

    // Metadata §2.4.1.1: a KeyDescriptor without `use` serves both uses.
    let mut certificates = Vec::new();
    for kd in idp
        .children()
        .filter(|n| is(n, NS_METADATA, "KeyDescriptor"))
    {
        if kd.attribute("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for c in kd
            .descendants()
            .filter(|n| is(n, NS_DSIG, "X509Certificate"))
        {
            let cert = Certificate::from_base64(c.text().unwrap_or_default())?;
            if !certificates.contains(&cert) {
                certificates.push(cert);
            }
        }
    }
    if certificates.is_empty() {
        return Err(SamlError::Config(
            "the metadata has no signing certificate (no KeyDescriptor use=\"signing\" with an X509Certificate); \
             Roster accepts only signed responses, so it will not use this metadata"
                .into(),
        ));
    }
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        certificates,
    })
}

/// The SP metadata served at the SP entity id (Metadata §2.4.4): POST to
/// the ACS, unsigned AuthnRequests, signed assertions wanted.
pub fn sp_metadata(sp: &SpEndpoints, want_assertions_signed: bool) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{NS_METADATA}" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="{want}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{BINDING_POST}" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = xml_escape(&sp.entity_id),
        acs = xml_escape(&sp.acs_url),
        want = want_assertions_signed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::config::tests::test_certificate;

    fn okta(cert: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="{NS_METADATA}" entityID="http://www.okta.com/exk1"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{NS_DSIG}"><ds:X509Data><ds:X509Certificate>
{cert}
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="{BINDING_POST}" Location="https://acme.okta.com/post"/><md:SingleSignOnService Binding="{BINDING_REDIRECT}" Location="https://acme.okta.com/sso/saml"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    #[test]
    fn reads_entity_id_redirect_url_and_certificate() {
        let cert = test_certificate();
        let m = parse_idp_metadata(&okta(&cert.to_base64())).unwrap();
        assert_eq!(m.entity_id, "http://www.okta.com/exk1");
        assert_eq!(m.sso_url, "https://acme.okta.com/sso/saml");
        assert_eq!(m.certificates, vec![cert]);
    }

    #[test]
    fn an_entities_descriptor_with_one_idp_and_keys_without_use_are_read() {
        let cert = test_certificate();
        let inner = okta(&cert.to_base64())
            .replace(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "")
            .replace(r#" use="signing""#, "");
        let xml = format!(
            r#"<md:EntitiesDescriptor xmlns:md="{NS_METADATA}">{inner}</md:EntitiesDescriptor>"#
        );
        assert_eq!(parse_idp_metadata(&xml).unwrap().certificates.len(), 1);
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let cert = test_certificate().to_base64();
        let no_cert = okta(&cert).replace(r#"use="signing""#, r#"use="encryption""#);
        let e = parse_idp_metadata(&no_cert).unwrap_err().to_string();
        assert!(e.contains("no signing certificate"), "{e}");
        let no_redirect = okta(&cert).replace(BINDING_REDIRECT, "urn:other");
        let e = parse_idp_metadata(&no_redirect).unwrap_err().to_string();
        assert!(e.contains("HTTP-Redirect"), "{e}");
        let sp = sp_metadata(&SpEndpoints::for_org("https://r.example", "o"), true);
        let e = parse_idp_metadata(&sp).unwrap_err().to_string();
        assert!(e.contains("no identity provider"), "{e}");
        let dtd = format!(
            "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
            okta(&cert).replace(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "")
        );
        assert!(parse_idp_metadata(&dtd).is_err());
        let bad_cert = okta("bm90IGEgY2VydGlmaWNhdGU=");
        assert!(
            parse_idp_metadata(&bad_cert)
                .unwrap_err()
                .to_string()
                .contains("X.509")
        );
        let bad_url = okta(&cert).replace("https://acme.okta.com/sso/saml", "javascript:alert(1)");
        assert!(parse_idp_metadata(&bad_url).is_err());
        assert!(parse_idp_metadata("<unclosed").is_err());
    }

    #[test]
    fn sp_metadata_escapes_and_round_trips_through_a_parser() {
        let sp = SpEndpoints::for_org("https://r.example/a&b", "o\"1");
        let xml = sp_metadata(&sp, false);
        let doc = Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("entityID"), Some(sp.entity_id.as_str()));
        let acs = root
            .descendants()
            .find(|n| n.tag_name().name() == "AssertionConsumerService")
            .unwrap();
        assert_eq!(acs.attribute("Location"), Some(sp.acs_url.as_str()));
        assert_eq!(acs.attribute("Binding"), Some(BINDING_POST));
    }
}
