//! Who is at the console, and the forms they send.
//!
//! [`Console`] is the signed-in person with the roles their groups carry
//! now (read at each request: a group taken away counts at once); a
//! request without a live session is sent to the org's sign-in. Every
//! state-changing request is a [`ConsoleForm`]: same-origin by the
//! browser's own word (`Sec-Fetch-Site`, `Origin`), and carrying the
//! session's CSRF token.

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Layout, Notice, forbidden, refusal, render, see_other};
use crate::directory::model::Actor;
use crate::directory::query::fold;
use crate::directory::roles::{Access, ConsoleUser};
use crate::server::AppState;
use crate::server::callers::path_org;
use crate::server::sign_in::{same_origin, session_secret};

/// A console form's largest body: SSH keys are the biggest field.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The signed-in person at the console.
pub(in crate::server) struct Console {
    pub user: ConsoleUser,
    csrf: String,
}

impl Console {
    /// The person, as the audit trail records their changes.
    pub fn actor(&self) -> Actor {
        self.user.principal.actor()
    }

    /// The page's frame, for the navigation entry `active`.
    pub fn layout(&self, active: &'static str, notice: Option<Notice>) -> Layout {
        Layout {
            org: self.user.principal.org.name.clone(),
            org_path: self.user.principal.org.name.clone(),
            subject: self.user.session.subject.clone(),
            roles: self.user.roles.clone(),
            may_view: self.user.access() >= Access::Viewer,
            may_admin: self.user.access() >= Access::Admin,
            csrf: self.csrf.clone(),
            active,
            notice,
        }
    }

    /// The page's frame with a refusal above it, and the refusal's status
    /// (the one table, `error::Refusal`): a form's page shown again.
    pub fn refused_layout(
        &self,
        active: &'static str,
        e: crate::directory::DirectoryError,
    ) -> (StatusCode, Layout) {
        let r = crate::server::error::Refusal::from(e);
        let notice = Notice {
            kind: "error",
            text: r.detail,
        };
        (r.status, self.layout(active, Some(notice)))
    }

    /// `/console/{org}/{rest}`.
    pub fn path(&self, rest: &str) -> String {
        format!("/console/{}/{rest}", self.user.principal.org.name)
    }
}

/// A signed-in person whose roles reach every page of the org (IAM Viewer
/// or more). A handler that takes it cannot be reached with less: the
/// request is answered with the 403 page naming the role before the
/// handler runs.
pub(in crate::server) struct ConsoleViewer(pub Console);

/// An IAM Admin: what every form that changes something takes. The domain
/// refuses a write by anyone less all the same (`Principal::access`), so a
/// handler that took a plain [`Console`] by mistake still cannot write.
pub(in crate::server) struct ConsoleAdmin(pub Console);

/// The signed-in person, if their roles reach `needed`; else the 403 page.
async fn at_least(
    parts: &mut Parts,
    state: &AppState,
    needed: Access,
) -> Result<Console, Response> {
    let c = Console::from_request_parts(parts, state).await?;
    if c.user.access() >= needed {
        Ok(c)
    } else {
        Err(forbidden(c.layout("", None), needed))
    }
}

impl FromRequestParts<AppState> for ConsoleViewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        at_least(parts, state, Access::Viewer)
            .await
            .map(ConsoleViewer)
    }
}

impl FromRequestParts<AppState> for ConsoleAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        at_least(parts, state, Access::Admin)
            .await
            .map(ConsoleAdmin)
    }
}

/// The CSRF token of a session: derived from its secret, which only the
/// session's own browser holds (the cookie is HttpOnly).
fn csrf_token(session_secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"roster console csrf\0");
    h.update(session_secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let org_ref = path_org(parts, state).await.unwrap_or_default();
        let secret = session_secret(&parts.headers).map(str::to_string);
        let live = match &secret {
            Some(s) => state.directory.session(s).await.map_err(bare_refusal)?,
            None => None,
        };
        let (Some((org, session)), Some(secret)) = (live, secret) else {
            return Err(see_other(&format!(
                "/console/{}/sign-in",
                url_part(&org_ref)
            )));
        };
        if org.id != org_ref && fold(&org.name) != fold(&org_ref) {
            return Err(bare_page(
                StatusCode::FORBIDDEN,
                "Another organization",
                &format!(
                    "You are signed in to {}; this page belongs to another organization. \
                     Sign out and sign in there to see it.",
                    org.name
                ),
                Some(format!("/console/{}", org.name)),
            ));
        }
        let mut user = state
            .directory
            .console_user(org, session)
            .await
            .map_err(bare_refusal)?;
        user.principal.origin = crate::server::request_origin(parts, state);
        Ok(Console {
            user,
            csrf: csrf_token(&secret),
        })
    }
}

