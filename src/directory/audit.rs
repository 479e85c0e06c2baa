//! Who changed what: every change a person or a token makes to users,
//! groups, memberships, SSH keys and roles is recorded in the same
//! transaction as the change (`roster audit`). Secrets never: keys are
//! counted, not copied.

use super::model::{AuditEntry, AuditQuery, Principal};
use super::store::WriteTx;
use super::{Directory, DirectoryResult};
use crate::directory::orgs::find_org;

/// Entries kept per org (the oldest go first).
pub const KEEP: u64 = 100_000;

/// The actor a principal is, in the trail's words.
pub fn actor(p: &Principal) -> String {
    if p.token_name.starts_with("console: ") || p.token_name.starts_with("roster CLI") {
        p.token_name.clone()
    } else {
        format!("token {}", p.token_name)
    }
}

/// Records one change, inside the transaction that makes it.
pub(crate) fn record(
    tx: &mut dyn WriteTx,
    p: &Principal,
    at: &str,
    action: &str,
    target: &str,
    detail: String,
) -> DirectoryResult<()> {
    let entry = AuditEntry {
        at: at.to_string(),
        actor: actor(p),
        action: action.to_string(),
        target: target.to_string(),
        detail,
    };
    Ok(tx.append_audit(&p.org.id, &entry, KEEP)?)
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
