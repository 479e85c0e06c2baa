//! Groups: the list with member counts and GIDs, "Create Group", and each
//! group's page: members, POSIX name and GID, roles, and the clusters it
//! reaches.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::users::DoneParam;
use super::{
    Console, ConsoleAdmin, ConsoleForm, ConsoleViewer, Layout, OrgAnd, done_notice, refusal,
    render, see_other,
};
use crate::directory::listing::ListQuery;
use crate::directory::model::{PosixAccount, ResourceView};
use crate::directory::roles::{IAM_ADMIN, IAM_VIEWER, known_roles};
use crate::scim::schema::ResourceType;
use crate::server::AppState;

/// Groups per page.
const PAGE: u64 = 100;

struct GroupRow {
    id: String,
    name: String,
    members: usize,
    posix: Option<PosixAccount>,
}

impl GroupRow {
    fn of(v: &ResourceView) -> GroupRow {
        GroupRow {
            id: v.stored.id.clone(),
            name: v
                .stored
                .doc
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            members: v.members.as_ref().map(Vec::len).unwrap_or(0),
            posix: v.posix.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/groups.html")]
struct GroupsPage {
    l: Layout,
    search: String,
    groups: Vec<GroupRow>,
    total: u64,
    typed_name: String,
}

#[derive(Deserialize)]
pub(super) struct ListParams {
    search: Option<String>,
    done: Option<String>,
}

pub(super) async fn list(
    State(s): State<AppState>,
    ConsoleViewer(c): ConsoleViewer,
    Query(q): Query<ListParams>,
) -> Result<Response, Response> {
    let l = c.layout("groups", done_notice(q.done.as_deref()));
    list_page(
        &s,
        &c,
        l,
        q.search.unwrap_or_default(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

async fn list_page(
    s: &AppState,
    c: &Console,
    l: Layout,
    search: String,
    typed_name: String,
    status: StatusCode,
) -> Result<Response, Response> {
    let listed = s
        .directory
        .list_groups(
            &c.user.principal,
            ListQuery {
                search: Some(search.clone()).filter(|t| !t.trim().is_empty()),
                active: None,
                offset: 0,
                limit: PAGE,
            },
        )
        .await
        .map_err(|e| refusal(c.layout("groups", None), e))?;
    Ok(render(
        status,
        &GroupsPage {
            l,
            search,
            groups: listed.items.iter().map(GroupRow::of).collect(),
            total: listed.total,
            typed_name,
        },
    ))
}

/// "Create Group": a new group, then its roles (how an org moves off a
/// legacy default group; docs/console.md, "Roles").
pub(super) async fn create(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    form: ConsoleForm,
) -> Result<Response, Response> {
    let name = form.get("displayName").trim().to_string();
    match s
        .directory
        .create_resource(
            &c.user.principal,
            ResourceType::Group,
            json!({"displayName": name}),
        )
        .await
    {
        Ok(v) => Ok(see_other(
            &c.path(&format!("groups/{}?done=group-created", v.stored.id)),
        )),
        Err(e) => {
            let (status, l) = c.refused_layout("groups", e);
            list_page(&s, &c, l, String::new(), name, status).await
        }
    }
}

struct Member {
    id: String,
    display: String,
}

#[derive(Template)]
#[template(path = "console/group.html")]
struct GroupPage {
    l: Layout,
    g: GroupRow,
    members: Vec<Member>,
    roles: Vec<String>,
    /// Every role, with whether the group carries it and what it does here.
    choices: Vec<(&'static str, bool, &'static str)>,
    clusters: Vec<String>,
}

pub(super) async fn show(
    State(s): State<AppState>,
    ConsoleViewer(c): ConsoleViewer,
    Path((_, group)): OrgAnd,
    Query(q): Query<DoneParam>,
) -> Result<Response, Response> {
    let l = c.layout("groups", done_notice(q.done.as_deref()));
    group_page(&s, &c, l, &group, StatusCode::OK).await
}

async fn group_page(
    s: &AppState,
    c: &Console,
    l: Layout,
    group: &str,
    status: StatusCode,
) -> Result<Response, Response> {
    let p = &c.user.principal;
    let fail = |e| refusal(c.layout("groups", None), e);
    let v = s
        .directory
        .find(p, ResourceType::Group, group)
        .await
        .map_err(fail)?;
    let roles = s
        .directory
        .group_roles(p, &v.stored.id)
        .await
        .map_err(fail)?;
    let clusters = s
        .directory
        .clusters(&p.org.id)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|cv| cv.cluster.group_ids.contains(&v.stored.id))
        .map(|cv| cv.cluster.name)
        .collect();
    let choices = known_roles()
        .into_iter()
        .map(|r| {
            let does = match r {
                IAM_ADMIN => "every page of the console, and every change",
                IAM_VIEWER => "every page of the console, read-only",
                _ => "kept from the legacy groups; grants nothing in Roster",
            };
            (r, roles.iter().any(|have| have == r), does)
        })
        .collect();
    Ok(render(
        status,
        &GroupPage {
            l,
            members: v
                .members
                .iter()
                .flatten()
                .map(|m| Member {
                    id: m.user_id.clone(),
                    display: m.display.clone(),
                })
                .collect(),
            g: GroupRow::of(&v),
            roles,
            choices,
            clusters,
        },
    ))
}

/// Adds a member by userName, POSIX username or id.
pub(super) async fn add_member(
    State(s): State<AppState>,
    c: ConsoleAdmin,
    Path((_, group)): OrgAnd,
    form: ConsoleForm,
) -> Result<Response, Response> {
    change_member(s, c, group, form, true).await
}

pub(super) async fn remove_member(
    State(s): State<AppState>,
    c: ConsoleAdmin,
    Path((_, group)): OrgAnd,
    form: ConsoleForm,
) -> Result<Response, Response> {
    change_member(s, c, group, form, false).await
}

async fn change_member(
    s: AppState,
    ConsoleAdmin(c): ConsoleAdmin,
    group: String,
    form: ConsoleForm,
    add: bool,
) -> Result<Response, Response> {
    let p = &c.user.principal;
    let outcome = async {
        let user = s
            .directory
            .find(p, ResourceType::User, form.get("user").trim())
            .await?;
        if add {
            s.directory.add_member(p, &group, &user.stored.id).await
        } else {
            s.directory.remove_member(p, &group, &user.stored.id).await
        }
    }
    .await;
    match outcome {
        Ok(_) => {
            let done = if add {
                "member-added"
            } else {
                "member-removed"
            };
            Ok(see_other(&c.path(&format!("groups/{group}?done={done}"))))
        }
        Err(e) => {
            let (status, l) = c.refused_layout("groups", e);
            group_page(&s, &c, l, &group, status).await
        }
    }
}

pub(super) async fn set_roles(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    Path((_, group)): OrgAnd,
    form: ConsoleForm,
) -> Result<Response, Response> {
    match s
        .directory
        .set_group_roles(&c.user.principal, &group, &form.all("role"))
        .await
    {
        Ok(_) => Ok(see_other(&c.path(&format!("groups/{group}?done=roles")))),
        Err(e) => {
            let (status, l) = c.refused_layout("groups", e);
            group_page(&s, &c, l, &group, status).await
        }
    }
}
