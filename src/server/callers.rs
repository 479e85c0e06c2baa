//! Who is calling: authentication as axum extractors. A handler names the
//! caller it needs and receives it authenticated, or the request is
//! refused before the handler runs, in the body of the surface it came to.
//!
//! - [`ApiCaller`] and [`AdminCaller`]: the admin API (`/api/v1/orgs/{org}/...`),
//!   by one of the org's SCIM tokens or a browser session;
//! - [`SessionCaller`]: a live browser session (the `roster_session` cookie);
//! - [`ClusterCaller`]: the cluster API, by any token of the org (which
//!   cluster it may read, the domain decides);
//! - [`NssCaller`]: the NSS maps, by a token sent as a bearer token or as
//!   the HTTP Basic password (stock nsscache hands the URL to libcurl,
//!   which turns credentials in a URL into Basic);
//! - `scim::ScimCaller`: SCIM, whose refusals also go to the provisioning log.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::AppState;
use super::error::{ApiErrorResponse, Refusal};
use crate::directory::DirectoryError;
use crate::directory::model::{Access, Org, Principal, Session};

/// The `{org}` of the request's path, as given (id or name); `None` when
/// the path is not UTF-8.
pub(super) async fn path_org(parts: &mut Parts, state: &AppState) -> Option<String> {
    let params = axum::extract::RawPathParams::from_request_parts(parts, state)
        .await
        .ok()?;
    Some(
        params
            .iter()
            .find(|(k, _)| *k == "org")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default(),
    )
}

/// The token of `Authorization: Bearer TOKEN`.
pub(super) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim().to_string())
}

/// A bearer token, or the password of HTTP Basic (RFC 7617 §2).
fn bearer_or_basic(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split_once(':')
            .map(|(_, password)| password.to_string());
    }
    bearer(headers)
}

/// One of the org's SCIM tokens, with the org's SCIM API on (the toggle
/// governs every use of its tokens: docs/scim.md, "Endpoints"; docs/api.md,
/// "Who may call").
pub(super) async fn scim_token(
    state: &AppState,
    org: &str,
    token: &str,
) -> Result<Principal, DirectoryError> {
    let p = state.directory.authenticate(org, token).await?;
    if !p.org.settings.scim_api {
        return Err(DirectoryError::Forbidden(format!(
            "the SCIM API is off for \"{}\"; turn it on with `roster org set {} --scim-api on`",
            p.org.name, p.org.name
        )));
    }
    Ok(p)
}

async fn org_of_path(parts: &mut Parts, state: &AppState) -> Result<String, DirectoryError> {
    path_org(parts, state).await.ok_or_else(|| {
        DirectoryError::NotFound("no such organization: the path is not UTF-8".into())
    })
}

/// A live browser session: its org and the session.
pub struct SessionCaller {
    pub org: Org,
    pub session: Session,
}

impl SessionCaller {
    /// The session a request's cookie carries, if it is live.
    async fn of(parts: &Parts, state: &AppState) -> Result<Option<SessionCaller>, DirectoryError> {
        let Some(secret) = super::sign_in::session_secret(&parts.headers) else {
            return Ok(None);
        };
        Ok(state
            .directory
            .session(secret)
            .await?
            .map(|(org, session)| SessionCaller { org, session }))
    }
}

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = ApiErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        SessionCaller::of(parts, state).await?.ok_or_else(|| {
            DirectoryError::Unauthenticated(
                "no live session: sign in at /accounts/saml/ORG/login".into(),
            )
            .into()
        })
    }
}

