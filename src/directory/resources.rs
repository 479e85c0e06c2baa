//! Users and groups: create, read, replace, patch and delete, with
//! the rules that hold for every write (uniqueness, flat groups, versions,
//! the change log).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::cluster_scope::{check_in_scope, scope_views};
use super::memberships::{check_members, check_unlocked, take_members};
use super::model::{
    Access, Change, ChangeKind, ExpectedVersion, MemberRef, Principal, ResourceView,
    StoredResource, Subject,
};
use super::query::{Cond, Query, Window, fold};
use super::ssh_keys;
use super::store::{ReadTx, WriteTx};
use super::{Directory, DirectoryError, DirectoryResult};
use super::{identifiers, posix_assign};
use crate::scim::patch::{self, Operation};
use crate::scim::resource::{self, Document};
use crate::scim::schema::{COREWEAVE_USER_SCHEMA, ResourceType};

fn check_if_match(
    expected: Option<&ExpectedVersion>,
    current: &StoredResource,
) -> DirectoryResult<()> {
    match expected {
        Some(e) if !e.accepts(current.version) => Err(DirectoryError::PreconditionFailed {
            current: current.version,
        }),
        _ => Ok(()),
    }
}

pub(super) fn require_writes(p: &Principal) -> DirectoryResult<()> {
    if p.cluster_id.is_some() {
        return Err(DirectoryError::Forbidden(
            "a cluster token is read-only; write with the org's SCIM token or the roster command"
                .into(),
        ));
    }
    if p.access < Access::Admin {
        let who = p
            .token_name
            .strip_prefix("console: ")
            .unwrap_or(&p.token_name);
        return Err(DirectoryError::Forbidden(Access::Admin.refusal(who)));
    }
    if p.via_scim && !p.org.settings.aup {
        return Err(DirectoryError::Forbidden(format!(
            "Automated User Provisioning is off for \"{}\", so SCIM writes are refused; turn it on with `roster org set {} --aup on`",
            p.org.name, p.org.name
        )));
    }
    Ok(())
}

/// Writes to one user's own account: a signed-in person may set their own
/// SSH keys whatever their roles (the console's Settings page;
/// docs/console.md, "Roles" and "Pages"); anything else needs what every
/// write needs.
pub(super) fn require_writes_to_self(p: &Principal, user_id: &str) -> DirectoryResult<()> {
    if p.cluster_id.is_none() && !p.via_scim && p.user_id.as_deref() == Some(user_id) {
        return Ok(());
    }
    require_writes(p)
}

/// The keys a resource is stored under, from its document. Its name
/// (`userName`, a group's `displayName`) must be in NFKC.
fn keys(
    rtype: ResourceType,
    doc: &Document,
) -> DirectoryResult<(String, Option<String>, Option<String>)> {
    let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let (attr, name) = match rtype {
        ResourceType::User => ("userName", text("userName")),
        ResourceType::Group => ("displayName", text("displayName")),
    };
    let name = name.unwrap_or_default();
    identifiers::check_identifier(attr, &name)?;
    Ok((
        fold(&name),
        text("displayName").map(|d| fold(&d)),
        text("externalId"),
    ))
}

fn check_unique(
    tx: &mut dyn ReadTx,
    org_id: &str,
    rtype: ResourceType,
    name_key: &str,
    doc: &Document,
    own_id: Option<&str>,
) -> DirectoryResult<()> {
    if let Some(existing) = tx.resource_by_name(org_id, rtype, name_key)?
        && Some(existing.id.as_str()) != own_id
    {
        let (attr, value) = match rtype {
            ResourceType::User => ("userName", doc.get("userName")),
            ResourceType::Group => ("displayName", doc.get("displayName")),
        };
        let value = value.and_then(Value::as_str).unwrap_or_default();
        if rtype == ResourceType::Group
            && let Some(org) = tx.org(org_id)?
            && org.settings.legacy_groups
            && super::legacy_groups::LEGACY_GROUPS
                .iter()
                .any(|(g, _)| *g == name_key)
        {
            return Err(DirectoryError::Conflict(format!(
                "\"{value}\" is a legacy default group of this organization. To push a group with this name: \
                 create a group with a new name and the same policies (roster group create {org} NEW-NAME), \
                 delete the default group (roster group delete {org} {name_key}), then push again",
                org = org.name
            )));
        }
        return Err(DirectoryError::Conflict(format!(
            "{attr} \"{value}\" is already used by {} {} (compared case-insensitively)",
            rtype.name().to_lowercase(),
            existing.id
        )));
    }
    Ok(())
}

