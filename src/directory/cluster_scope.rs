//! What a cluster's token may read (docs/security.md, "Nodes and cluster tokens"): the
//! cluster's groups and those groups' members, nothing else of the org.
//! SCIM reads and domain lists apply the same scope.

use std::collections::HashSet;

use super::model::{Principal, ResourceType, ResourceView, StoredResource};
use super::query::{Column, Comparison, Cond, Query, Scalar, Target, Window};
use super::store::ReadTx;
use super::{DirectoryError, DirectoryResult};

/// What a cluster's token may read (docs/security.md, "Nodes and cluster tokens"): the
/// cluster's groups and their members, nothing else of the org.
pub(super) fn cluster_scope(p: &Principal, rtype: ResourceType) -> Option<Cond> {
    let cluster = p.cluster_id.clone()?;
    Some(match rtype {
        ResourceType::User => Cond::InClusterGroup(cluster),
        ResourceType::Group => Cond::ProvisionedBy(cluster),
    })
}

/// For a cluster's token, a user's `groups` list only the cluster's groups.
pub(super) fn scope_views(
    tx: &mut dyn ReadTx,
    org_id: &str,
    p: &Principal,
    views: &mut [ResourceView],
) -> DirectoryResult<()> {
    let Some(cluster) = &p.cluster_id else {
        return Ok(());
    };
    let provisioned: HashSet<String> = tx
        .cluster(org_id, cluster)?
        .map(|c| c.group_ids.into_iter().collect())
        .unwrap_or_default();
    for v in views {
        if let Some(groups) = &mut v.groups {
            groups.retain(|g| provisioned.contains(&g.group_id));
        }
    }
    Ok(())
}

/// The cluster's groups, as a token of the cluster may name them in a
/// filter: by id, by folded display name, by POSIX name.
struct VisibleGroups {
    ids: HashSet<String>,
    display_keys: HashSet<String>,
    posix_names: HashSet<String>,
}

impl VisibleGroups {
    fn read(tx: &mut dyn ReadTx, org_id: &str, cluster: &str) -> DirectoryResult<Self> {
        let ids: Vec<String> = tx
            .cluster(org_id, cluster)?
            .map(|c| c.group_ids)
            .unwrap_or_default();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let display_keys = tx
            .resources_by_ids(org_id, ResourceType::Group, &refs)?
            .into_iter()
            .flat_map(|g| [Some(g.name_key), g.display_key])
            .flatten()
            .collect();
        let posix_names = tx
            .posix_accounts(org_id, ResourceType::Group, &refs)?
            .into_values()
            .map(|a| a.name)
            .collect();
        Ok(VisibleGroups {
            ids: ids.into_iter().collect(),
            display_keys,
            posix_names,
        })
    }

    /// `cond` with every membership test narrowed to these groups: a
    /// group outside them is a group nobody is in.
    fn narrow(&self, cluster: &str, cond: Cond) -> Cond {
        let seen = |keep: bool, c: Cond| if keep { c } else { Cond::False };
        match cond {
            Cond::InGroup(id) => seen(self.ids.contains(&id), Cond::InGroup(id)),
            Cond::InGroupNamed(key) => {
                seen(self.display_keys.contains(&key), Cond::InGroupNamed(key))
            }
            Cond::InGroupsNamed {
                mut display_keys,
                mut posix_names,
            } => {
                display_keys.retain(|k| self.display_keys.contains(k));
                posix_names.retain(|n| self.posix_names.contains(n));
                let any = !display_keys.is_empty() || !posix_names.is_empty();
                seen(
                    any,
                    Cond::InGroupsNamed {
                        display_keys,
                        posix_names,
                    },
                )
            }
            Cond::InAnyGroup => Cond::InClusterGroup(cluster.to_string()),
            Cond::And(a, b) => Cond::And(
                Box::new(self.narrow(cluster, *a)),
                Box::new(self.narrow(cluster, *b)),
            ),
            Cond::Or(a, b) => Cond::Or(
                Box::new(self.narrow(cluster, *a)),
                Box::new(self.narrow(cluster, *b)),
            ),
            Cond::Not(c) => Cond::Not(Box::new(self.narrow(cluster, *c))),
            other => other,
        }
    }
}

/// Whether a condition tests users' group memberships anywhere.
fn tests_memberships(cond: &Cond) -> bool {
    match cond {
        Cond::InGroup(_)
        | Cond::InGroupNamed(_)
        | Cond::InGroupsNamed { .. }
        | Cond::InAnyGroup => true,
        Cond::And(a, b) | Cond::Or(a, b) => tests_memberships(a) || tests_memberships(b),
        Cond::Not(c) => tests_memberships(c),
        _ => false,
    }
}

/// For a cluster's token, the membership tests of a filter (`groups.value`,
/// `groups.display`, `groups pr`, `?groups=`) see only the cluster's
/// groups, as its reads do: otherwise `groups.display eq "secret"` would
/// tell which of the cluster's people are in a group outside it. A group
/// the token may not read answers as if it did not exist.
pub(super) fn scope_memberships(
    tx: &mut dyn ReadTx,
    org_id: &str,
    p: &Principal,
    cond: Cond,
) -> DirectoryResult<Cond> {
    match &p.cluster_id {
        Some(cluster) if tests_memberships(&cond) => {
            Ok(VisibleGroups::read(tx, org_id, cluster)?.narrow(cluster, cond))
        }
        _ => Ok(cond),
    }
}

/// A resource a cluster's token may not read is, to that token, not there.
pub(super) fn check_in_scope(
    tx: &mut dyn ReadTx,
    org_id: &str,
    p: &Principal,
    stored: &StoredResource,
) -> DirectoryResult<()> {
    let Some(scope) = cluster_scope(p, stored.rtype) else {
        return Ok(());
    };
    let q = Query {
        cond: Cond::And(
            Box::new(Cond::Compare {
                target: Target::Column(Column::Id),
                fold: false,
                op: Comparison::Equal,
                value: Scalar::Text(stored.id.clone()),
            }),
            Box::new(scope),
        ),
        sort: None,
        window: Window::Offset {
            offset: 0,
            limit: 1,
        },
    };
    match tx.search(org_id, stored.rtype, &q)?.0 {
        0 => Err(DirectoryError::no_such(stored.rtype, &stored.id)),
        _ => Ok(()),
    }
}
