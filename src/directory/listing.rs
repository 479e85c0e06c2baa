//! Lists of users and groups in the domain's terms, for the command line
//! and the console: a search text, whether active, and offset paging.
//! SCIM's lists (filters, sorting, cursors) stay with the SCIM operations
//! in `resources`; these need no protocol at all.

use super::cluster_scope::{cluster_scope, scope_memberships, scope_views};
use super::model::Principal;
use super::model::ResourceView;
use super::query::{Column, Comparison, Cond, Query, Scalar, Target, Window, fold};
use super::resources::views;
use super::{Directory, DirectoryResult};
use crate::scim::schema::ResourceType;

/// Which users or groups to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Text found, case-insensitively, in a user's userName, display name
    /// or an email address, or in a group's display name.
    pub search: Option<String>,
    /// Users only: only active (`Some(true)`) or deactivated ones.
    pub active: Option<bool>,
    /// How many to skip, in the default (creation) order.
    pub offset: u64,
    /// How many at most.
    pub limit: u64,
}

/// A page of a list.
#[derive(Debug)]
pub struct Listed {
    /// How many match in all.
    pub total: u64,
    pub items: Vec<ResourceView>,
}

/// Longest page one call returns.
pub const MAX_PAGE: u64 = 1000;

fn contains(target: Target, text: &str) -> Cond {
    Cond::Compare {
        target,
        fold: true,
        op: Comparison::Contains,
        value: Scalar::Text(fold(text)),
    }
}

fn and(a: Cond, b: Cond) -> Cond {
    Cond::And(Box::new(a), Box::new(b))
}

/// The condition a query asks for.
fn condition(rtype: ResourceType, q: &ListQuery) -> Cond {
    let mut cond = Cond::True;
    if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let found = match rtype {
            ResourceType::User => Cond::Or(
                Box::new(Cond::Or(
                    Box::new(contains(Target::Column(Column::NameKey), text)),
                    Box::new(contains(Target::Column(Column::DisplayKey), text)),
                )),
                Box::new(Cond::Any {
                    array: vec!["emails"],
                    cond: Box::new(contains(Target::Element(Some("value")), text)),
                }),
            ),
            ResourceType::Group => contains(Target::Column(Column::NameKey), text),
        };
        cond = and(cond, found);
    }
    if let (ResourceType::User, Some(active)) = (rtype, q.active) {
        // A user without `active` is active (RFC 7643 §4.1.1 leaves the
        // default to the provider; Roster's is active).
        let deactivated = Cond::Compare {
            target: Target::Doc(vec!["active"]),
            fold: false,
            op: Comparison::Equal,
            value: Scalar::Bool(false),
        };
        cond = and(
            cond,
            if active {
                Cond::Not(Box::new(deactivated))
            } else {
                deactivated
            },
        );
    }
    cond
}

impl Directory {
    /// The org's users matching `q` (a cluster's token sees its cluster's).
    pub async fn list_users(&self, p: &Principal, q: ListQuery) -> DirectoryResult<Listed> {
        self.list(p, ResourceType::User, q).await
    }

    /// The org's groups matching `q`, with their members.
    pub async fn list_groups(&self, p: &Principal, q: ListQuery) -> DirectoryResult<Listed> {
        self.list(p, ResourceType::Group, q).await
    }

    async fn list(
        &self,
        p: &Principal,
        rtype: ResourceType,
        q: ListQuery,
    ) -> DirectoryResult<Listed> {
        let mut cond = condition(rtype, &q);
        if let Some(scope) = cluster_scope(p, rtype) {
            cond = and(cond, scope);
        }
        let query = Query {
            cond,
            sort: None,
            window: Window::Offset {
                offset: q.offset,
                limit: q.limit.min(MAX_PAGE),
            },
        };
        let (org_id, sup, p) = (p.org.id.clone(), p.org.settings.sup, p.clone());
        self.read(move |tx| {
            let query = Query {
                cond: scope_memberships(tx, &org_id, &p, query.cond)?,
                ..query
            };
            let (total, rows) = tx.search(&org_id, rtype, &query)?;
            let mut items = views(tx, &org_id, rows, rtype == ResourceType::Group, sup)?;
            scope_views(tx, &org_id, &p, &mut items)?;
            Ok(Listed { total, items })
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn search_active_and_pages() {
        crate::directory::scratch::with_directory(|d| async move {
            let p = Principal::admin(d.create_org("l", false).await.unwrap());
            for (name, display, email, active) in [
                ("ada@example.com", "Ada Lovelace", "ada@math.example", true),
                ("bob@example.com", "Bob", "robert@LOVELACE.example", true),
                ("cy@example.com", "Cy", "cy@example.com", false),
                ("dee@example.com", "Dee", "dee@example.com", true),
            ] {
                let body = json!({"userName": name, "displayName": display, "active": active,
                                  "emails": [{"value": email}]});
                d.create_resource(&p, ResourceType::User, body)
                    .await
                    .unwrap();
            }
            let names = |l: &Listed| -> Vec<String> {
                l.items.iter().map(|v| v.stored.name_key.clone()).collect()
            };
            let all = ListQuery {
                limit: 10,
                ..Default::default()
            };
            let q = |search: &str| ListQuery {
                search: Some(search.into()),
                ..all.clone()
            };
            // userName, display name and email, case-insensitively.
            let found = d.list_users(&p, q("lovelace")).await.unwrap();
            assert_eq!(names(&found), ["ada@example.com", "bob@example.com"]);
            assert_eq!(d.list_users(&p, q("CY@")).await.unwrap().total, 1);
            let active = ListQuery {
                active: Some(false),
                ..all.clone()
            };
            assert_eq!(
                names(&d.list_users(&p, active).await.unwrap()),
                ["cy@example.com"]
            );
            let active = ListQuery {
                active: Some(true),
                ..all.clone()
            };
            assert_eq!(d.list_users(&p, active).await.unwrap().total, 3);
            // Pages: total counts all, items the page.
            let page = ListQuery {
                offset: 1,
                limit: 2,
                ..Default::default()
            };
            let page = d.list_users(&p, page).await.unwrap();
            assert_eq!(
                (page.total, names(&page)),
                (
                    4,
                    vec!["bob@example.com".to_string(), "cy@example.com".to_string()]
                )
            );
            let g = json!({"displayName": "GPU Users"});
            d.create_resource(&p, ResourceType::Group, g).await.unwrap();
            assert_eq!(d.list_groups(&p, q("gpu")).await.unwrap().total, 1);
            assert_eq!(d.list_groups(&p, q("cpu")).await.unwrap().total, 0);
        });
    }
}
