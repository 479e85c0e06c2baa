//! SCIM Configuration: the org's toggles, the SCIM Base URL, and its SCIM
//! tokens (created once-shown, listed, revoked).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::users::DoneParam;
use super::{
    Console, ConsoleAdmin, ConsoleForm, ConsoleViewer, Layout, OrgAnd, done_notice, refusal,
    render, see_other,
};
use crate::directory::model::TokenRecord;
use crate::directory::orgs::SettingsChange;
use crate::server::AppState;

/// A switch on the page: (form field, label, what it does, on).
type Toggle = (&'static str, &'static str, &'static str, bool);

#[derive(Template)]
#[template(path = "console/scim.html")]
struct ScimPage {
    l: Layout,
    toggles: Vec<Toggle>,
    base_url: String,
    tokens: Vec<TokenRecord>,
    typed_name: String,
}

pub(super) async fn show(
    State(s): State<AppState>,
    ConsoleViewer(c): ConsoleViewer,
    Query(q): Query<DoneParam>,
) -> Result<Response, Response> {
    let l = c.layout("scim", done_notice(q.done.as_deref()));
    page(&s, &c, l, String::new(), StatusCode::OK).await
}

async fn page(
    s: &AppState,
    c: &Console,
    l: Layout,
    typed_name: String,
    status: StatusCode,
) -> Result<Response, Response> {
    let org = &c.user.principal.org;
    let tokens = s
        .directory
        .list_tokens(&org.id)
        .await
        .map_err(|e| refusal(c.layout("scim", None), e))?
        .into_iter()
        // Cluster tokens are on their cluster's page.
        .filter(|t| t.cluster_id.is_none() && t.revoked.is_none())
        .collect();
    let set = &org.settings;
    Ok(render(
        status,
        &ScimPage {
            l,
            toggles: vec![
                (
                    "scim_api",
                    "Enable SCIM API",
                    "Identity providers may reach the SCIM API with the org's tokens.",
                    set.scim_api,
                ),
                (
                    "aup",
                    "Enable Automated User Provisioning",
                    "The identity provider's SCIM writes create, change and deactivate users and groups.",
                    set.aup,
                ),
                (
                    "sup",
                    "Enable SUNK User Provisioning",
                    "Users and groups get POSIX identities (username, UID, GID) and SSH keys on the org's Slurm clusters.",
                    set.sup,
                ),
            ],
            base_url: format!("{}/scim/{}", s.public_url, org.id),
            tokens,
            typed_name,
        },
    ))
}

/// One switch, saved when flipped (or with its Save button without
/// JavaScript).
pub(super) async fn set_toggle(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    form: ConsoleForm,
) -> Result<Response, Response> {
    let on = form.get("enabled") == "on";
    let mut change = SettingsChange::default();
    match form.get("toggle") {
        "scim_api" => change.scim_api = Some(on),
        "aup" => change.aup = Some(on),
        "sup" => change.sup = Some(on),
        other => {
            let e = crate::directory::DirectoryError::InvalidValue(format!(
                "\"{other}\" is not a setting of this page"
            ));
            return Err(refusal(c.layout("scim", None), e));
        }
    }
    s.directory
        .set_org(&c.actor(), &c.user.principal.org.id, change)
        .await
        .map_err(|e| refusal(c.layout("scim", None), e))?;
    Ok(see_other(&c.path("scim?done=toggle")))
}

#[derive(Template)]
#[template(path = "console/token_created.html")]
struct TokenCreated {
    l: Layout,
    name: String,
    secret: String,
    back: String,
    base_url: Option<String>,
}

pub(super) async fn create_token(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    form: ConsoleForm,
) -> Result<Response, Response> {
    let name = form.get("name").to_string();
    let org = &c.user.principal.org;
    match s.directory.create_token(&c.actor(), &org.id, &name).await {
        Ok((rec, secret)) => {
            tracing::info!(org = %org.name, token = %rec.name, by = %c.user.session.subject, "SCIM token created in the console");
            let base_url = format!("{}/scim/{}", s.public_url, org.id);
            Ok(render_token_created(
                &c,
                "scim",
                (rec.name, secret),
                c.path("scim"),
                Some(base_url),
            ))
        }
        Err(e) => {
            let (status, l) = c.refused_layout("scim", e);
            page(&s, &c, l, name, status).await
        }
    }
}

/// Revokes a token of the org (a SCIM token, or a cluster's); back to the
/// page the form came from.
pub(super) async fn revoke_token(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    Path((_, token)): OrgAnd,
    form: ConsoleForm,
) -> Result<Response, Response> {
    s.directory
        .revoke_token(&c.actor(), &c.user.principal.org.id, &token)
        .await
        .map_err(|e| refusal(c.layout("scim", None), e))?;
    // Only a page of this console: a form cannot send the browser away.
    let back = form.get("back");
    let to_cluster = back.strip_prefix("clusters/").is_some_and(|name| {
        !name.is_empty()
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
    });
    let back = if to_cluster { back } else { "scim" };
    Ok(see_other(&c.path(&format!("{back}?done=revoked"))))
}

/// The page that shows a new token's secret, the only time it is shown.
pub(super) fn render_token_created(
    c: &Console,
    active: &'static str,
    (name, secret): (String, String),
    back: String,
    base_url: Option<String>,
) -> Response {
    render(
        StatusCode::OK,
        &TokenCreated {
            l: c.layout(active, None),
            name,
            secret,
            back,
            base_url,
        },
    )
}
