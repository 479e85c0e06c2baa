//! Users: the list, each user's details with their Slurm attributes, and
//! what an administrator may change (SSH keys, deactivation, a user added
//! by hand).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Console, ConsoleAdmin, ConsoleForm, ConsoleViewer, Layout, OrgAnd, done_notice, refusal,
    render, see_other,
};
use crate::directory::listing::ListQuery;
use crate::directory::model::ResourceView;
use crate::scim::schema::ResourceType;
use crate::server::AppState;

/// Users per page.
const PAGE: u64 = 50;

/// A user as the console shows them.
pub(super) struct Person {
    pub id: String,
    pub user_name: String,
    pub name: String,
    pub email: String,
    pub active: bool,
    /// "IdP" when the identity provider manages it over SCIM (it gave an
    /// externalId, as Okta and Entra do), else "Roster" (added by hand, or
    /// just in time at a first sign-in).
    pub source: &'static str,
    pub posix: Option<crate::directory::model::PosixAccount>,
    pub keys: Vec<String>,
    pub groups: Vec<(String, String)>,
}

impl Person {
    pub fn of(v: &ResourceView) -> Person {
        let doc = &v.stored.doc;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let name = doc.get("name");
        let formatted = text(name.and_then(|n| n.get("formatted")));
        let name = if !formatted.is_empty() {
            formatted
        } else {
            let given = text(name.and_then(|n| n.get("givenName")));
            let family = text(name.and_then(|n| n.get("familyName")));
            let both = format!("{given} {family}").trim().to_string();
            if both.is_empty() {
                text(doc.get("displayName"))
            } else {
                both
            }
        };
        let emails = doc.get("emails").and_then(Value::as_array);
        let email = emails
            .and_then(|e| {
                e.iter()
                    .find(|m| m.get("primary").and_then(Value::as_bool) == Some(true))
                    .or_else(|| e.first())
            })
            .map(|m| text(m.get("value")))
            .unwrap_or_default();
        Person {
            id: v.stored.id.clone(),
            user_name: text(doc.get("userName")),
            name,
            email,
            active: doc.get("active").and_then(Value::as_bool) != Some(false),
            source: if doc.get("externalId").is_some() {
                "IdP"
            } else {
                "Roster"
            },
            posix: v.posix.clone(),
            keys: crate::directory::ssh_keys::stored_keys(doc),
            groups: v
                .groups
                .iter()
                .flatten()
                .map(|g| (g.group_id.clone(), g.display.clone()))
                .collect(),
        }
    }

    pub fn keys_text(&self) -> String {
        self.keys.join("\n")
    }
}

#[derive(Deserialize)]
pub(super) struct ListParams {
    search: Option<String>,
    page: Option<u64>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    l: Layout,
    search: String,
    people: Vec<Person>,
    total: u64,
    page: u64,
    pages: u64,
}

impl UsersPage {
    fn page_link(&self, page: u64) -> String {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("search", &self.search)
            .append_pair("page", &page.to_string())
            .finish();
        format!("/console/{}/users?{q}", self.l.org_path)
    }
}

pub(super) async fn list(
    State(s): State<AppState>,
    ConsoleViewer(c): ConsoleViewer,
    Query(q): Query<ListParams>,
) -> Result<Response, Response> {
    let l = c.layout("users", done_notice(q.done.as_deref()));
    list_page(
        &s,
        &c,
        l,
        q.search.unwrap_or_default(),
        q.page.unwrap_or(1),
        StatusCode::OK,
    )
    .await
}

async fn list_page(
    s: &AppState,
    c: &Console,
    l: Layout,
    search: String,
    page: u64,
    status: StatusCode,
) -> Result<Response, Response> {
    let page = page.max(1);
    let listed = s
        .directory
        .list_users(
            &c.user.principal,
            ListQuery {
                search: Some(search.clone()).filter(|t| !t.trim().is_empty()),
                active: None,
                offset: (page - 1) * PAGE,
                limit: PAGE,
            },
        )
        .await
        .map_err(|e| super::caller::refused(c, "users", e))?;
    Ok(render(
        status,
        &UsersPage {
            l,
            search,
            people: listed.items.iter().map(Person::of).collect(),
            total: listed.total,
            page,
            pages: listed.total.div_ceil(PAGE).max(1),
        },
    ))
}