pub(crate) fn insert(
    tx: &mut dyn WriteTx,
    org_id: &str,
    now: &str,
    rtype: ResourceType,
    doc: Document,
    members: &[String],
) -> DirectoryResult<ResourceView> {
    let sup = sup_enabled(tx, org_id)?;
    let mut doc = doc;
    if sup {
        check_ssh_keys(&mut doc)?;
    }
    let (name_key, display_key, external_id) = keys(rtype, &doc)?;
    check_unique(tx, org_id, rtype, &name_key, &doc, None)?;
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    check_members(tx, org_id, &refs)?;
    let t = now.to_string();
    let mut stored = StoredResource {
        position: 0,
        rtype,
        id: uuid::Uuid::new_v4().to_string(),
        name_key,
        display_key,
        external_id,
        doc,
        created: t.clone(),
        modified: t.clone(),
        version: 1,
    };
    stored.position = tx.insert_resource(org_id, &stored)?;
    if !refs.is_empty() {
        tx.add_members(org_id, &stored.id, &refs)?;
    }
    if sup {
        posix_assign::assign(tx, org_id, &stored)?;
    }
    tx.append_change(
        org_id,
        &Change {
            subject: Subject::Resource(rtype),
            resource_id: stored.id.clone(),
            kind: ChangeKind::Created,
            at: t,
        },
    )?;
    view(tx, org_id, stored, true)
}

/// With SUP on, SSH keys are checked and stored in canonical form
/// (docs/scim.md, "SUNK User Provisioning"). With SUP off they are inert
/// and kept as sent.
fn check_ssh_keys(doc: &mut Document) -> DirectoryResult<()> {
    let Some(Value::Array(keys)) = doc
        .get_mut(COREWEAVE_USER_SCHEMA)
        .and_then(|e| e.get_mut("sunkSshKeys"))
    else {
        return Ok(());
    };
    let lines: Vec<String> = keys
        .iter()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    let checked = ssh_keys::check_keys(&lines).map_err(DirectoryError::InvalidValue)?;
    *keys = checked.into_iter().map(Value::String).collect();
    Ok(())
}

fn sup_enabled(tx: &mut dyn ReadTx, org_id: &str) -> DirectoryResult<bool> {
    Ok(tx.org(org_id)?.is_some_and(|o| o.settings.sup))
}

/// Gives every user and group of the org its POSIX identity: turning SUP
/// on for an org that already has them.
pub(crate) fn assign_all(tx: &mut dyn WriteTx, org_id: &str) -> DirectoryResult<()> {
    for rtype in [ResourceType::User, ResourceType::Group] {
        let everything = Query {
            cond: Cond::True,
            sort: None,
            window: Window::Offset {
                offset: 0,
                limit: u64::MAX >> 1,
            },
        };
        let (_, all) = tx.search(org_id, rtype, &everything)?;
        for r in all {
            posix_assign::assign(tx, org_id, &r)?;
        }
    }
    Ok(())
}

/// Creates a group with just a display name (legacy default groups).
pub(crate) fn insert_plain_group(
    tx: &mut dyn WriteTx,
    org_id: &str,
    now: &str,
    name: &str,
) -> DirectoryResult<String> {
    let mut doc = Document::new();
    doc.insert("displayName".into(), Value::String(name.into()));
    Ok(insert(tx, org_id, now, ResourceType::Group, doc, &[])?
        .stored
        .id)
}

pub(crate) fn view(
    tx: &mut dyn ReadTx,
    org_id: &str,
    stored: StoredResource,
    with_members: bool,
) -> DirectoryResult<ResourceView> {
    let sup = tx.org(org_id)?.is_some_and(|o| o.settings.sup);
    let mut v = views(tx, org_id, vec![stored], with_members, sup)?;
    v.pop()
        .ok_or_else(|| DirectoryError::NotFound("resource vanished".into()))
}

