//! Clusters (docs/clusters.md): each names the groups it provisions,
//! and has read-only tokens for its nodes.

use super::model::{
    Actor, Change, ChangeKind, Cluster, PosixAccount, Principal, Subject, TokenRecord,
};
use super::orgs::find_org;
use super::query::fold;
use super::store::ReadTx;
use super::tokens::{hash_token, new_secret};
use super::{Directory, DirectoryError, DirectoryResult};
use crate::scim::schema::ResourceType;

/// A group by id, display name or POSIX name.
fn resolve_group(tx: &mut dyn ReadTx, org_id: &str, reference: &str) -> DirectoryResult<String> {
    if let Some(g) = tx.resource(org_id, ResourceType::Group, reference)? {
        return Ok(g.id);
    }
    if let Some(g) = tx.resource_by_name(org_id, ResourceType::Group, &fold(reference))? {
        return Ok(g.id);
    }
    let owner = tx.posix_owner(org_id, super::model::LedgerKind::Name, reference)?;
    if let Some(id) = owner
        && tx.resource(org_id, ResourceType::Group, &id)?.is_some()
    {
        return Ok(id);
    }
    Err(DirectoryError::NotFound(format!(
        "no group \"{reference}\" (by id, display name or POSIX name); `roster group list ORG` shows the groups"
    )))
}

/// Resolves a group list; empty entries (`--groups ""`) are skipped.
fn resolve_groups(
    tx: &mut dyn ReadTx,
    org_id: &str,
    groups: &[String],
) -> DirectoryResult<Vec<String>> {
    let mut ids = Vec::with_capacity(groups.len());
    for g in groups.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
        let id = resolve_group(tx, org_id, g)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

pub(crate) fn find_cluster(
    tx: &mut dyn ReadTx,
    org_id: &str,
    cluster: &str,
) -> DirectoryResult<Cluster> {
    tx.cluster(org_id, cluster)?.ok_or_else(|| {
        DirectoryError::NotFound(format!(
            "no cluster \"{cluster}\"; `roster cluster list ORG` shows them"
        ))
    })
}

fn check_cluster_name(name: &str) -> DirectoryResult<()> {
    super::orgs::check_org_name(name).map_err(|_| {
        DirectoryError::InvalidValue(format!(
            "\"{name}\" is not a valid cluster name: use 1 to 63 letters, digits, '-', '_' or '.'"
        ))
    })
}

/// The change feed tells the cluster's agent its group list changed.
pub(super) fn log_cluster_change(
    tx: &mut dyn super::store::WriteTx,
    c: &Cluster,
    kind: ChangeKind,
) -> DirectoryResult<()> {
    tx.append_change(
        &c.org_id,
        &Change {
            subject: Subject::Cluster,
            resource_id: c.id.clone(),
            kind,
            at: c.modified.clone(),
        },
    )?;
    Ok(())
}

/// A cluster with its groups' names, for display.
#[derive(Debug, Clone)]
pub struct ClusterView {
    pub cluster: Cluster,
    /// (group id, display name, POSIX group account if SUP assigned one)
    pub groups: Vec<(String, String, Option<PosixAccount>)>,
}

fn view(tx: &mut dyn ReadTx, org_id: &str, cluster: Cluster) -> DirectoryResult<ClusterView> {
    let ids: Vec<&str> = cluster.group_ids.iter().map(String::as_str).collect();
    let docs = tx.resources_by_ids(org_id, ResourceType::Group, &ids)?;
    let mut accounts = tx.posix_accounts(org_id, ResourceType::Group, &ids)?;
    let mut groups: Vec<(String, String, Option<PosixAccount>)> = docs
        .into_iter()
        .map(|g| {
            let name = g
                .doc
                .get("displayName")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let account = accounts.remove(&g.id);
            (g.id, name, account)
        })
        .collect();
    groups.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(ClusterView { cluster, groups })
}

impl Directory {
    pub async fn create_cluster(
        &self,
        by: &Actor,
        org: &str,
        name: &str,
        groups: Vec<String>,
    ) -> DirectoryResult<ClusterView> {
        let now = self.now();
        check_cluster_name(name)?;
        let (org, name, by) = (org.to_string(), name.to_string(), by.clone());
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            if tx.cluster(&o.id, &name)?.is_some() {
                return Err(DirectoryError::Conflict(format!(
                    "a cluster named \"{name}\" already exists"
                )));
            }
            let group_ids = resolve_groups(tx, &o.id, &groups)?;
            let t = now.clone();
            let cluster = Cluster {
                id: uuid::Uuid::new_v4().to_string(),
                org_id: o.id.clone(),
                name: name.clone(),
                created: t.clone(),
                modified: t,
                group_ids,
            };
            tx.insert_cluster(&cluster)?;
            log_cluster_change(tx, &cluster, ChangeKind::Created)?;
            let v = view(tx, &o.id, cluster)?;
            let detail = format!("groups: {}", group_names(&v));
            super::audit::record_as(tx, &o.id, &by, &now, "cluster.create", &name, detail)?;
            Ok(v)
        })
        .await
    }

    pub async fn set_cluster_groups(
        &self,
        by: &Actor,
        org: &str,
        cluster: &str,
        groups: Vec<String>,
    ) -> DirectoryResult<ClusterView> {
        let now = self.now();
        let (org, cluster, by) = (org.to_string(), cluster.to_string(), by.clone());
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let mut c = find_cluster(tx, &o.id, &cluster)?;
            let group_ids = resolve_groups(tx, &o.id, &groups)?;
            let t = now.clone();
            tx.set_cluster_groups(&c.id, &group_ids, &t)?;
            c.group_ids = group_ids;
            c.modified = t;
            log_cluster_change(tx, &c, ChangeKind::Updated)?;
            let name = c.name.clone();
            let v = view(tx, &o.id, c)?;
            let detail = format!("groups: {}", group_names(&v));
            super::audit::record_as(tx, &o.id, &by, &now, "cluster.groups", &name, detail)?;
            Ok(v)
        })
        .await
    }

    pub async fn clusters(&self, org: &str) -> DirectoryResult<Vec<ClusterView>> {
        let org = org.to_string();
        self.read(move |tx| {
            let o = find_org(tx, &org)?;
            let all = tx.clusters(&o.id)?;
            all.into_iter().map(|c| view(tx, &o.id, c)).collect()
        })
        .await
    }

    pub async fn cluster(&self, org: &str, cluster: &str) -> DirectoryResult<ClusterView> {
        let (org, cluster) = (org.to_string(), cluster.to_string());
        self.read(move |tx| {
            let o = find_org(tx, &org)?;
            let c = find_cluster(tx, &o.id, &cluster)?;
            view(tx, &o.id, c)
        })
        .await
    }

    /// A read-only token for a cluster's nodes; the secret is not stored.
    pub async fn create_cluster_token(
        &self,
        by: &Actor,
        org: &str,
        cluster: &str,
    ) -> DirectoryResult<(TokenRecord, String)> {
        let now = self.now();
        let (org, cluster, by) = (org.to_string(), cluster.to_string(), by.clone());
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let c = find_cluster(tx, &o.id, &cluster)?;
            let secret = new_secret();
            let rec = TokenRecord {
                id: uuid::Uuid::new_v4().to_string(),
                org_id: o.id,
                name: format!("cluster:{}", c.name),
                hash: hash_token(&secret),
                created: now.clone(),
                last_used: None,
                revoked: None,
                cluster_id: Some(c.id),
            };
            tx.insert_token(&rec)?;
            let detail = format!("token {} for the cluster's nodes", rec.id);
            super::audit::record_as(
                tx,
                &rec.org_id,
                &by,
                &now,
                "cluster.token.create",
                &c.name,
                detail,
            )?;
            Ok((rec, secret))
        })
        .await
    }
}

