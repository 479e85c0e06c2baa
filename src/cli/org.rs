//! `roster org ...`: organizations (tenants) and their SCIM Configuration
//! toggles (docs/scim.md, "Endpoints"; docs/console.md, "Pages").

use clap::Subcommand;
use serde_json::json;

use super::output::{on_off, print_json, yes_no};
use super::{Global, Toggle, cli_public_url, err, open_directory};
use roster::directory::model::Org;
use roster::directory::orgs::SettingsChange;

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Create an organization; prints its id. Every toggle starts off.
    Create {
        /// A unique name: letters, digits, '-', '_', '.'; usable in URLs in place of the id.
        name: String,
        /// Create the legacy default groups admin, metrics, read, write and billing_viewer.
        #[arg(long)]
        legacy_groups: bool,
    },
    /// List organizations.
    List,
    /// Show an organization's settings, URLs and counts.
    Show {
        /// Organization id or name.
        org: String,
    },
    /// Change an organization's toggles.
    Set {
        /// Organization id or name.
        org: String,
        /// Enable SCIM API: off, every /scim request of the org gets 403.
        #[arg(long, value_enum)]
        scim_api: Option<Toggle>,
        /// Enable Automated User Provisioning: off, SCIM writes get 403.
        #[arg(long, value_enum)]
        aup: Option<Toggle>,
        /// Enable SUNK User Provisioning (POSIX identities for clusters).
        #[arg(long, value_enum)]
        sup: Option<Toggle>,
        /// Just-in-time accounts: a person's first SAML sign-in creates their user (on by default).
        #[arg(long, value_enum)]
        jit: Option<Toggle>,
        /// POSIX names no user or group of the org may take, besides the
        /// system names every org keeps (root, sudo, wheel, slurm, ...):
        /// comma-separated, replacing the org's list; "" clears it. Add the
        /// local accounts and groups your nodes have.
        #[arg(long, value_name = "NAME,NAME")]
        reserve_names: Option<String>,
        /// New users' UIDs come from this range, such as 5000-59999 (the
        /// default is 100000-199999); identities already given keep theirs.
        #[arg(long, value_name = "LOW-HIGH", value_parser = parse_range)]
        uid_range: Option<(i64, i64)>,
        /// New named groups' GIDs come from this range (default 200000-299999).
        #[arg(long, value_name = "LOW-HIGH", value_parser = parse_range)]
        gid_range: Option<(i64, i64)>,
        /// Allow ranges in the blocks reserved by default, 60000-65535 and
        /// 524288-1879048191 (AD/sssd-mapped ids often sit there); 0-999,
        /// 65534 and 2^31 and above stay refused.
        #[arg(long, value_enum)]
        allow_reserved_ids: Option<Toggle>,
    },
}

/// "LOW-HIGH", such as 5000-59999.
fn parse_range(s: &str) -> Result<(i64, i64), String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("\"{s}\" is not a range: give LOW-HIGH, such as 5000-59999"))?;
    let num = |v: &str| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| format!("\"{v}\" in \"{s}\" is not a number"))
    };
    Ok((num(lo)?, num(hi)?))
}

fn org_json(o: &Org, base: &str) -> serde_json::Value {
    json!({
        "id": o.id,
        "name": o.name,
        "created": o.created,
        "scim_api": o.settings.scim_api,
        "aup": o.settings.aup,
        "sup": o.settings.sup,
        "legacy_groups": o.settings.legacy_groups,
        "jit": o.settings.jit,
        "reserved_names": o.reserved_names,
        "uid_range": [o.settings.ids.uid.0, o.settings.ids.uid.1],
        "gid_range": [o.settings.ids.gid.0, o.settings.ids.gid.1],
        "allow_reserved_ids": o.settings.ids.allow_reserved,
        "scim_base_url": format!("{base}/scim/{}", o.id),
    })
}