pub(super) fn views(
    tx: &mut dyn ReadTx,
    org_id: &str,
    stored: Vec<StoredResource>,
    with_members: bool,
    sup: bool,
) -> DirectoryResult<Vec<ResourceView>> {
    let user_ids: Vec<&str> = stored
        .iter()
        .filter(|s| s.rtype == ResourceType::User)
        .map(|s| s.id.as_str())
        .collect();
    let group_ids: Vec<&str> = stored
        .iter()
        .filter(|s| s.rtype == ResourceType::Group)
        .map(|s| s.id.as_str())
        .collect();
    let mut groups = if user_ids.is_empty() {
        Default::default()
    } else {
        tx.groups_of(org_id, &user_ids)?
    };
    let mut members: HashMap<String, Vec<MemberRef>> = if group_ids.is_empty() || !with_members {
        Default::default()
    } else {
        tx.members(org_id, &group_ids)?
    };
    let (mut user_accounts, mut group_accounts) = if sup {
        (
            tx.posix_accounts(org_id, ResourceType::User, &user_ids)?,
            tx.posix_accounts(org_id, ResourceType::Group, &group_ids)?,
        )
    } else {
        Default::default()
    };
    if sup && !members.is_empty() {
        // Members carry their POSIX username, which CoreWeave's nsscache
        // fork reads for the group map (scim_path_username = members/display).
        let ids: Vec<String> = members
            .values()
            .flatten()
            .map(|m| m.user_id.clone())
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let names = tx.posix_accounts(org_id, ResourceType::User, &refs)?;
        for m in members.values_mut().flatten() {
            m.posix_name = names.get(&m.user_id).map(|a| a.name.clone());
        }
    }
    Ok(stored
        .into_iter()
        .map(|s| match s.rtype {
            ResourceType::User => {
                let g = groups.remove(&s.id).unwrap_or_default();
                let posix = user_accounts.remove(&s.id);
                ResourceView {
                    stored: s,
                    members: None,
                    groups: Some(g),
                    posix,
                }
            }
            ResourceType::Group => {
                let m = if with_members {
                    Some(members.remove(&s.id).unwrap_or_default())
                } else {
                    None
                };
                let posix = group_accounts.remove(&s.id);
                ResourceView {
                    stored: s,
                    members: m,
                    groups: None,
                    posix,
                }
            }
        })
        .collect())
}

/// Stores `new_doc` (and for groups `new_members`) over `current`. Nothing
/// is written, and no version is spent, when nothing changed: a repeated
/// push from the IdP is free.
pub(super) fn replace_stored(
    tx: &mut dyn WriteTx,
    org_id: &str,
    now: &str,
    current: StoredResource,
    new_doc: Document,
    new_members: Option<Vec<String>>,
    by_idp: bool,
) -> DirectoryResult<ResourceView> {
    let sup = sup_enabled(tx, org_id)?;
    let mut new_doc = new_doc;
    if sup {
        check_ssh_keys(&mut new_doc)?;
    }
    let rtype = current.rtype;
    let (name_key, display_key, external_id) = keys(rtype, &new_doc)?;
    if name_key != current.name_key {
        check_unique(tx, org_id, rtype, &name_key, &new_doc, Some(&current.id))?;
    }
    let (to_add, to_remove) = match &new_members {
        Some(wanted) => {
            let have: Vec<String> = tx
                .members(org_id, &[current.id.as_str()])?
                .remove(&current.id)
                .unwrap_or_default()
                .into_iter()
                .map(|m| m.user_id)
                .collect();
            let have_set: HashSet<&str> = have.iter().map(String::as_str).collect();
            let want_set: HashSet<&str> = wanted.iter().map(String::as_str).collect();
            let add: Vec<String> = wanted
                .iter()
                .filter(|w| !have_set.contains(w.as_str()))
                .cloned()
                .collect();
            let remove: Vec<String> = have
                .iter()
                .filter(|h| !want_set.contains(h.as_str()))
                .cloned()
                .collect();
            (add, remove)
        }
        None => (Vec::new(), Vec::new()),
    };
    let add_refs: Vec<&str> = to_add.iter().map(String::as_str).collect();
    check_members(tx, org_id, &add_refs)?;
    if by_idp && !(to_add.is_empty() && to_remove.is_empty()) {
        check_unlocked(tx, org_id, &current)?;
    }
    let doc_changed = new_doc != current.doc;
    if !doc_changed && to_add.is_empty() && to_remove.is_empty() {
        return view(tx, org_id, current, true);
    }
    let t = now.to_string();
    let updated = StoredResource {
        name_key,
        display_key,
        external_id,
        doc: new_doc,
        modified: t.clone(),
        version: current.version + 1,
        ..current
    };
    tx.update_resource(org_id, &updated)?;
    if rtype == ResourceType::User && !updated.is_active() {
        // Deactivation ends the person's sessions in the same transaction
        // (docs/security.md): were they only refused while inactive, an
        // IdP's later `active: true` would bring an old cookie back.
        tx.end_user_sessions(org_id, &updated.id, &t)?;
    }
    if sup {
        posix_assign::assign(tx, org_id, &updated)?;
    }
    if !add_refs.is_empty() {
        tx.add_members(org_id, &updated.id, &add_refs)?;
    }
    if !to_remove.is_empty() {
        let refs: Vec<&str> = to_remove.iter().map(String::as_str).collect();
        tx.remove_members(org_id, &updated.id, &refs)?;
    }
    let kind = if doc_changed {
        ChangeKind::Updated
    } else {
        ChangeKind::MembersChanged
    };
    tx.append_change(
        org_id,
        &Change {
            subject: Subject::Resource(rtype),
            resource_id: updated.id.clone(),
            kind,
            at: t,
        },
    )?;
    view(tx, org_id, updated, true)
}

