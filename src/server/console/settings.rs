//! Settings: each signed-in person's own profile and, with SUNK User
//! Provisioning on, their Slurm attributes and SSH keys (docs/console.md,
//! "Pages").

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::users::{DoneParam, Person};
use super::{Console, ConsoleForm, Layout, done_notice, refusal, render, see_other};
use crate::directory::DirectoryError;
use crate::scim::schema::ResourceType;
use crate::server::AppState;

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage {
    l: Layout,
    method: String,
    expires: String,
    /// `None` for the bootstrap administrator, who is no user.
    me: Option<Person>,
    sup: bool,
    keys_text: String,
}

pub(super) async fn show(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<DoneParam>,
) -> Result<Response, Response> {
    let l = c.layout("settings", done_notice(q.done.as_deref()));
    page(&s, &c, l, None, StatusCode::OK).await
}

async fn page(
    s: &AppState,
    c: &Console,
    l: Layout,
    typed_keys: Option<String>,
    status: StatusCode,
) -> Result<Response, Response> {
    let me = match &c.user.session.user_id {
        Some(id) => Some(Person::of(
            &s.directory
                .find(&c.user.principal, ResourceType::User, id)
                .await
                .map_err(|e| refusal(c.layout("settings", None), e))?,
        )),
        None => None,
    };
    let keys_text = typed_keys
        .or_else(|| me.as_ref().map(Person::keys_text))
        .unwrap_or_default();
    Ok(render(
        status,
        &SettingsPage {
            method: c.user.session.method.clone(),
            expires: c.user.session.expires.clone(),
            sup: c.user.principal.org.settings.sup,
            l,
            me,
            keys_text,
        },
    ))
}

/// A person's own keys, one per line, each bad line named.
pub(super) async fn set_ssh_keys(
    State(s): State<AppState>,
    c: Console,
    form: ConsoleForm,
) -> Result<Response, Response> {
    let text = form.get("keys").to_string();
    let outcome = match (&c.user.session.user_id, c.user.principal.org.settings.sup) {
        (None, _) => Err(DirectoryError::InvalidValue(
            "the bootstrap administrator is no user and has no SSH keys".into(),
        )),
        (Some(_), false) => Err(DirectoryError::Forbidden(
            "SUNK User Provisioning is off for this organization, so there are no Slurm \
             attributes or SSH keys to set"
                .into(),
        )),
        (Some(id), true) => s
            .directory
            .set_ssh_keys_text(&c.user.principal, id, &text)
            .await
            .map(|_| ()),
    };
    match outcome {
        Ok(()) => Ok(see_other(&c.path("settings?done=keys"))),
        Err(e) => {
            let (status, l) = c.refused_layout("settings", e);
            page(&s, &c, l, Some(text), status).await
        }
    }
}