/// A form sent from a console page: refused (403) unless the browser says
/// it came from Roster's own pages and it carries the session's token.
pub(in crate::server) struct ConsoleForm(pub Vec<(String, String)>);

impl ConsoleForm {
    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `name` (checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl FromRequest<AppState> for ConsoleForm {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Self::Rejection> {
        let cross = |why: &str| {
            bare_page(
                StatusCode::FORBIDDEN,
                "Refused",
                &format!(
                    "{why}: changes are made from Roster's own pages. Reload the page and try again."
                ),
                None,
            )
        };
        // A client that sends neither Sec-Fetch-Site nor Origin still
        // needs the CSRF token below.
        if !same_origin(req.headers()) {
            return Err(cross("this request came from another site"));
        }
        let expected = session_secret(req.headers()).map(csrf_token);
        let fields = crate::server::form_body::read(req, MAX_FORM_BYTES)
            .await
            .map_err(|e| bare_page(e.status(), "Not a form", &e.detail(), None))?;
        let form = ConsoleForm(fields);
        let sent = form.get("csrf").as_bytes();
        let valid = expected.is_some_and(|e| bool::from(e.as_bytes().ct_eq(sent)));
        if !valid {
            return Err(cross("the form's token does not match your session"));
        }
        Ok(form)
    }
}

fn url_part(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    heading: String,
    message: String,
    /// A button: (where, what it says).
    link: Option<(String, String)>,
}

/// A page outside the layout (no session to frame it with).
fn bare_page(status: StatusCode, heading: &str, message: &str, link: Option<String>) -> Response {
    render(
        status,
        &SignInPage {
            heading: heading.to_string(),
            message: message.to_string(),
            link: link.map(|href| (href, "Go there".to_string())),
        },
    )
}

fn bare_refusal(e: crate::directory::DirectoryError) -> Response {
    let r = crate::server::error::Refusal::from(e);
    bare_page(r.status, "Not available", &r.detail, None)
}

/// `/console`: to the signed-in person's org, or how to sign in.
pub(super) async fn landing(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = session_secret(&headers)
        && let Ok(Some((org, _))) = s.directory.session(secret).await
    {
        return see_other(&format!("/console/{}", org.name));
    }
    bare_page(
        StatusCode::UNAUTHORIZED,
        "Sign in",
        "Sign in through your organization's identity provider (its Roster tile), \
         or at /console/ORG with your organization's name.",
        None,
    )
}

/// `/console/{org}`: the Clusters page for those who may see it (a
/// completed sign-in lands there), else the person's own Settings.
pub(super) async fn org_home(c: Console) -> Response {
    if c.user.access() >= Access::Viewer {
        see_other(&c.path("clusters"))
    } else {
        see_other(&c.path("settings"))
    }
}

/// `/console/{org}/sign-in`: where a request without a session goes. One
/// page whatever `{org}` is (an org with SAML SSO, one without, none at
/// all): it looks nothing up and shows nothing of the path but the
/// percent-encoded link, so that strangers can neither tell which orgs
/// exist, nor learn a name from an id, nor make the page say something
/// (docs/security.md, "Anonymous clients").
pub(super) async fn sign_in_page(
    axum::extract::Path(org): axum::extract::Path<String>,
) -> Response {
    render(
        StatusCode::UNAUTHORIZED,
        &SignInPage {
            heading: "Sign in".into(),
            message: "Sign in through your organization's identity provider. Before it has \
                      single sign-on, its administrator signs in with a one-time link from the \
                      operator (roster admin login-link ORG)."
                .into(),
            link: Some((
                format!("/accounts/saml/{}/login", url_part(&org)),
                "Sign in with SSO".to_string(),
            )),
        },
    )
}

/// A domain refusal in the layout (re-exported for the pages).
pub(super) fn refused(
    c: &Console,
    active: &'static str,
    e: crate::directory::DirectoryError,
) -> Response {
    refusal(c.layout(active, None), e)
}
