//! `roster saml ...`: SAML SSO for an org: what to paste into the IdP, and
//! what to take from it.

use clap::Subcommand;
use serde_json::json;

use super::output::{on_off, print_json, yes_no};
use super::{Global, Toggle, cli_public_url, open_directory};
use roster::directory::model::SamlSettings;
use roster::saml::{Certificate, IdpConfig, IdpInput, InputNames, SpEndpoints};

#[derive(Subcommand)]
pub enum SamlCommand {
    /// Show what to paste into the IdP (ACS URL, Entity ID) and the IdP configured, if any.
    Show {
        /// Organization id or name.
        org: String,
    },
    /// Configure the org's IdP, from its metadata (Entra: App Federation
    /// Metadata URL) or from its sign-on URL, issuer and signing certificate
    /// (Okta: Sign On > More details). Replaces any earlier configuration.
    #[command(after_help = "\
Examples:
  roster saml set acme --metadata-url https://login.microsoftonline.com/TENANT/federationmetadata/2007-06/federationmetadata.xml?appid=APP
  roster saml set acme --sso-url https://acme.okta.com/app/acme_roster_1/exk1/sso/saml \\
      --idp-entity-id http://www.okta.com/exk1 --certificate okta.cert

Responses must be signed with this certificate (SHA-256 or stronger); a configuration without one is refused.")]
    Set {
        /// Organization id or name.
        org: String,
        /// The IdP's metadata XML, from a file.
        #[arg(long, conflicts_with_all = ["metadata_url", "sso_url", "idp_entity_id"])]
        metadata_file: Option<std::path::PathBuf>,
        /// The IdP's metadata, fetched from this URL now (not refreshed later).
        #[arg(long, conflicts_with_all = ["sso_url", "idp_entity_id"])]
        metadata_url: Option<String>,
        /// The IdP's sign-on URL (Okta: Sign on URL; Entra: Login URL).
        #[arg(long)]
        sso_url: Option<String>,
        /// The IdP's entity id (Okta: Issuer; Entra: Microsoft Entra Identifier).
        #[arg(long)]
        idp_entity_id: Option<String>,
        /// The IdP's signing certificate: a PEM file (several for a rollover) or base64.
        #[arg(long)]
        certificate: Option<std::path::PathBuf>,
        /// Refuse responses whose assertion itself is not signed.
        #[arg(long)]
        require_signed_assertion: bool,
        /// Accept sign-ins started at the IdP (its dashboard tiles). Off by default: an
        /// unsolicited response is login CSRF by design (docs/security.md).
        #[arg(long, value_enum, default_value = "off")]
        allow_idp_initiated: Toggle,
    },
    /// Turn SAML SSO off for an org: no sign-in is accepted until it is set again.
    Disable {
        /// Organization id or name.
        org: String,
    },
}

fn sp_json(sp: &SpEndpoints) -> serde_json::Value {
    json!({
        "acs_url": sp.acs_url,
        "entity_id": sp.entity_id,
        "metadata_url": sp.entity_id,
        "login_url": sp.login_url,
        "test_url": sp.login_url.trim_end_matches("/login").to_string() + "/test",
    })
}

fn settings_json(s: &SamlSettings) -> serde_json::Value {
    json!({
        "idp_entity_id": s.idp.entity_id,
        "sso_url": s.idp.sso_url,
        "certificates": s.idp.certificates.iter().map(|c| json!({
            "sha256_fingerprint": c.fingerprint(),
            "description": c.describe(),
            "days_left": c.days_left(),
        })).collect::<Vec<_>>(),
        "require_signed_assertion": s.idp.require_signed_assertion,
        "allow_idp_initiated": s.idp.allow_idp_initiated,
        "metadata_url": s.metadata_url,
        "updated": s.updated,
    })
}

fn warn_expiry(s: &SamlSettings) {
    for w in roster::saml::config::expiry_warnings(&s.idp.certificates) {
        eprintln!("warning: {w}");
    }
}

fn print_settings(s: &SamlSettings) {
    println!("IdP entity id:             {}", s.idp.entity_id);
    println!("IdP sign-on URL:           {}", s.idp.sso_url);
    for c in &s.idp.certificates {
        println!("signing certificate:       SHA-256 {}", c.fingerprint());
        println!("                           {}", c.describe());
    }
    println!(
        "require signed assertion:  {}",
        yes_no(s.idp.require_signed_assertion)
    );
    println!(
        "IdP-initiated sign-in:     {}",
        on_off(s.idp.allow_idp_initiated)
    );
    if let Some(u) = &s.metadata_url {
        println!("metadata fetched from:     {u}");
    }
    println!("updated:                   {}", s.updated);
}

