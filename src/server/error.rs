//! The one place where domain errors become HTTP. [`Refusal`] holds the
//! one table (a domain error's status, and its SCIM keyword where RFC
//! 7644 §3.12 has one); each surface then writes its own body:
//!
//! - `/scim`: the SCIM error (RFC 7644 §3.12), [`ScimErrorResponse`];
//! - `/api/v1`: [`ApiError`] (`{"error": DETAIL, "code": KEYWORD}`),
//!   [`ApiErrorResponse`];
//! - the NSS maps: plain text, which nsscache shows as it is
//!   ([`Refusal::plain_text`]);
//! - sign-in pages: HTML, from the same status and detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api_v1::ApiError;
use crate::directory::DirectoryError;
use crate::directory::store::StoreError;
use crate::scim::{ScimError, ScimType};

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// Carried in response extensions so the request log can name the
/// `scimType` and detail of a failure.
#[derive(Debug, Clone)]
pub struct ErrorNote {
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

/// How a request is refused: the status, the SCIM keyword where there is
/// one, and the detail for the person who has to act on it.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl Refusal {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Refusal {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// The SCIM error of RFC 7644 §3.12.
    pub fn into_scim(self) -> ScimError {
        ScimError::new(self.status.as_u16(), self.scim_type, self.detail)
    }

    /// Plain text, for clients that show the body as it is (nsscache).
    pub fn plain_text(self) -> Response {
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.detail),
        )
            .into_response();
        retry_after(&mut resp);
        resp
    }

    /// A stable keyword for programs: the SCIM keyword in snake case, or
    /// one for the status.
    pub fn code(&self) -> &'static str {
        if let Some(t) = self.scim_type {
            return match t {
                ScimType::InvalidFilter => "invalid_filter",
                ScimType::TooMany => "too_many",
                ScimType::Uniqueness => "conflict",
                ScimType::Mutability => "mutability",
                ScimType::InvalidSyntax => "invalid_syntax",
                ScimType::InvalidPath => "invalid_path",
                ScimType::NoTarget => "no_target",
                ScimType::InvalidValue => "invalid_value",
                ScimType::InvalidVers => "invalid_version",
                ScimType::Sensitive => "sensitive",
                ScimType::InvalidCursor => "invalid_cursor",
                ScimType::ExpiredCursor => "expired_cursor",
            };
        }
        match self.status {
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PRECONDITION_FAILED => "precondition_failed",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        }
    }
}

/// The table: every domain error's status (and SCIM keyword).
impl From<DirectoryError> for Refusal {
    fn from(e: DirectoryError) -> Self {
        let with = |status, scim_type, detail: String| Refusal {
            status,
            scim_type,
            detail,
        };
        match e {
            DirectoryError::Malformed { scim_type, detail } => {
                with(StatusCode::BAD_REQUEST, scim_type, detail)
            }
            DirectoryError::TooLarge(d) => {
                with(StatusCode::PAYLOAD_TOO_LARGE, Some(ScimType::TooMany), d)
            }
            DirectoryError::NotFound(d) => with(StatusCode::NOT_FOUND, None, d),
            DirectoryError::Conflict(d) => {
                with(StatusCode::CONFLICT, Some(ScimType::Uniqueness), d)
            }
            DirectoryError::InvalidValue(d) => {
                with(StatusCode::BAD_REQUEST, Some(ScimType::InvalidValue), d)
            }
            e @ DirectoryError::PreconditionFailed { .. } => {
                with(StatusCode::PRECONDITION_FAILED, None, e.to_string())
            }
            DirectoryError::Unauthenticated(d) => with(StatusCode::UNAUTHORIZED, None, d),
            DirectoryError::Forbidden(d) => with(StatusCode::FORBIDDEN, None, d),
            DirectoryError::TooMany(d) => with(StatusCode::TOO_MANY_REQUESTS, None, d),
            DirectoryError::Store(StoreError::Unique(d)) => with(
                StatusCode::CONFLICT,
                Some(ScimType::Uniqueness),
                format!("the value is already taken ({d})"),
            ),
            DirectoryError::Store(StoreError::Closed) => Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down; retry shortly",
            ),
            DirectoryError::Store(StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "the database is unavailable");
                Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable; retry shortly",
                )
            }
            DirectoryError::Store(e) => {
                tracing::error!(error = %e, "storage error");
                Refusal::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal storage error; the server log has the details",
                )
            }
        }
    }
}

/// A protocol error raised at the edge (a body too large, a media type).
impl From<ScimError> for Refusal {
    fn from(e: ScimError) -> Self {
        Refusal {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            scim_type: e.scim_type,
            detail: e.detail,
        }
    }
}

/// The SCIM error for a domain error.
fn to_scim(e: DirectoryError) -> ScimError {
    Refusal::from(e).into_scim()
}

/// A refusal for now, not for ever (the database is down, the server is
/// stopping) says when to try again (RFC 9110 §10.2.3).
fn retry_after(resp: &mut Response) {
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
}

fn note(resp: &mut Response, scim_type: Option<ScimType>, detail: String) {
    retry_after(resp);
    resp.extensions_mut()
        .insert(ErrorNote { scim_type, detail });
}

/// A SCIM error as an HTTP response.
pub struct ScimErrorResponse(pub ScimError);

impl From<ScimError> for ScimErrorResponse {
    fn from(e: ScimError) -> Self {
        ScimErrorResponse(e)
    }
}

impl From<DirectoryError> for ScimErrorResponse {
    fn from(e: DirectoryError) -> Self {
        ScimErrorResponse(to_scim(e))
    }
}

impl IntoResponse for ScimErrorResponse {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = e.to_json().to_string();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
        if e.status == 401 {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roster\""),
            );
        }
        note(&mut resp, e.scim_type, e.detail);
        resp
    }
}

/// An `/api/v1` error as an HTTP response: [`ApiError`] as JSON.
pub struct ApiErrorResponse(pub Refusal);

impl<E: Into<Refusal>> From<E> for ApiErrorResponse {
    fn from(e: E) -> Self {
        ApiErrorResponse(e.into())
    }
}

impl IntoResponse for ApiErrorResponse {
    fn into_response(self) -> Response {
        let r = self.0;
        let body = ApiError {
            error: r.detail.clone(),
            code: r.code().to_string(),
        };
        let mut resp = super::json_reply(r.status, &body);
        if r.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roster\""),
            );
        }
        note(&mut resp, r.scim_type, r.detail);
        resp
    }
}
