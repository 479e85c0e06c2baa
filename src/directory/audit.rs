//! Who changed what: every change a person or a token makes to users,
//! groups, memberships, SSH keys, roles, the org's settings, tokens,
//! clusters, SAML and sessions is recorded in the same transaction as the
//! change (`roster audit`), with where it came from. Secrets never: keys
//! are counted, tokens named, not copied.

use serde_json::Value;

use super::model::{
    Actor, AuditEntry, AuditQuery, Principal, ResourceType, ResourceView, StoredResource,
};
use super::store::WriteTx;
use super::{Directory, DirectoryResult};
use crate::directory::orgs::find_org;

/// Entries kept per org (the oldest go first).
pub const KEEP: u64 = 100_000;

/// Records one change a principal makes, inside the transaction that
/// makes it.
pub(crate) fn record(
    tx: &mut dyn WriteTx,
    p: &Principal,
    at: &str,
    action: &str,
    target: &str,
    detail: String,
) -> DirectoryResult<()> {
    record_as(tx, &p.org.id, &p.actor(), at, action, target, detail)
}

/// Records one change to an org by an actor (org settings, tokens,
/// clusters, SAML, sessions), inside the transaction that makes it.
pub(crate) fn record_as(
    tx: &mut dyn WriteTx,
    org_id: &str,
    by: &Actor,
    at: &str,
    action: &str,
    target: &str,
    detail: String,
) -> DirectoryResult<()> {
    let entry = AuditEntry {
        at: at.to_string(),
        actor: by.name.clone(),
        action: action.to_string(),
        target: target.to_string(),
        detail,
        origin: by.origin.clone(),
    };
    Ok(tx.append_audit(org_id, &entry, KEEP)?)
}

pub(crate) fn kind_word(rtype: ResourceType) -> &'static str {
    match rtype {
        ResourceType::User => "user",
        ResourceType::Group => "group",
    }
}

/// A user's userName or a group's displayName, for the audit trail.
pub(crate) fn resource_name(r: &StoredResource) -> String {
    let attr = match r.rtype {
        ResourceType::User => "userName",
        ResourceType::Group => "displayName",
    };
    r.doc
        .get(attr)
        .and_then(Value::as_str)
        .unwrap_or(&r.id)
        .to_string()
}

/// Records a create, replace or patch in the audit trail, when it made a
/// new version (a push that changes nothing is not a change).
pub(crate) fn audit_change(
    tx: &mut dyn WriteTx,
    p: &Principal,
    now: &str,
    verb: &str,
    was: Option<i64>,
    v: &ResourceView,
) -> DirectoryResult<()> {
    let detail = match was {
        None => format!("created (version {})", v.stored.version),
        Some(w) if w == v.stored.version => return Ok(()),
        Some(w) => format!("version {w} to {}", v.stored.version),
    };
    record(
        tx,
        p,
        now,
        &format!("{}.{verb}", kind_word(v.stored.rtype)),
        &resource_name(&v.stored),
        detail,
    )
}

impl Directory {
    /// An org's audit trail, newest first.
    pub async fn audit(&self, org: &str, q: AuditQuery) -> DirectoryResult<Vec<AuditEntry>> {
        let org = org.to_string();
        self.read(move |tx| {
            let o = find_org(tx, &org)?;
            Ok(tx.audit(&o.id, &q)?)
        })
        .await
    }
}