pub(super) fn load(
    tx: &mut dyn ReadTx,
    org_id: &str,
    rtype: ResourceType,
    id: &str,
) -> DirectoryResult<StoredResource> {
    tx.resource(org_id, rtype, id)?
        .ok_or_else(|| DirectoryError::no_such(rtype, id))
}

impl Directory {
    pub async fn create_resource(
        &self,
        p: &Principal,
        rtype: ResourceType,
        body: Value,
    ) -> DirectoryResult<ResourceView> {
        let now = self.now();
        require_writes(p)?;
        let mut doc = resource::from_request(rtype, &body)?;
        let members = if rtype == ResourceType::Group {
            take_members(&mut doc)?
        } else {
            Vec::new()
        };
        let org_id = p.org.id.clone();
        let who = p.clone();
        self.write(move |tx| {
            let v = insert(tx, &org_id, &now, rtype, doc.clone(), &members)?;
            super::audit::audit_change(tx, &who, &now, "create", None, &v)?;
            Ok(v)
        })
        .await
    }

    pub async fn get_resource(
        &self,
        p: &Principal,
        rtype: ResourceType,
        id: &str,
        with_members: bool,
    ) -> DirectoryResult<ResourceView> {
        let org_id = p.org.id.clone();
        let id = id.to_string();
        let p = p.clone();
        self.read_indexed(move |tx| {
            let s = load(tx, &org_id, rtype, &id)?;
            check_in_scope(tx, &org_id, &p, &s)?;
            let mut v = [view(tx, &org_id, s, with_members)?];
            scope_views(tx, &org_id, &p, &mut v)?;
            let [v] = v;
            Ok(v)
        })
        .await
    }

    /// PUT (RFC 7644 §3.5.1): the body replaces the resource; read-only
    /// attributes are ignored, so `id` stays what it is.
    pub async fn replace_resource(
        &self,
        p: &Principal,
        rtype: ResourceType,
        id: &str,
        body: Value,
        if_match: Option<ExpectedVersion>,
    ) -> DirectoryResult<ResourceView> {
        let now = self.now();
        require_writes(p)?;
        let mut doc = resource::from_request(rtype, &body)?;
        let members = if rtype == ResourceType::Group {
            Some(take_members(&mut doc)?)
        } else {
            None
        };
        let org_id = p.org.id.clone();
        let id = id.to_string();
        let who = p.clone();
        self.write(move |tx| {
            let current = load(tx, &org_id, rtype, &id)?;
            check_if_match(if_match.as_ref(), &current)?;
            let was = current.version;
            let v = replace_stored(
                tx,
                &org_id,
                &now,
                current,
                doc.clone(),
                members.clone(),
                who.via_scim,
            )?;
            super::audit::audit_change(tx, &who, &now, "replace", Some(was), &v)?;
            Ok(v)
        })
        .await
    }

