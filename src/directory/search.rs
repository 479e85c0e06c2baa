//! Searching users and groups the SCIM way (RFC 7644 §3.4.2): a filter
//! resolved per resource type, sorting, and index or cursor paging (RFC
//! 9865), evaluated in the store; a cluster token sees its cluster's only.

use super::cluster_scope::{cluster_scope, scope_memberships, scope_views};
use super::filter_resolution;
use super::model::{Principal, ResourceView};
use super::query::{Cond, Query, Window, fold};
use super::resources::views;
use super::store::ReadTx;
use super::{Directory, DirectoryError, DirectoryResult};
use crate::scim::list::{Cursor, ListParams, Page, SortOrder};
use crate::scim::schema::ResourceType;

/// A page of a list.
#[derive(Debug)]
pub struct ListPage {
    pub total: u64,
    /// For index paging, the 1-based index of the first item.
    pub start_index: Option<u64>,
    pub items: Vec<ResourceView>,
    /// Where the next page starts, when there is one (the server encodes it).
    pub next_cursor: Option<Cursor>,
}

impl Directory {
    /// Lists resources of the given types (both for a search at the root,
    /// RFC 7644 §3.4.2.1), filtered, sorted and paged in the store.
    pub async fn list_resources(
        &self,
        p: &Principal,
        rtypes: Vec<ResourceType>,
        params: ListParams,
        with_members: bool,
    ) -> DirectoryResult<ListPage> {
        let org_id = p.org.id.clone();
        // Resolve the filter per type; at the root, a type whose schema
        // lacks the filter's attributes contributes nothing.
        let mut plans = Vec::new();
        let mut first_err = None;
        for rt in &rtypes {
            let cond = match &params.filter {
                None => Ok(Cond::True),
                Some(f) if rtypes.len() > 1 => filter_resolution::resolve_filter_across(*rt, f),
                Some(f) => filter_resolution::resolve_filter(*rt, f),
            };
            let sort = params
                .sort_by
                .as_ref()
                .map(|s| {
                    filter_resolution::resolve_sort(
                        *rt,
                        s,
                        params.sort_order == SortOrder::Descending,
                    )
                })
                .transpose();
            // CoreWeave's nsscache fork asks for /Users?groups=a,b.
            let cond = cond.map(|c| match (rt, params.groups.is_empty()) {
                (ResourceType::User, false) => {
                    let any = Cond::InGroupsNamed {
                        display_keys: params.groups.iter().map(|g| fold(g)).collect(),
                        posix_names: params.groups.clone(),
                    };
                    Cond::And(Box::new(c), Box::new(any))
                }
                _ => c,
            });
            let cond = cond.map(|c| match cluster_scope(p, *rt) {
                Some(scope) => Cond::And(Box::new(c), Box::new(scope)),
                None => c,
            });
            match (cond, sort) {
                (Ok(c), Ok(s)) => plans.push((*rt, c, s)),
                (Err(e), _) | (_, Err(e)) => {
                    if rtypes.len() == 1 {
                        return Err(e.into());
                    }
                    first_err.get_or_insert(e);
                }
            }
        }
        if plans.is_empty()
            && let Some(e) = first_err
        {
            return Err(e.into());
        }
        let count = params.count;
        let sup = p.org.settings.sup;
        let page = params.page;
        let issued = self.clock.now().timestamp();
        let single_keyset = plans.len() == 1 && plans.first().is_some_and(|(_, _, s)| s.is_none());
        let point = plans.iter().all(|(_, c, _)| c.is_point_lookup()) && count <= 100;
        let scoped = p.clone();
        let job = move |tx: &mut dyn ReadTx| {
            let (mut offset, after) = match page {
                Page::Index(i) => (i.saturating_sub(1), None),
                Page::CursorStart => (0, None),
                Page::Cursor(Cursor::Offset { offset, .. }) => (offset, None),
                Page::Cursor(Cursor::After { position, .. }) => {
                    if !single_keyset {
                        return Err(DirectoryError::Malformed {
                            scim_type: Some(crate::scim::ScimType::InvalidCursor),
                            detail: "this cursor belongs to another query; start again with cursor= (empty)".into(),
                        });
                    }
                    (0, Some(position))
                }
            };
            let mut total = 0u64;
            let mut items = Vec::new();
            let mut remaining = count;
            let mut more = false;
            for (rt, cond, sort) in plans {
                // Fetch one more than asked, to know whether a next page exists.
                let window = match after {
                    Some(position) => Window::After {
                        position,
                        limit: remaining + 1,
                    },
                    None => Window::Offset {
                        offset,
                        limit: remaining + 1,
                    },
                };
                let cond = scope_memberships(tx, &org_id, &scoped, cond)?;
                let q = Query { cond, sort, window };
                let (n, mut rows) = tx.search(&org_id, rt, &q)?;
                total += n;
                let skipped = offset.min(n);
                offset -= skipped;
                if rows.len() as u64 > remaining {
                    more = true;
                    rows.truncate(remaining as usize);
                }
                remaining -= rows.len() as u64;
                let mut v = views(tx, &org_id, rows, with_members, sup)?;
                items.append(&mut v);
            }
            scope_views(tx, &org_id, &scoped, &mut items)?;
            let start_index = match page {
                Page::Index(i) => Some(i),
                _ => None,
            };
            let next_cursor = match page {
                Page::Index(_) => None,
                _ if !more || count == 0 => None,
                _ if single_keyset => items.last().map(|v| Cursor::After {
                    position: v.stored.position,
                    issued,
                }),
                Page::Cursor(Cursor::Offset { offset: o, .. }) => Some(Cursor::Offset {
                    offset: o + items.len() as u64,
                    issued,
                }),
                _ => Some(Cursor::Offset {
                    offset: items.len() as u64,
                    issued,
                }),
            };
            Ok(ListPage {
                total,
                start_index,
                items,
                next_cursor,
            })
        };
        if point {
            self.read_indexed(job).await
        } else {
            self.read(job).await
        }
    }
}
