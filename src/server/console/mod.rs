//! The console: server-rendered pages for an org's administrators ("IAM
//! Admin"), its viewers ("IAM Viewer", read-only), and every signed-in
//! person's own Settings, with the names the Okta and Entra guides use on
//! the screen (docs/console.md).
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
use axum::routing::{MethodRouter, get, post};

pub(super) use caller::{Console, ConsoleAdmin, ConsoleForm, ConsoleViewer};

use super::AppState;
use super::error::Refusal;
use crate::directory::DirectoryError;
use crate::directory::roles::Access;

/// Who may use a console route. Each route declares it in [`table`], and
/// its handler takes the extractor that enforces it ([`ConsoleViewer`],
/// [`ConsoleAdmin`], [`Console`] for any signed-in person); the test that
/// walks the table (tests/api/console_access.rs) holds every route to
/// its word as no one, a member, a viewer, an admin and another org's
/// admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAccess {
    /// No session needed: the landing page, assets, the sign-in page.
    Anyone,
    /// Any signed-in person of the org: their own Settings.
    SignedIn,
    /// IAM Viewer or more: every page, read-only.
    Viewer,
    /// IAM Admin: every change.
    Admin,
}

/// One console route: its method, its path under `/console`, who may use
/// it, and what answers it.
struct Route {
    method: &'static str,
    path: &'static str,
    access: RouteAccess,
    handler: MethodRouter<AppState>,
}

fn table() -> Vec<Route> {
    use RouteAccess::{Admin, Anyone, SignedIn, Viewer};
    let r = |method, path, access, handler| Route {
        method,
        path,
        access,
        handler,
    };
    vec![
        r("GET", "/", Anyone, get(caller::landing)),
        r("GET", "/static/console.css", Anyone, get(stylesheet)),
        r("GET", "/static/console.js", Anyone, get(script)),
        r("GET", "/{org}/sign-in", Anyone, get(caller::sign_in_page)),
        r("GET", "/{org}", SignedIn, get(caller::org_home)),
        r("GET", "/{org}/settings", SignedIn, get(settings::show)),
        r(
            "POST",
            "/{org}/settings/ssh-keys",
            SignedIn,
            post(settings::set_ssh_keys),
        ),
        r("GET", "/{org}/clusters", Viewer, get(clusters::list)),
        r(
            "GET",
            "/{org}/clusters/{cluster}",
            Viewer,
            get(clusters::show),
        ),
        r(
            "POST",
            "/{org}/clusters/{cluster}/groups",
            Admin,
            post(clusters::set_groups),
        ),
        r(
            "POST",
            "/{org}/clusters/{cluster}/tokens",
            Admin,
            post(clusters::create_token),
        ),
        r("GET", "/{org}/users", Viewer, get(users::list)),
        r("POST", "/{org}/users", Admin, post(users::create)),
        r("GET", "/{org}/users/{user}", Viewer, get(users::show)),
        r(
            "POST",
            "/{org}/users/{user}/ssh-keys",
            Admin,
            post(users::set_ssh_keys),
        ),
        r(
            "POST",
            "/{org}/users/{user}/deactivate",
            Admin,
            post(users::deactivate),
        ),
        r("GET", "/{org}/groups", Viewer, get(groups::list)),
        r("POST", "/{org}/groups", Admin, post(groups::create)),
        r("GET", "/{org}/groups/{group}", Viewer, get(groups::show)),
        r(
            "POST",
            "/{org}/groups/{group}/members",
            Admin,
            post(groups::add_member),
        ),
        r(
            "POST",
            "/{org}/groups/{group}/members/remove",
            Admin,
            post(groups::remove_member),
        ),
        r(
            "POST",
            "/{org}/groups/{group}/roles",
            Admin,
            post(groups::set_roles),
        ),
        r("GET", "/{org}/scim", Viewer, get(scim_config::show)),
        r(
            "POST",
            "/{org}/scim/settings",
            Admin,
            post(scim_config::set_toggle),
        ),
        r(
            "POST",
            "/{org}/scim/tokens",
            Admin,
            post(scim_config::create_token),
        ),
        r(
            "POST",
            "/{org}/scim/tokens/{token}/revoke",
            Admin,
            post(scim_config::revoke_token),
        ),
        r("GET", "/{org}/saml", Viewer, get(saml_sso::show)),
        r("POST", "/{org}/saml/review", Admin, post(saml_sso::review)),
        r("POST", "/{org}/saml/deploy", Admin, post(saml_sso::deploy)),
        r(
            "POST",
            "/{org}/saml/disable",
            Admin,
            post(saml_sso::disable),
        ),
        r("GET", "/{org}/log", Viewer, get(provisioning_log::show)),
    ]
}

/// Every console route as declared: (method, path under `/console`, who
/// may use it).
pub fn route_table() -> Vec<(&'static str, &'static str, RouteAccess)> {
    table()
        .into_iter()
        .map(|r| (r.method, r.path, r.access))
        .collect()
}

pub(super) fn routes() -> Router<AppState> {
    // Routes of one path with several methods merge into one.
    table()
        .into_iter()
        .fold(Router::new(), |router, r| router.route(r.path, r.handler))
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
