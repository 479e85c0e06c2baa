//! What a cluster's token may read (design.md, "Cluster tokens"): the
//! cluster's groups and those groups' members, nothing else of the org.
//! SCIM reads and domain lists apply the same scope.

use std::collections::HashSet;

use super::model::{Principal, ResourceType, ResourceView, StoredResource};
use super::query::{Column, Comparison, Cond, Query, Scalar, Target, Window};
use super::store::ReadTx;
use super::{DirectoryError, DirectoryResult};

/// What a cluster's token may read (design.md, "Cluster tokens"): the
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
