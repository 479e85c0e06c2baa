//! Flat groups only (docs/scim.md, "Rules"): a group's members are users of
//! its org, each once; a member that is a group is refused with the three
//! remedies the Okta and Entra guides give (docs/okta.md, "Pushing groups";
//! docs/entra.md, "4. Assign users and groups").

use std::collections::HashSet;

use serde_json::Value;

use super::store::ReadTx;
use super::{DirectoryError, DirectoryResult};
use crate::scim::resource::Document;
use crate::scim::schema::ResourceType;

/// A group whose members are locked (`roster group set-roles
/// --lock-members`, docs/security.md) takes member changes from an
/// administrator only: the IdP's SCIM write to them, or its delete of the
/// group (which would take its members, its roles and its GID), is
/// refused (RFC 7644 §3.12 `mutability`: the resource's current state
/// forbids the change), so that a group granting console roles cannot be
/// joined from the IdP.
pub(super) fn check_unlocked(
    tx: &mut dyn ReadTx,
    org_id: &str,
    group: &super::model::StoredResource,
) -> DirectoryResult<()> {
    if !tx.members_locked(org_id, &group.id)? {
        return Ok(());
    }
    let name = group
        .doc
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or(&group.id);
    let org = tx.org(org_id)?.map(|o| o.name).unwrap_or_default();
    Err(DirectoryError::Malformed {
        scim_type: Some(crate::scim::ScimType::Mutability),
        detail: format!(
            "the members of \"{name}\" are locked in Roster: the identity provider may not change them \
             or delete the group. An administrator changes them (roster group add-member / remove-member, \
             or the console), or unlocks them with `roster group set-roles {org} \"{name}\" --lock-members off`"
        ),
    })
}

/// Takes `members` out of a group document: the ids, in order, once each.
/// A member whose `type` says it is a group is refused here already.
pub(super) fn take_members(doc: &mut Document) -> DirectoryResult<Vec<String>> {
    let Some(Value::Array(items)) = doc.remove("members") else {
        return Ok(Vec::new());
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let id = item.get("value").and_then(Value::as_str).ok_or_else(|| {
            DirectoryError::InvalidValue(
                "every member needs a \"value\" holding the user's id".into(),
            )
        })?;
        if let Some(t) = item.get("type").and_then(Value::as_str)
            && !t.eq_ignore_ascii_case("User")
        {
            return Err(nested_group(id, None));
        }
        if seen.insert(id.to_string()) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

/// Flat groups only, with the three remedies the Okta and Entra guides give.
fn nested_group(id: &str, name: Option<&str>) -> DirectoryError {
    let who = match name {
        Some(n) => format!("\"{n}\" ({id})"),
        None => format!("\"{id}\""),
    };
    DirectoryError::InvalidValue(format!(
        "member {who} is a group: nested groups are not supported. Push only flat (leaf) groups; \
         or exclude parent groups with a group filter (Okta: a group membership filter; Entra: a scoping filter); \
         or flatten nested memberships into one flat group (Okta: a group rule; Entra: a dynamic group)"
    ))
}

/// Flat groups only: every member must be a user of the org.
pub(super) fn check_members(
    tx: &mut dyn ReadTx,
    org_id: &str,
    ids: &[&str],
) -> DirectoryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let kinds = tx.kinds(org_id, ids)?;
    for id in ids {
        match kinds.get(*id) {
            Some(ResourceType::User) => {}
            Some(ResourceType::Group) => {
                let name = tx.resource(org_id, ResourceType::Group, id)?.and_then(|g| {
                    g.doc
                        .get("displayName")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
                return Err(nested_group(id, name.as_deref()));
            }
            None => {
                return Err(DirectoryError::InvalidValue(format!(
                    "member \"{id}\" is not a user of this organization; create the user first"
                )));
            }
        }
    }
    Ok(())
}