/// A cluster's groups by name, for the audit trail.
fn group_names(v: &ClusterView) -> String {
    let names: Vec<&str> = v.groups.iter().map(|g| g.1.as_str()).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Whether `p` may read the maps of `cluster`: its own cluster token, or
/// an administrator.
pub(crate) fn may_read_cluster(p: &Principal, cluster: &Cluster) -> bool {
    match &p.cluster_id {
        Some(id) => *id == cluster.id,
        None => !p.via_scim,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::directory::scratch::with_directory;

    #[test]
    fn a_cluster_names_existing_groups_and_its_token_is_its_own() {
        with_directory(|d| async move {
            d.create_org("acme", false).await.unwrap();
            let p = d.admin("acme").await.unwrap();
            for name in ["gpu", "cpu"] {
                let g = serde_json::json!({"displayName": name});
                d.create_resource(&p, ResourceType::Group, g).await.unwrap();
            }
            let unknown = d
                .create_cluster(
                    &crate::directory::scratch::tester(),
                    "acme",
                    "c1",
                    vec!["nope".into()],
                )
                .await;
            assert!(
                matches!(unknown, Err(DirectoryError::NotFound(_))),
                "{unknown:?}"
            );
            let bad = d
                .create_cluster(&crate::directory::scratch::tester(), "acme", "c 1", vec![])
                .await;
            assert!(matches!(bad, Err(DirectoryError::InvalidValue(_))));
            let c = d
                .create_cluster(
                    &crate::directory::scratch::tester(),
                    "acme",
                    "c1",
                    vec!["GPU".into()],
                )
                .await
                .unwrap();
            assert_eq!(c.groups.len(), 1);
            let dup = d
                .create_cluster(&crate::directory::scratch::tester(), "acme", "C1", vec![])
                .await;
            assert!(matches!(dup, Err(DirectoryError::Conflict(_))));
            let c = d
                .set_cluster_groups(
                    &crate::directory::scratch::tester(),
                    "acme",
                    "c1",
                    vec!["gpu".into(), "cpu".into()],
                )
                .await
                .unwrap();
            assert_eq!(c.groups.len(), 2);
            let (t, secret) = d
                .create_cluster_token(&crate::directory::scratch::tester(), "acme", "c1")
                .await
                .unwrap();
            assert_eq!(t.cluster_id.as_deref(), Some(c.cluster.id.as_str()));
            let p = d.authenticate("acme", &secret).await.unwrap();
            assert_eq!(p.cluster_id, Some(c.cluster.id));
            let write = d
                .create_resource(
                    &p,
                    ResourceType::Group,
                    serde_json::json!({"displayName": "x"}),
                )
                .await;
            assert!(
                matches!(write, Err(DirectoryError::Forbidden(_))),
                "read-only"
            );
        });
    }
}