/// "Add User": a user added by hand, not managed by the IdP (docs/console.md,
/// "Pages").
pub(super) async fn create(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    form: ConsoleForm,
) -> Result<Response, Response> {
    let mut body = serde_json::Map::new();
    body.insert("userName".into(), json!(form.get("userName").trim()));
    let (given, family) = (form.get("givenName").trim(), form.get("familyName").trim());
    if !given.is_empty() || !family.is_empty() {
        body.insert(
            "name".into(),
            json!({"givenName": given, "familyName": family}),
        );
    }
    let email = form.get("email").trim();
    if !email.is_empty() {
        body.insert("emails".into(), json!([{"value": email, "primary": true}]));
    }
    let body = Value::Object(body);
    match s
        .directory
        .create_resource(&c.user.principal, ResourceType::User, body)
        .await
    {
        Ok(v) => Ok(see_other(
            &c.path(&format!("users/{}?done=user-created", v.stored.id)),
        )),
        Err(e) => {
            let (status, l) = c.refused_layout("users", e);
            list_page(&s, &c, l, String::new(), 1, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    l: Layout,
    p: Person,
    sup: bool,
    /// The SSH keys as typed, when they were refused.
    keys_text: String,
    access: crate::directory::explain::Explanation,
}

#[derive(Deserialize)]
pub(super) struct DoneParam {
    pub done: Option<String>,
}

pub(super) async fn show(
    State(s): State<AppState>,
    ConsoleViewer(c): ConsoleViewer,
    Path((_, user)): OrgAnd,
    Query(q): Query<DoneParam>,
) -> Result<Response, Response> {
    let l = c.layout("users", done_notice(q.done.as_deref()));
    user_page(&s, &c, l, &user, None, StatusCode::OK).await
}

async fn user_page(
    s: &AppState,
    c: &Console,
    l: Layout,
    user: &str,
    typed_keys: Option<String>,
    status: StatusCode,
) -> Result<Response, Response> {
    let v = s
        .directory
        .find(&c.user.principal, ResourceType::User, user)
        .await
        .map_err(|e| refusal(c.layout("users", None), e))?;
    let p = Person::of(&v);
    let keys_text = typed_keys.unwrap_or_else(|| p.keys_text());
    // "Why can't they log in?" (`roster explain`), to every cluster.
    let access = s
        .directory
        .explain(&c.user.principal, &p.id, None)
        .await
        .map_err(|e| refusal(c.layout("users", None), e))?;
    Ok(render(
        status,
        &UserPage {
            sup: c.user.principal.org.settings.sup,
            l,
            p,
            keys_text,
            access,
        },
    ))
}

pub(super) async fn set_ssh_keys(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    Path((_, user)): OrgAnd,
    form: ConsoleForm,
) -> Result<Response, Response> {
    let text = form.get("keys").to_string();
    let outcome = s
        .directory
        .set_ssh_keys_text(&c.user.principal, &user, &text)
        .await;
    match outcome {
        Ok(_) => Ok(see_other(&c.path(&format!("users/{user}?done=keys")))),
        Err(e) => {
            let (status, l) = c.refused_layout("users", e);
            user_page(&s, &c, l, &user, Some(text), status).await
        }
    }
}

pub(super) async fn deactivate(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    Path((_, user)): OrgAnd,
    _form: ConsoleForm,
) -> Result<Response, Response> {
    s.directory
        .deactivate_user(&c.user.principal, &user)
        .await
        .map_err(|e| refusal(c.layout("users", None), e))?;
    Ok(see_other(
        &c.path(&format!("users/{user}?done=deactivated")),
    ))
}