/// The caller of the admin API: a bearer token (one of the org's SCIM
/// tokens; cluster tokens are refused) or, without one, a browser session
/// of the path's org.
pub enum ApiCaller {
    /// The org's administrator (a SCIM token, or the session of the
    /// bootstrap administrator or of an IAM Admin).
    Admin(Principal),
    /// A signed-in person with less, who may act on their own account
    /// only; their principal carries their access, so the domain refuses
    /// anything else they try.
    Member {
        principal: Principal,
        user_id: String,
    },
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let org = org_of_path(parts, state).await?;
        if parts.headers.get(header::AUTHORIZATION).is_none()
            && super::sign_in::session_secret(&parts.headers).is_some()
        {
            let SessionCaller { org: o, session } =
                SessionCaller::of(parts, state).await?.ok_or_else(|| {
                    DirectoryError::Unauthenticated(format!(
                        "the session has expired or ended; sign in again at /accounts/saml/{org}/login"
                    ))
                })?;
            if o.id != org && !o.name.eq_ignore_ascii_case(&org) {
                return Err(DirectoryError::Forbidden(format!(
                    "this session belongs to the organization \"{}\", not \"{org}\"",
                    o.name
                ))
                .into());
            }
            // The roles the person's groups carry now, as at the console.
            let user_id = session.user_id.clone();
            let mut principal = state.directory.console_user(o, session).await?.principal;
            principal.origin = super::request_origin(parts, state);
            return Ok(match user_id {
                Some(user_id) if principal.access < Access::Admin => {
                    ApiCaller::Member { principal, user_id }
                }
                _ => ApiCaller::Admin(principal),
            });
        }
        let token = bearer(&parts.headers).ok_or_else(|| {
            DirectoryError::Unauthenticated(
                "missing credential: send `Authorization: Bearer TOKEN` with a token from `roster token create`, or sign in".into(),
            )
        })?;
        let mut p = scim_token(state, &org, &token).await?;
        p.origin = super::request_origin(parts, state);
        if p.cluster_id.is_some() {
            return Err(DirectoryError::Forbidden(
                "a cluster token cannot use the admin API".into(),
            )
            .into());
        }
        // The token's principal, not a plain administrator's: an IdP's
        // token writes only while Automated User Provisioning is on, here
        // as on /scim.
        Ok(ApiCaller::Admin(p))
    }
}

/// The org's administrator on the admin API; a signed-in member is refused.
pub struct AdminCaller(pub Principal);

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match ApiCaller::from_request_parts(parts, state).await? {
            ApiCaller::Admin(p) => Ok(AdminCaller(p)),
            ApiCaller::Member { .. } => Err(DirectoryError::Forbidden(
                "only the organization's administrators may do this; sign in with `roster admin login-link` or use a SCIM token".into(),
            )
            .into()),
        }
    }
}

/// The caller of the cluster API: a token of the path's org.
pub struct ClusterCaller(pub Principal);

impl FromRequestParts<AppState> for ClusterCaller {
    type Rejection = ApiErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let org = org_of_path(parts, state).await?;
        let token = bearer_or_basic(&parts.headers).ok_or_else(|| {
            DirectoryError::Unauthenticated(
                "a cluster token is required: `roster cluster token create ORG CLUSTER`".into(),
            )
        })?;
        Ok(ClusterCaller(
            state.directory.authenticate(&org, &token).await?,
        ))
    }
}

/// The caller of the NSS maps: a token of the path's org. Refusals are
/// plain text with a Basic challenge, which curl answers.
pub struct NssCaller(pub Principal);

impl FromRequestParts<AppState> for NssCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let challenge = |r: Refusal| {
            let mut resp = r.plain_text();
            if resp.status() == StatusCode::UNAUTHORIZED {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"roster\""),
                );
            }
            resp
        };
        let org = org_of_path(parts, state)
            .await
            .map_err(|e| challenge(e.into()))?;
        let Some(token) = bearer_or_basic(&parts.headers) else {
            return Err(challenge(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "a cluster token is required: `roster cluster token create ORG CLUSTER`, sent as a bearer token or as the Basic password",
            )));
        };
        match state.directory.authenticate(&org, &token).await {
            Ok(p) => Ok(NssCaller(p)),
            // Any failure to authenticate is a 401 here: nsscache retries
            // on it with the credential it has.
            Err(e) => Err(challenge(Refusal::new(
                StatusCode::UNAUTHORIZED,
                e.to_string(),
            ))),
        }
    }
}