    /// PATCH (RFC 7644 §3.5.2): all operations apply, or none.
    pub async fn patch_resource(
        &self,
        p: &Principal,
        rtype: ResourceType,
        id: &str,
        ops: Vec<Operation>,
        if_match: Option<ExpectedVersion>,
    ) -> DirectoryResult<ResourceView> {
        let now = self.now();
        require_writes(p)?;
        let org_id = p.org.id.clone();
        let id = id.to_string();
        let who = p.clone();
        self.write(move |tx| {
            let current = load(tx, &org_id, rtype, &id)?;
            check_if_match(if_match.as_ref(), &current)?;
            let was = current.version;
            let mut doc = current.doc.clone();
            if rtype == ResourceType::Group && !ops.is_empty() {
                let members = tx
                    .members(&org_id, &[current.id.as_str()])?
                    .remove(&current.id)
                    .unwrap_or_default();
                if !members.is_empty() {
                    let list = members
                        .into_iter()
                        .map(|m| {
                            let mut o = Map::new();
                            o.insert("value".into(), Value::String(m.user_id));
                            Value::Object(o)
                        })
                        .collect();
                    doc.insert("members".into(), Value::Array(list));
                }
            }
            let mut patched = patch::apply(rtype, &doc, &ops)?;
            let members = if rtype == ResourceType::Group {
                Some(take_members(&mut patched)?)
            } else {
                None
            };
            let v = replace_stored(tx, &org_id, &now, current, patched, members, who.via_scim)?;
            super::audit::audit_change(tx, &who, &now, "patch", Some(was), &v)?;
            Ok(v)
        })
        .await
    }

    pub async fn delete_resource(
        &self,
        p: &Principal,
        rtype: ResourceType,
        id: &str,
        if_match: Option<ExpectedVersion>,
    ) -> DirectoryResult<()> {
        let now = self.now();
        require_writes(p)?;
        let org_id = p.org.id.clone();
        let id = id.to_string();
        let who = p.clone();
        self.write(move |tx| {
            let current = load(tx, &org_id, rtype, &id)?;
            check_if_match(if_match.as_ref(), &current)?;
            if who.via_scim && rtype == ResourceType::Group {
                check_unlocked(tx, &org_id, &current)?;
            }
            super::audit::record(
                tx,
                &who,
                &now,
                &format!("{}.delete", super::audit::kind_word(rtype)),
                &super::audit::resource_name(&current),
                format!("deleted (was version {})", current.version),
            )?;
            tx.delete_resource(&org_id, rtype, &id)?;
            if rtype == ResourceType::User {
                tx.end_user_sessions(&org_id, &id, &now)?;
            }
            tx.append_change(
                &org_id,
                &Change {
                    subject: Subject::Resource(rtype),
                    resource_id: id.clone(),
                    kind: ChangeKind::Deleted,
                    at: now.clone(),
                },
            )?;
            Ok(())
        })
        .await
    }
}

impl Directory {
    /// The administrator of an org, for the command line.
    pub async fn admin(&self, org: &str) -> DirectoryResult<Principal> {
        Ok(Principal::admin(self.org(org).await?))
    }

