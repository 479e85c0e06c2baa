//! The admin API (`/api/v1/orgs/{org}/...`). Callers are the org's
//! administrator (one of its SCIM tokens, or the bootstrap administrator's
//! browser session) or a signed-in user acting on their own account (their
//! SSH keys, as the console will let them). Cluster tokens are refused.
//! Cookie-authenticated writes are PUTs, which browsers never send
//! cross-site without a CORS preflight Roster does not grant, and the
//! cookie is `SameSite=Lax`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::callers::{ApiCaller, SessionCaller};
use super::error::ApiErrorResponse;
use super::scim::ScimPath;
use super::{AppState, json_reply};
use crate::api_v1::{OrgRef, SessionInfo, SshKeys, SshKeysRequest};
use crate::directory::DirectoryError;
use crate::directory::model::Principal;
use crate::directory::model::ResourceView;
use crate::directory::ssh_keys::key_lines;
use crate::scim::schema::{COREWEAVE_USER_SCHEMA, ResourceType};

/// The user `user` names, and the principal that may act on them: an
/// administrator on anyone, a member on themselves.
async fn acting_on(
    s: &AppState,
    caller: ApiCaller,
    user: &str,
) -> Result<(Principal, ResourceView), DirectoryError> {
    let (p, own) = match caller {
        ApiCaller::Admin(p) => (p, None),
        ApiCaller::Member { principal, user_id } => (principal, Some(user_id)),
    };
    let v = s.directory.find(&p, ResourceType::User, user).await?;
    if let Some(own) = own
        && own != v.stored.id
    {
        return Err(DirectoryError::Forbidden(
            "a signed-in user may change only their own SSH keys".into(),
        ));
    }
    Ok((p, v))
}

fn keys_of(v: &ResourceView) -> SshKeys {
    let keys = v
        .stored
        .doc
        .get(COREWEAVE_USER_SCHEMA)
        .and_then(|e| e.get("sunkSshKeys"))
        .and_then(|k| k.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    SshKeys {
        user: v.stored.id.clone(),
        keys,
    }
}

/// `GET /api/v1/orgs/{org}/users/{user}/ssh-keys`: the user's keys.
pub async fn get_ssh_keys(
    State(s): State<AppState>,
    caller: ApiCaller,
    ScimPath((_, user)): ScimPath<(String, String)>,
) -> Result<Response, ApiErrorResponse> {
    let (_, v) = acting_on(&s, caller, &user).await?;
    Ok(json_reply(StatusCode::OK, &keys_of(&v)))
}

/// `PUT /api/v1/orgs/{org}/users/{user}/ssh-keys`: replaces the user's
/// keys with the body's, one per line (text), or [`SshKeysRequest`]
/// (JSON). The IdP's next sync overwrites them (docs/api.md, "The admin
/// API").
pub async fn put_ssh_keys(
    State(s): State<AppState>,
    caller: ApiCaller,
    ScimPath((_, user)): ScimPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiErrorResponse> {
    let (p, v) = acting_on(&s, caller, &user).await?;
    let bytes = axum::body::to_bytes(body, crate::scim::discovery::MAX_BODY_BYTES)
        .await
        .map_err(|_| DirectoryError::TooLarge("the key list is too large".into()))?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let keys = if is_json {
        serde_json::from_slice::<SshKeysRequest>(&bytes)
            .map_err(|e| {
                DirectoryError::InvalidValue(format!(
                    "expected {{\"keys\": [\"ssh-ed25519 AAAA... comment\", ...]}}: {e}"
                ))
            })?
            .keys
    } else {
        key_lines(&String::from_utf8_lossy(&bytes))
    };
    let v = s.directory.set_ssh_keys(&p, &v.stored.id, keys).await?;
    Ok(json_reply(StatusCode::OK, &keys_of(&v)))
}

/// `GET /api/v1/session`: the session the cookie carries, or 401.
pub async fn current_session(SessionCaller { org, session }: SessionCaller) -> Response {
    json_reply(
        StatusCode::OK,
        &SessionInfo {
            org: OrgRef {
                id: org.id,
                name: org.name,
            },
            subject: session.subject,
            user_id: session.user_id,
            method: session.method,
            created: session.created,
            expires: session.expires,
        },
    )
}

/// Any other method on an admin API path.
pub async fn method_not_allowed() -> Response {
    ApiErrorResponse(super::error::Refusal::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this method is not allowed here; docs/api.md lists the admin API",
    ))
    .into_response()
}
