//! The console: server-rendered pages for an org's administrators ("IAM
//! Admin"), its viewers ("IAM Viewer", read-only), and every signed-in
//! person's own Settings, with the seeds' names on the screen.
//!
//! Every control is a plain link or form first; `console.js` (served
//! from the binary, no CDN: clusters are often air-gapped) only adds copy
//! buttons, confirmations and switches that save when flipped. Every page
//! and every action checks the person's role on the server ([`Console`]),
//! and every form carries the session's CSRF token ([`ConsoleForm`]).

// A refusal is a whole page: handlers return `Result<Response, Response>`
// (axum's idiom), and the error side is as large as the success side.
#![allow(clippy::result_large_err)]

mod caller;
mod clusters;
mod groups;
mod provisioning_log;
mod saml_sso;
mod scim_config;
mod settings;
mod users;

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub(super) use caller::{Console, ConsoleForm};

use super::AppState;
use super::error::Refusal;
use crate::directory::DirectoryError;
use crate::directory::roles::Access;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(caller::landing))
        .route("/static/console.css", get(stylesheet))
        .route("/static/console.js", get(script))
        .route("/{org}", get(caller::org_home))
        .route("/{org}/sign-in", get(caller::sign_in_page))
        .route("/{org}/clusters", get(clusters::list))
        .route("/{org}/clusters/{cluster}", get(clusters::show))
        .route(
            "/{org}/clusters/{cluster}/groups",
            post(clusters::set_groups),
        )
        .route(
            "/{org}/clusters/{cluster}/tokens",
            post(clusters::create_token),
        )
        .route("/{org}/users", get(users::list).post(users::create))
        .route("/{org}/users/{user}", get(users::show))
        .route("/{org}/users/{user}/ssh-keys", post(users::set_ssh_keys))
        .route("/{org}/users/{user}/deactivate", post(users::deactivate))
        .route("/{org}/groups", get(groups::list).post(groups::create))
        .route("/{org}/groups/{group}", get(groups::show))
        .route("/{org}/groups/{group}/members", post(groups::add_member))
        .route(
            "/{org}/groups/{group}/members/remove",
            post(groups::remove_member),
        )
        .route("/{org}/groups/{group}/roles", post(groups::set_roles))
        .route("/{org}/scim", get(scim_config::show))
        .route("/{org}/scim/settings", post(scim_config::set_toggle))
        .route("/{org}/scim/tokens", post(scim_config::create_token))
        .route(
            "/{org}/scim/tokens/{token}/revoke",
            post(scim_config::revoke_token),
        )
        .route("/{org}/saml", get(saml_sso::show))
        .route("/{org}/saml/review", post(saml_sso::review))
        .route("/{org}/saml/deploy", post(saml_sso::deploy))
        .route("/{org}/saml/disable", post(saml_sso::disable))
        .route("/{org}/log", get(provisioning_log::show))
        .route("/{org}/settings", get(settings::show))
        .route("/{org}/settings/ssh-keys", post(settings::set_ssh_keys))
}

/// The console's pages, in the order of the navigation.
const NAV: [(&str, &str); 6] = [
    ("clusters", "Clusters"),
    ("users", "Users"),
    ("groups", "Groups"),
    ("scim", "SCIM Configuration"),
    ("saml", "SAML SSO"),
    ("log", "Provisioning log"),
];

/// What every page shows around its content.
pub(super) struct Layout {
    pub org: String,
    /// The org as it appears in the console's paths (its name).
    pub org_path: String,
    pub subject: String,
    pub roles: Vec<String>,
    pub may_view: bool,
    pub may_admin: bool,
    pub csrf: String,
    /// The navigation entry of this page.
    pub active: &'static str,
    pub notice: Option<Notice>,
}

impl Layout {
    pub fn nav(&self) -> &'static [(&'static str, &'static str)] {
        &NAV
    }
}

/// A message at the top of a page: what was done, or why not.
pub(super) struct Notice {
    /// "ok", "warn" or "error" (said in words too: not by colour alone).
    pub kind: &'static str,
    pub text: String,
}

/// The notices a redirect after a change may show (`?done=`): fixed texts,
/// so that a link cannot make the console say something of its own.
const DONE: [(&str, &str); 12] = [
    ("toggle", "The setting is saved."),
    (
        "revoked",
        "The token is revoked; requests with it are refused.",
    ),
    ("keys", "The SSH keys are saved."),
    ("deactivated", "The user is deactivated and signed out."),
    ("group-created", "The group is created."),
    ("member-added", "The member is added."),
    ("member-removed", "The member is removed."),
    ("roles", "The group's roles are saved."),
    ("cluster-groups", "The cluster's groups are saved."),
    ("user-created", "The user is created."),
    ("saml", "The SAML configuration is deployed."),
    ("saml-off", "SAML sign-in is disabled."),
];

pub(super) fn done_notice(code: Option<&str>) -> Option<Notice> {
    let code = code?;
    DONE.iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| Notice {
            kind: "ok",
            text: (*text).to_string(),
        })
}

/// The headers every console page carries: nothing loaded from elsewhere,
/// nothing framed, nothing cached, no referrer (a console URL names the
/// org and the people in it). The console's same-origin check rests on
/// `Sec-Fetch-Site` and `Origin`, not on `Referer` (`sign_in::same_origin`).
pub(super) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                 connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// A page from its template.
pub(super) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a console page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered; the server log has the details\n",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "console/refusal.html")]
struct RefusalPage<'a> {
    l: Layout,
    heading: &'a str,
    detail: String,
    needs: Option<&'static str>,
}

/// A domain error as a page in the layout, with the status of the one
/// table of domain errors (`error::Refusal`).
pub(super) fn refusal(l: Layout, e: DirectoryError) -> Response {
    let r = Refusal::from(e);
    let heading = match r.status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        s if s.is_server_error() => "Try again",
        _ => "Not done",
    };
    render(
        r.status,
        &RefusalPage {
            l,
            heading,
            detail: r.detail,
            needs: None,
        },
    )
}

/// 403 for a page or action the person's roles do not reach.
pub(super) fn forbidden(l: Layout, needed: Access) -> Response {
    let detail = format!(
        "{} may not see or change this: it needs the \"{}\" role, which an administrator \
         grants by adding them to a group that carries it.",
        l.subject,
        needed.role()
    );
    render(
        StatusCode::FORBIDDEN,
        &RefusalPage {
            l,
            heading: "Not allowed",
            detail,
            needs: Some(needed.role()),
        },
    )
}

/// After a change: back to the page, which says what was done.
pub(super) fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("static/console.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("static/console.js"),
    )
}

fn asset(ctype: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The `{org}` and one more path parameter.
pub(super) type OrgAnd = Path<(String, String)>;
