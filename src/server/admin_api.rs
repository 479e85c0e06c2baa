//! The admin API (`/api/v1/orgs/{org}/...`). Callers are the org's
//! administrator (one of its SCIM tokens, or the bootstrap administrator's
//! browser session) or a signed-in user acting on their own account (their
//! SSH keys, as the console will let them). Cluster tokens are refused.
//! Cookie-authenticated writes are PUTs, which browsers never send
//! cross-site without a CORS preflight Roster does not grant, and the
//! cookie is `SameSite=Lax`.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::error::ScimErrorResponse;
use super::scim::{ScimPath, principal};
use crate::directory::model::Principal;
use crate::directory::resources::ResourceView;
use crate::directory::ssh_keys::key_lines;
use crate::scim::ScimError;
use crate::scim::schema::{COREWEAVE_USER_SCHEMA, ResourceType};

use super::json_reply;

/// Who is calling the admin API.
pub(super) enum Caller {
    /// The org's administrator.
    Admin(Principal),
    /// A signed-in user, who may act on their own account only.
    Member { admin: Principal, user_id: String },
}

fn denied(status: u16, detail: String) -> Response {
    ScimErrorResponse(ScimError::new(status, None, detail)).into_response()
}

/// The caller, from a bearer token or else from a session cookie.
pub(super) async fn caller(
    s: &AppState,
    org: &str,
    headers: &HeaderMap,
) -> Result<Caller, Response> {
    if headers.get(header::AUTHORIZATION).is_none()
        && let Some(secret) = super::sign_in::session_secret(headers)
    {
        let (o, session) = match s.directory.session(secret).await {
            Ok(Some(live)) => live,
            Ok(None) => {
                return Err(denied(
                    401,
                    format!(
                        "the session has expired or ended; sign in again at /accounts/saml/{org}/login"
                    ),
                ));
            }
            Err(e) => return Err(ScimErrorResponse::from(e).into_response()),
        };
        if o.id != org && !o.name.eq_ignore_ascii_case(org) {
            return Err(denied(
                403,
                format!(
                    "this session belongs to the organization \"{}\", not \"{org}\"",
                    o.name
                ),
            ));
        }
        let admin = Principal::admin(o);
        return Ok(match session.user_id {
            None => Caller::Admin(admin),
            Some(user_id) => Caller::Member { admin, user_id },
        });
    }
    let p = principal(s, org, headers).await?;
    if p.cluster_id.is_some() {
        return Err(denied(
            403,
            "a cluster token cannot use the admin API".into(),
        ));
    }
    // The token's principal, not a plain administrator's: an IdP's token
    // writes only while Automated User Provisioning is on, here as on /scim.
    Ok(Caller::Admin(p))
}

/// The org's administrator, or a refusal.
pub(super) async fn admin(
    s: &AppState,
    org: &str,
    headers: &HeaderMap,
) -> Result<Principal, Response> {
    match caller(s, org, headers).await? {
        Caller::Admin(p) => Ok(p),
        Caller::Member { .. } => Err(denied(
            403,
            "only the organization's administrators may do this; sign in with `roster admin login-link` or use a SCIM token".into(),
        )),
    }
}

/// The principal that may act on `user`: an administrator on anyone, a
/// member on themselves.
async fn acting_on(
    s: &AppState,
    org: &str,
    user: &str,
    headers: &HeaderMap,
) -> Result<(Principal, ResourceView), Response> {
    let (p, own) = match caller(s, org, headers).await? {
        Caller::Admin(p) => (p, None),
        Caller::Member { admin, user_id } => (admin, Some(user_id)),
    };
    let v = s
        .directory
        .find(&p, ResourceType::User, user)
        .await
        .map_err(|e| ScimErrorResponse::from(e).into_response())?;
    if let Some(own) = own
        && own != v.stored.id
    {
        return Err(denied(
            403,
            "a signed-in user may change only their own SSH keys".into(),
        ));
    }
    Ok((p, v))
}

fn keys_of(v: &ResourceView) -> Value {
    v.stored
        .doc
        .get(COREWEAVE_USER_SCHEMA)
        .and_then(|e| e.get("sunkSshKeys"))
        .cloned()
        .unwrap_or_else(|| json!([]))
}

/// `GET /api/v1/orgs/{org}/users/{user}/ssh-keys`: the user's keys.
pub async fn get_ssh_keys(
    State(s): State<AppState>,
    ScimPath((org, user)): ScimPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match acting_on(&s, &org, &user, &headers).await {
        Ok((_, v)) => json_reply(
            StatusCode::OK,
            json!({"user": v.stored.id, "keys": keys_of(&v)}),
        ),
        Err(r) => r,
    }
}

/// `PUT /api/v1/orgs/{org}/users/{user}/ssh-keys`: replaces the user's
/// keys with the body's, one per line (text), or `{"keys": [...]}` (JSON).
/// The IdP's next sync overwrites them (seed 003).
pub async fn put_ssh_keys(
    State(s): State<AppState>,
    ScimPath((org, user)): ScimPath<(String, String)>,
    RawQuery(_): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (p, v) = match acting_on(&s, &org, &user, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result: Result<Response, ScimErrorResponse> = async {
        let bytes = axum::body::to_bytes(body, crate::scim::discovery::MAX_BODY_BYTES)
            .await
            .map_err(|_| ScimError::new(413, None, "the key list is too large"))?;
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let keys: Vec<String> = if is_json {
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ScimError::invalid_syntax(format!("not valid JSON: {e}")))?;
            v.get("keys")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    ScimError::invalid_syntax(
                        "expected {\"keys\": [\"ssh-ed25519 AAAA... comment\", ...]}",
                    )
                })?
                .iter()
                .map(|k| {
                    k.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| ScimError::invalid_value("every key must be a string"))
                })
                .collect::<Result<_, _>>()?
        } else {
            key_lines(&String::from_utf8_lossy(&bytes))
        };
        let v = s.directory.set_ssh_keys(&p, &v.stored.id, keys).await?;
        Ok(json_reply(
            StatusCode::OK,
            json!({"user": v.stored.id, "keys": keys_of(&v)}),
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