    /// A user or group by id, or by name (userName, displayName)
    /// compared case-insensitively.
    pub async fn find(
        &self,
        p: &Principal,
        rtype: ResourceType,
        reference: &str,
    ) -> DirectoryResult<ResourceView> {
        let org_id = p.org.id.clone();
        let reference = reference.to_string();
        self.read(move |tx| {
            let mut found = match tx.resource(&org_id, rtype, &reference)? {
                Some(r) => Some(r),
                None => tx.resource_by_name(&org_id, rtype, &fold(&reference))?,
            };
            // Administrators think in POSIX names too.
            if found.is_none()
                && let Some(owner) = tx.posix_owner(&org_id, super::model::LedgerKind::Name, &reference)?
            {
                found = tx.resource(&org_id, rtype, &owner)?;
            }
            let stored = found.ok_or_else(|| {
                DirectoryError::NotFound(format!(
                    "no {} \"{reference}\" in this organization (give its id, its {} or its POSIX name)",
                    rtype.name().to_lowercase(),
                    if rtype == ResourceType::User {
                        "userName"
                    } else {
                        "display name"
                    }
                ))
            })?;
            view(tx, &org_id, stored, true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::directory::scratch::with_directory;
    use serde_json::json;

    async fn admin(d: &Directory) -> Principal {
        d.create_org("acme", false).await.unwrap();
        d.admin("acme").await.unwrap()
    }

    #[test]
    fn names_are_unique_in_an_org_case_insensitively_and_per_org() {
        with_directory(|d| async move {
            let p = admin(&d).await;
            let ada = json!({"userName": "Ada@Example.com"});
            d.create_resource(&p, ResourceType::User, ada)
                .await
                .unwrap();
            let again = json!({"userName": "ada@example.COM"});
            let taken = d
                .create_resource(&p, ResourceType::User, again.clone())
                .await;
            assert!(
                matches!(taken, Err(DirectoryError::Conflict(_))),
                "{taken:?}"
            );
            d.create_org("globex", false).await.unwrap();
            let other = d.admin("globex").await.unwrap();
            d.create_resource(&other, ResourceType::User, again)
                .await
                .unwrap();
            assert!(
                d.find(&p, ResourceType::User, "ADA@example.com")
                    .await
                    .is_ok()
            );
        });
    }

    #[test]
    fn versions_move_only_when_something_changed_and_if_match_guards_them() {
        with_directory(|d| async move {
            let p = admin(&d).await;
            let body = json!({"userName": "lee", "displayName": "Lee"});
            let v1 = d
                .create_resource(&p, ResourceType::User, body.clone())
                .await
                .unwrap();
            let id = v1.stored.id.clone();
            d.clock()
                .advance(std::time::Duration::from_secs(60))
                .unwrap();
            let same = d
                .replace_resource(&p, ResourceType::User, &id, body, None)
                .await
                .unwrap();
            assert_eq!(
                same.stored.version, v1.stored.version,
                "a repeated push is free"
            );
            assert_eq!(same.stored.modified, v1.stored.modified);
            let renamed = json!({"userName": "lee", "displayName": "Lee Chen"});
            let stale = Some(ExpectedVersion::OneOf(vec![v1.stored.version + 7]));
            let refused = d
                .replace_resource(&p, ResourceType::User, &id, renamed.clone(), stale)
                .await;
            assert!(matches!(
                refused,
                Err(DirectoryError::PreconditionFailed { current }) if current == v1.stored.version
            ));
            let fresh = Some(ExpectedVersion::OneOf(vec![v1.stored.version]));
            let v2 = d
                .replace_resource(&p, ResourceType::User, &id, renamed, fresh)
                .await
                .unwrap();
            assert_eq!(v2.stored.version, v1.stored.version + 1);
            assert!(v2.stored.modified > v1.stored.modified, "the clock moved");
            assert_eq!(v2.stored.created, v1.stored.created);
        });
    }

    #[test]
    fn groups_are_flat_and_deleting_a_user_leaves_its_groups() {
        with_directory(|d| async move {
            let p = admin(&d).await;
            let u = d
                .create_resource(&p, ResourceType::User, json!({"userName": "kim"}))
                .await
                .unwrap();
            let inner = d
                .create_resource(&p, ResourceType::Group, json!({"displayName": "inner"}))
                .await
                .unwrap();
            let nested = json!({"displayName": "outer", "members": [{"value": inner.stored.id}]});
            let refused = d.create_resource(&p, ResourceType::Group, nested).await;
            assert!(
                matches!(refused, Err(DirectoryError::InvalidValue(_))),
                "{refused:?}"
            );
            let g = json!({"displayName": "outer", "members": [{"value": u.stored.id}]});
            let g = d.create_resource(&p, ResourceType::Group, g).await.unwrap();
            d.delete_resource(&p, ResourceType::User, &u.stored.id, None)
                .await
                .unwrap();
            let after = d
                .get_resource(&p, ResourceType::Group, &g.stored.id, true)
                .await
                .unwrap();
            assert_eq!(after.members.map(|m| m.len()), Some(0));
            let gone = d
                .get_resource(&p, ResourceType::User, &u.stored.id, false)
                .await;
            assert!(matches!(gone, Err(DirectoryError::NotFound(_))));
        });
    }

    #[test]
    fn provisioning_off_refuses_a_scim_token_writes_but_not_the_administrator() {
        with_directory(|d| async move {
            let admin = admin(&d).await;
            let mut token = admin.clone();
            token.via_scim = true;
            let body = json!({"userName": "pat"});
            let refused = d
                .create_resource(&token, ResourceType::User, body.clone())
                .await;
            assert!(
                matches!(refused, Err(DirectoryError::Forbidden(_))),
                "{refused:?}"
            );
            d.create_resource(&admin, ResourceType::User, body)
                .await
                .unwrap();
        });
    }
}
