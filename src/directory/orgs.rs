//! Organizations and their settings.

use super::legacy_groups::LEGACY_GROUPS;
use super::model::{Actor, LedgerKind, Org, OrgSettings};
use super::posix_rules::IdRanges;
use super::store::ReadTx;
use super::{Directory, DirectoryError, DirectoryResult};
use crate::scim::schema::ResourceType;

/// A change of settings; `None` leaves a toggle as it is.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub scim_api: Option<bool>,
    pub aup: Option<bool>,
    pub sup: Option<bool>,
    pub jit: Option<bool>,
    /// Replaces the names the org reserves beyond the system names.
    pub reserve_names: Option<Vec<String>>,
    /// New UIDs come from this range (identities already given keep theirs).
    pub uid_range: Option<(i64, i64)>,
    /// New GIDs of named groups come from this range.
    pub gid_range: Option<(i64, i64)>,
    /// Whether the ranges may use the blocks reserved by default
    /// (60000-65535, 524288-1879048191).
    pub allow_reserved_ids: Option<bool>,
}

/// Checks the names an org wants to reserve: each a valid POSIX name, and
/// none the current name of one of the org's users or groups (reserving
/// it would not take it away; rename that identity first).
fn check_reserved_names(
    tx: &mut dyn ReadTx,
    org_id: &str,
    names: &[String],
) -> DirectoryResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for n in names {
        let n = n.trim();
        if n.is_empty() {
            continue;
        }
        super::posix_rules::check_name(n).map_err(DirectoryError::InvalidValue)?;
        if let Some(owner) = tx.posix_owner(org_id, LedgerKind::Name, n)? {
            for rtype in [ResourceType::User, ResourceType::Group] {
                if let Some(a) = tx
                    .posix_accounts(org_id, rtype, &[owner.as_str()])?
                    .remove(&owner)
                    && a.name == n
                {
                    return Err(DirectoryError::Conflict(format!(
                        "\"{n}\" is the POSIX name of {} {owner}; give it another name (sunkPosixUsername or sunkPosixGroupName) before reserving this one",
                        rtype.name().to_lowercase()
                    )));
                }
            }
        }
        out.push(n.to_string());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Org names appear in URLs in place of the id, so they are kept to a
/// URL-safe alphabet.
pub fn check_org_name(name: &str) -> DirectoryResult<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > 63 || !ok_chars || !starts_ok {
        return Err(DirectoryError::InvalidValue(format!(
            "\"{name}\" is not a valid organization name: use 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )));
    }
    if uuid::Uuid::parse_str(name).is_ok() {
        return Err(DirectoryError::InvalidValue(
            "an organization name cannot have the form of an id (a UUID)".into(),
        ));
    }
    Ok(())
}

pub(crate) fn find_org(tx: &mut dyn ReadTx, org: &str) -> DirectoryResult<Org> {
    tx.org(org)?.ok_or_else(|| {
        DirectoryError::NotFound(format!(
            "no organization \"{org}\"; `roster org list` shows the ones that exist"
        ))
    })
}

impl Directory {
    /// Creates an org with every toggle off.
    pub async fn create_org(&self, name: &str, legacy_groups: bool) -> DirectoryResult<Org> {
        let now = self.now();
        check_org_name(name)?;
        let name = name.to_string();
        let dir = self.clone();
        let org = self
            .write(move |tx| {
                if tx.org(&name)?.is_some() {
                    return Err(DirectoryError::Conflict(format!(
                        "an organization named \"{name}\" already exists"
                    )));
                }
                let org = Org {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: name.clone(),
                    created: now.clone(),
                    settings: OrgSettings {
                        legacy_groups,
                        ..Default::default()
                    },
                    reserved_names: Vec::new(),
                };
                tx.insert_org(&org)?;
                if legacy_groups {
                    // Each with the roles it grants (docs/console.md, "Roles").
                    for (group, roles) in LEGACY_GROUPS {
                        let id = super::resources::insert_plain_group(tx, &org.id, &now, group)?;
                        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
                        tx.set_group_roles(&org.id, &id, &roles)?;
                    }
                }
                Ok(org)
            })
            .await?;
        let _ = dir;
        Ok(org)
    }

    pub async fn list_orgs(&self) -> DirectoryResult<Vec<Org>> {
        self.read(|tx| Ok(tx.orgs()?)).await
    }

    pub async fn org(&self, org: &str) -> DirectoryResult<Org> {
        let org = org.to_string();
        self.read(move |tx| find_org(tx, &org)).await
    }

    /// Counts of what an org holds, for `org show`.
    pub async fn org_counts(&self, org_id: &str) -> DirectoryResult<(u64, u64, i64)> {
        let org_id = org_id.to_string();
        self.read(move |tx| {
            let all = super::query::Query {
                cond: super::query::Cond::True,
                sort: None,
                window: super::query::Window::Offset {
                    offset: 0,
                    limit: 0,
                },
            };
            let (users, _) = tx.search(&org_id, ResourceType::User, &all)?;
            let (groups, _) = tx.search(&org_id, ResourceType::Group, &all)?;
            Ok((users, groups, tx.last_seq(&org_id)?))
        })
        .await
    }

    pub async fn set_org(
        &self,
        by: &Actor,
        org: &str,
        change: SettingsChange,
    ) -> DirectoryResult<Org> {
        let now = self.now();
        let org = org.to_string();
        let by = by.clone();
        self.write(move |tx| {
            let mut o = find_org(tx, &org)?;
            let before = o.clone();
            if let Some(v) = change.scim_api {
                o.settings.scim_api = v;
            }
            if let Some(v) = change.aup {
                o.settings.aup = v;
            }
            if let Some(v) = change.jit {
                o.settings.jit = v;
            }
            if let Some(names) = &change.reserve_names {
                o.reserved_names = check_reserved_names(tx, &o.id, names)?;
            }
            let mut ids = o.settings.ids;
            if let Some(v) = change.allow_reserved_ids {
                ids.allow_reserved = v;
            }
            ids.uid = change.uid_range.unwrap_or(ids.uid);
            ids.gid = change.gid_range.unwrap_or(ids.gid);
            if ids != o.settings.ids {
                for (what, range) in [("UID", ids.uid), ("GID", ids.gid)] {
                    IdRanges::check_range(what, range, ids.allow_reserved)
                        .map_err(DirectoryError::InvalidValue)?;
                }
                o.settings.ids = ids;
            }
            let turning_sup_on = change.sup == Some(true) && !o.settings.sup;
            if let Some(v) = change.sup {
                o.settings.sup = v;
            }
            tx.update_org(&o)?;
            if turning_sup_on {
                super::resources::assign_all(tx, &o.id)?;
            }
            if change.sup.is_some() {
                let entry = super::model::Change {
                    subject: super::model::Subject::Org,
                    resource_id: o.id.clone(),
                    kind: super::model::ChangeKind::Updated,
                    at: now.clone(),
                };
                tx.append_change(&o.id, &entry)?;
            }
            let changed = settings_changes(&before, &o);
            if !changed.is_empty() {
                let detail = changed.join(", ");
                super::audit::record_as(tx, &o.id, &by, &now, "org.settings", &o.name, detail)?;
            }
            Ok(o)
        })
        .await
    }
}

/// What a settings change changed, in the words of `roster org set`.
fn settings_changes(before: &Org, after: &Org) -> Vec<String> {
    let on = |v: bool| if v { "on" } else { "off" };
    let (a, b) = (&before.settings, &after.settings);
    let mut out = Vec::new();
    for (name, was, is) in [
        ("scim-api", a.scim_api, b.scim_api),
        ("aup", a.aup, b.aup),
        ("sup", a.sup, b.sup),
        ("jit", a.jit, b.jit),
        (
            "allow-reserved-ids",
            a.ids.allow_reserved,
            b.ids.allow_reserved,
        ),
    ] {
        if was != is {
            out.push(format!("{name} {}", on(is)));
        }
    }
    for (name, was, is) in [
        ("uid-range", a.ids.uid, b.ids.uid),
        ("gid-range", a.ids.gid, b.ids.gid),
    ] {
        if was != is {
            out.push(format!("{name} {}-{}", is.0, is.1));
        }
    }
    if before.reserved_names != after.reserved_names {
        out.push(format!("reserve-names {}", after.reserved_names.join(",")));
    }
    out
}

/// Where `serve` records its public URL for the command line.
const PUBLIC_URL: &str = "public_url";

impl Directory {
    /// Records the URL clients reach the server at, so that commands run
    /// without `--public-url` print the same URLs the server uses.
    pub async fn record_public_url(&self, url: &str) -> DirectoryResult<()> {
        let url = url.to_string();
        self.write(move |tx| {
            if tx.server_setting(PUBLIC_URL)?.as_deref() != Some(url.as_str()) {
                tx.put_server_setting(PUBLIC_URL, &url)?;
            }
            Ok(())
        })
        .await
    }

    /// The public URL `serve` last recorded, if any.
    pub async fn recorded_public_url(&self) -> DirectoryResult<Option<String>> {
        self.read_indexed(|tx| Ok(tx.server_setting(PUBLIC_URL)?))
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::directory::scratch::with_directory;

    #[test]
    fn org_names_are_checked_and_unique_case_insensitively() {
        with_directory(|d| async move {
            for bad in ["", "-acme", "ac me", "acme/1", &"a".repeat(64)] {
                let e = d.create_org(bad, false).await;
                assert!(matches!(e, Err(DirectoryError::InvalidValue(_))), "{bad:?}");
            }
            let o = d.create_org("Acme", false).await.unwrap();
            assert!(!o.settings.scim_api && !o.settings.aup && !o.settings.sup);
            assert!(o.settings.jit, "JIT accounts start on");
            let dup = d.create_org("acme", false).await;
            assert!(matches!(dup, Err(DirectoryError::Conflict(_))));
            assert_eq!(d.org("ACME").await.unwrap().id, o.id, "found by name");
            assert_eq!(d.org(&o.id).await.unwrap().name, "Acme", "and by id");
        });
    }

    #[test]
    fn legacy_groups_are_created_and_keep_their_names() {
        with_directory(|d| async move {
            d.create_org("acme", true).await.unwrap();
            let p = d.admin("acme").await.unwrap();
            for (name, _) in LEGACY_GROUPS {
                d.find(&p, ResourceType::Group, name).await.unwrap();
            }
            let push = serde_json::json!({"displayName": "Admin"});
            let e = d.create_resource(&p, ResourceType::Group, push).await;
            assert!(matches!(e, Err(DirectoryError::Conflict(_))), "{e:?}");
        });
    }

    #[test]
    fn toggles_change_only_what_is_given_and_reserved_names_are_checked() {
        with_directory(|d| async move {
            d.create_org("acme", false).await.unwrap();
            let on = SettingsChange {
                scim_api: Some(true),
                ..Default::default()
            };
            let o = d
                .set_org(&crate::directory::scratch::tester(), "acme", on)
                .await
                .unwrap();
            assert!(o.settings.scim_api && !o.settings.aup && o.settings.jit);
            let names = SettingsChange {
                reserve_names: Some(vec!["svc-backup".into(), "ops".into()]),
                ..Default::default()
            };
            let o = d
                .set_org(&crate::directory::scratch::tester(), "acme", names)
                .await
                .unwrap();
            assert_eq!(o.reserved_names.len(), 2);
            assert!(o.settings.scim_api, "kept");
            let bad = SettingsChange {
                reserve_names: Some(vec!["Not A Name".into()]),
                ..Default::default()
            };
            let e = d
                .set_org(&crate::directory::scratch::tester(), "acme", bad)
                .await;
            assert!(matches!(e, Err(DirectoryError::InvalidValue(_))), "{e:?}");
            assert_eq!(d.org("acme").await.unwrap().reserved_names.len(), 2);
        });
    }
}