pub async fn run(g: &Global, cmd: &OrgCommand) -> Result<(), String> {
    let dir = open_directory(g)?;
    let base = cli_public_url(g, &dir).await;
    match cmd {
        OrgCommand::Create {
            name,
            legacy_groups,
        } => {
            let o = dir.create_org(name, *legacy_groups).await.map_err(err)?;
            if g.json {
                print_json(
                    json!({"id": o.id, "name": o.name, "scim_base_url": format!("{base}/scim/{}", o.id)}),
                );
            } else {
                println!("{}", o.id);
                eprintln!(
                    "Created \"{}\". Next: roster org set {} --scim-api on --aup on && roster token create {} --name Okta",
                    o.name, o.name, o.name
                );
            }
        }
        OrgCommand::List => {
            let orgs = dir.list_orgs().await.map_err(err)?;
            if g.json {
                print_json(json!(
                    orgs.iter().map(|o| org_json(o, &base)).collect::<Vec<_>>()
                ));
            } else if orgs.is_empty() {
                eprintln!("No organizations yet. Create one with: roster org create NAME");
            } else {
                println!(
                    "{:<36}  {:<20}  {:<8} {:<4} {:<4}",
                    "ID", "NAME", "SCIM-API", "AUP", "SUP"
                );
                for o in orgs {
                    println!(
                        "{:<36}  {:<20}  {:<8} {:<4} {:<4}",
                        o.id,
                        o.name,
                        on_off(o.settings.scim_api),
                        on_off(o.settings.aup),
                        on_off(o.settings.sup)
                    );
                }
            }
        }
        OrgCommand::Show { org } => {
            let (o, saml) = dir.saml_settings(org).await.map_err(err)?;
            let (users, groups, seq) = dir.org_counts(&o.id).await.map_err(err)?;
            if g.json {
                let mut v = org_json(&o, &base);
                if let Some(m) = v.as_object_mut() {
                    m.insert("users".into(), json!(users));
                    m.insert("groups".into(), json!(groups));
                    m.insert("change_seq".into(), json!(seq));
                    m.insert(
                        "saml_idp_entity_id".into(),
                        json!(saml.as_ref().map(|c| c.idp.entity_id.clone())),
                    );
                }
                print_json(v);
            } else {
                println!("id:             {}", o.id);
                println!("name:           {}", o.name);
                println!("created:        {}", o.created);
                println!("SCIM base URL:  {base}/scim/{}", o.id);
                println!("SCIM API:       {}", on_off(o.settings.scim_api));
                println!("AUP:            {}", on_off(o.settings.aup));
                println!("SUP:            {}", on_off(o.settings.sup));
                println!("JIT accounts:   {}", on_off(o.settings.jit));
                println!(
                    "reserved names: {} (and the system names every org keeps)",
                    if o.reserved_names.is_empty() {
                        "none of its own".to_string()
                    } else {
                        o.reserved_names.join(", ")
                    }
                );
                match &saml {
                    Some(c) => println!("SAML SSO:       on, IdP {}", c.idp.entity_id),
                    None => println!(
                        "SAML SSO:       not configured (roster saml show {})",
                        o.name
                    ),
                }
                println!("legacy groups:  {}", yes_no(o.settings.legacy_groups));
                let ids = o.settings.ids;
                println!(
                    "id ranges:      UIDs {}-{}, GIDs {}-{}{}",
                    ids.uid.0,
                    ids.uid.1,
                    ids.gid.0,
                    ids.gid.1,
                    if ids.allow_reserved {
                        " (reserved blocks allowed)"
                    } else {
                        ""
                    }
                );
                println!("users:          {users}");
                println!("groups:         {groups}");
                println!("change seq:     {seq}");
            }
        }
        OrgCommand::Set {
            org,
            scim_api,
            aup,
            sup,
            jit,
            reserve_names,
            uid_range,
            gid_range,
            allow_reserved_ids,
        } => {
            if scim_api.is_none()
                && aup.is_none()
                && sup.is_none()
                && jit.is_none()
                && reserve_names.is_none()
                && uid_range.is_none()
                && gid_range.is_none()
                && allow_reserved_ids.is_none()
            {
                return Err(
                        "nothing to set: give --scim-api, --aup, --sup or --jit with on or off, --reserve-names, or --uid-range/--gid-range"
                            .into(),
                    );
            }
            let change = SettingsChange {
                scim_api: scim_api.map(Into::into),
                aup: aup.map(Into::into),
                sup: sup.map(Into::into),
                jit: jit.map(Into::into),
                reserve_names: reserve_names
                    .as_deref()
                    .map(|l| l.split(',').map(|n| n.trim().to_string()).collect()),
                uid_range: *uid_range,
                gid_range: *gid_range,
                allow_reserved_ids: allow_reserved_ids.map(Into::into),
            };
            let o = dir
                .set_org(&super::cli_actor(), org, change)
                .await
                .map_err(err)?;
            if g.json {
                print_json(org_json(&o, &base));
            } else {
                println!(
                    "{}: SCIM API {}, AUP {}, SUP {}, JIT accounts {}",
                    o.name,
                    on_off(o.settings.scim_api),
                    on_off(o.settings.aup),
                    on_off(o.settings.sup),
                    on_off(o.settings.jit)
                );
            }
        }
    }
    Ok(())
}
