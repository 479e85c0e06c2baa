//! The admin API (`/api/v1/orgs/{org}/...`). Until console sessions land
//! (the SAML work), it authenticates with one of the org's SCIM tokens and
//! acts as the org's administrator; cluster tokens are refused.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::error::ScimErrorResponse;
use super::scim::{ScimPath, principal};
use crate::directory::model::Principal;
use crate::scim::schema::{COREWEAVE_USER_SCHEMA, PATCH_OP_SCHEMA, ResourceType};
use crate::scim::{ScimError, patch};

use super::json_reply;

async fn admin(s: &AppState, org: &str, headers: &HeaderMap) -> Result<Principal, Response> {
    let p = principal(s, org, headers).await?;
    if p.cluster_id.is_some() {
        return Err(ScimErrorResponse(ScimError::new(
            403,
            None,
            "a cluster token cannot use the admin API",
        ))
        .into_response());
    }
    Ok(Principal::admin(p.org))
}

fn keys_of(body: &Value) -> Value {
    body.get(COREWEAVE_USER_SCHEMA)
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
    let p = match admin(&s, &org, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match s.directory.find(&p, ResourceType::User, &user).await {
        Ok(v) => json_reply(
            StatusCode::OK,
            json!({"user": v.stored.id, "keys": keys_of(&v.render(""))}),
        ),
        Err(e) => ScimErrorResponse::from(e).into_response(),
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
    let p = match admin(&s, &org, &headers).await {
        Ok(p) => p,
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
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        };
        let v = s.directory.find(&p, ResourceType::User, &user).await?;
        let ops = patch::parse_request(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [
            {"op": "replace", "path": format!("{COREWEAVE_USER_SCHEMA}:sunkSshKeys"), "value": keys}
        ]}))?;
        let v = s
            .directory
            .patch_resource(&p, ResourceType::User, &v.stored.id, ops, None)
            .await?;
        Ok(json_reply(
            StatusCode::OK,
            json!({"user": v.stored.id, "keys": keys_of(&v.render(""))}),
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