fn read_file(path: &std::path::Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

pub async fn run(g: &Global, cmd: &SamlCommand) -> Result<(), String> {
    let dir = open_directory(g)?;
    let public_url = &cli_public_url(g, &dir).await;
    let as_json = g.json;
    match cmd {
        SamlCommand::Show { org } => {
            let (o, settings) = dir.saml_settings(org).await.map_err(|e| e.to_string())?;
            let sp = SpEndpoints::for_org(public_url, &o.id);
            if as_json {
                print_json(json!({
                    "org": {"id": o.id, "name": o.name},
                    "sp": sp_json(&sp),
                    "idp": settings.as_ref().map(settings_json),
                }));
                return Ok(());
            }
            println!("Paste into the IdP:");
            println!(
                "  ACS URL (Okta: Single sign-on URL; Entra: Reply URL):  {}",
                sp.acs_url
            );
            println!(
                "  Entity ID (Okta: Audience URI; Entra: Identifier):     {}",
                sp.entity_id
            );
            println!("  attribute statements: first_name, last_name, email");
            println!("SP metadata:   {}", sp.entity_id);
            println!("sign-in URL:   {}", sp.login_url);
            match &settings {
                Some(s) => {
                    println!(
                        "test URL:      {}",
                        sp_json(&sp)
                            .get("test_url")
                            .and_then(|u| u.as_str())
                            .unwrap_or_default()
                    );
                    println!();
                    print_settings(s);
                    warn_expiry(s);
                }
                None => {
                    println!();
                    println!(
                        "SAML SSO is not configured. Next: roster saml set {} --metadata-url URL (Entra), or --sso-url URL --idp-entity-id ID --certificate FILE (Okta)",
                        o.name
                    );
                }
            }
            Ok(())
        }
        SamlCommand::Set {
            org,
            metadata_file,
            metadata_url,
            sso_url,
            idp_entity_id,
            certificate,
            require_signed_assertion,
            allow_idp_initiated,
        } => {
            let metadata_xml = match (metadata_file, metadata_url) {
                (Some(f), _) => Some(read_file(f, "the metadata file")?),
                (None, Some(u)) => {
                    // As the operator: any address this machine reaches
                    // (docs/security.md, "The SAML metadata URL").
                    let fetcher = roster::idp_metadata::Fetcher::for_operator();
                    Some(
                        fetcher
                            .fetch(u, "--metadata-url", "--metadata-file")
                            .await?,
                    )
                }
                (None, None) => None,
            };
            let certificates = match certificate {
                Some(path) => Certificate::parse_file(&read_file(path, "the certificate file")?)
                    .map_err(|e| format!("{e} ({})", path.display()))?,
                None => Vec::new(),
            };
            let idp = IdpConfig::from_input(
                IdpInput {
                    metadata_xml: metadata_xml.as_deref(),
                    sso_url: sso_url.as_deref().unwrap_or_default(),
                    entity_id: idp_entity_id.as_deref().unwrap_or_default(),
                    certificates,
                    require_signed_assertion: *require_signed_assertion,
                    allow_idp_initiated: (*allow_idp_initiated).into(),
                },
                &InputNames {
                    metadata: "--metadata-file or --metadata-url",
                    sso_url: "--sso-url",
                    entity_id: "--idp-entity-id",
                    certificate: "--certificate",
                },
            )
            .map_err(|e| e.to_string())?;
            let (o, s) = dir
                .set_saml(&super::cli_actor(), org, idp, metadata_url.clone())
                .await
                .map_err(|e| e.to_string())?;
            let sp = SpEndpoints::for_org(public_url, &o.id);
            if as_json {
                print_json(
                    json!({"org": {"id": o.id, "name": o.name}, "sp": sp_json(&sp), "idp": settings_json(&s)}),
                );
            } else {
                print_settings(&s);
                warn_expiry(&s);
                eprintln!(
                    "SAML SSO is on for \"{}\". Test it: open {} (or the IdP's Test button).",
                    o.name,
                    sp_json(&sp)
                        .get("test_url")
                        .and_then(|u| u.as_str())
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        SamlCommand::Disable { org } => {
            let had = dir
                .disable_saml(&super::cli_actor(), org)
                .await
                .map_err(|e| e.to_string())?;
            if as_json {
                print_json(json!({"disabled": had}));
            } else if had {
                println!(
                    "SAML SSO is off for \"{org}\"; sessions already begun last until they expire or sign out."
                );
            } else {
                println!("SAML SSO was not configured for \"{org}\"; nothing changed.");
            }
            Ok(())
        }
    }
}
