//! Clusters: each cluster's groups, its read-only tokens and the NSS map
//! URLs its nodes read.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::scim_config::render_token_created;
use super::users::DoneParam;
use super::{
    Console, ConsoleAdmin, ConsoleForm, ConsoleViewer, Layout, OrgAnd, done_notice, refusal,
    render, see_other,
};
use crate::directory::clusters::ClusterView;
use crate::directory::fleet::NodeStatus;
use crate::directory::listing::ListQuery;
use crate::directory::model::TokenRecord;
use crate::server::AppState;

/// The maps nsscache reads (`/nss/{org}/{cluster}/{map}`).
const MAPS: [&str; 4] = ["passwd", "group", "shadow", "sshkey"];

#[derive(Template)]
#[template(path = "console/clusters.html")]
struct ClustersPage {
    l: Layout,
    clusters: Vec<ClusterView>,
}

pub(super) async fn list(
    State(s): State<AppState>,
    ConsoleViewer(c): ConsoleViewer,
    Query(q): Query<DoneParam>,
) -> Result<Response, Response> {
    let l = c.layout("clusters", done_notice(q.done.as_deref()));
    let clusters = s
        .directory
        .clusters(&c.user.principal.org.id)
        .await
        .map_err(|e| refusal(c.layout("clusters", None), e))?;
    Ok(render(StatusCode::OK, &ClustersPage { l, clusters }))
}

#[derive(Template)]
#[template(path = "console/cluster.html")]
struct ClusterPage {
    l: Layout,
    c: ClusterView,
    /// Every group of the org: (id, name, reaches this cluster).
    choices: Vec<(String, String, bool)>,
    tokens: Vec<TokenRecord>,
    maps: Vec<(&'static str, String)>,
    /// The org's latest change, and each node's agent with its lag.
    latest: i64,
    agents: Vec<NodeStatus>,
}

pub(super) async fn show(
    State(s): State<AppState>,
    ConsoleViewer(c): ConsoleViewer,
    Path((_, cluster)): OrgAnd,
    Query(q): Query<DoneParam>,
) -> Result<Response, Response> {
    let l = c.layout("clusters", done_notice(q.done.as_deref()));
    cluster_page(&s, &c, l, &cluster, StatusCode::OK).await
}

async fn cluster_page(
    s: &AppState,
    c: &Console,
    l: Layout,
    cluster: &str,
    status: StatusCode,
) -> Result<Response, Response> {
    let org = &c.user.principal.org;
    let fail = |e| refusal(c.layout("clusters", None), e);
    let view = s.directory.cluster(&org.id, cluster).await.map_err(fail)?;
    let groups = s
        .directory
        .list_groups(
            &c.user.principal,
            ListQuery {
                limit: crate::directory::listing::MAX_PAGE,
                ..Default::default()
            },
        )
        .await
        .map_err(fail)?;
    let choices = groups
        .items
        .iter()
        .map(|g| {
            let name = g
                .stored
                .doc
                .get("displayName")
                .and_then(|n| n.as_str())
                .unwrap_or("")
                .to_string();
            let on = view.cluster.group_ids.contains(&g.stored.id);
            (g.stored.id.clone(), name, on)
        })
        .collect();
    let tokens = s
        .directory
        .list_tokens(&org.id)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|t| {
            t.cluster_id.as_deref() == Some(view.cluster.id.as_str()) && t.revoked.is_none()
        })
        .collect();
    let fleet = s
        .directory
        .cluster_status(&org.id, &view.cluster.name)
        .await
        .map_err(fail)?;
    let latest = fleet.latest;
    let agents = fleet.nodes;
    let maps = MAPS
        .iter()
        .map(|m| {
            (
                *m,
                format!(
                    "{}/nss/{}/{}/{m}",
                    s.public_url, org.name, view.cluster.name
                ),
            )
        })
        .collect();
    Ok(render(
        status,
        &ClusterPage {
            l,
            c: view,
            choices,
            tokens,
            maps,
            latest,
            agents,
        },
    ))
}

pub(super) async fn set_groups(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    Path((_, cluster)): OrgAnd,
    form: ConsoleForm,
) -> Result<Response, Response> {
    let org = &c.user.principal.org;
    match s
        .directory
        .set_cluster_groups(&c.actor(), &org.id, &cluster, form.all("group"))
        .await
    {
        Ok(v) => Ok(see_other(
            &c.path(&format!("clusters/{}?done=cluster-groups", v.cluster.name)),
        )),
        Err(e) => {
            let (status, l) = c.refused_layout("clusters", e);
            cluster_page(&s, &c, l, &cluster, status).await
        }
    }
}

/// A read-only token for the cluster's nodes, shown once.
pub(super) async fn create_token(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    Path((_, cluster)): OrgAnd,
    _form: ConsoleForm,
) -> Result<Response, Response> {
    let org = &c.user.principal.org;
    let (rec, secret) = s
        .directory
        .create_cluster_token(&c.actor(), &org.id, &cluster)
        .await
        .map_err(|e| refusal(c.layout("clusters", None), e))?;
    tracing::info!(org = %org.name, cluster = %cluster, by = %c.user.session.subject, "cluster token created in the console");
    Ok(render_token_created(
        &c,
        "clusters",
        (rec.name, secret),
        c.path(&format!("clusters/{cluster}")),
        None,
    ))
}
