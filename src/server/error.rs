//! The one place where domain errors become SCIM error responses
//! (RFC 7644 §3.12).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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

pub fn to_scim(e: DirectoryError) -> ScimError {
    match e {
        DirectoryError::Malformed { scim_type, detail } => ScimError::new(400, scim_type, detail),
        DirectoryError::TooLarge(d) => ScimError::new(413, Some(ScimType::TooMany), d),
        DirectoryError::NotFound(d) => ScimError::not_found(d),
        DirectoryError::Conflict(d) => ScimError::uniqueness(d),
        DirectoryError::InvalidValue(d) => ScimError::invalid_value(d),
        e @ DirectoryError::PreconditionFailed { .. } => ScimError::new(412, None, e.to_string()),
        DirectoryError::Unauthenticated(d) => ScimError::new(401, None, d),
        DirectoryError::Forbidden(d) => ScimError::new(403, None, d),
        DirectoryError::TooMany(d) => ScimError::new(429, None, d),
        DirectoryError::Store(StoreError::Unique(d)) => {
            ScimError::uniqueness(format!("the value is already taken ({d})"))
        }
        DirectoryError::Store(StoreError::Closed) => {
            ScimError::new(503, None, "the server is shutting down; retry shortly")
        }
        DirectoryError::Store(e) => {
            tracing::error!(error = %e, "storage error");
            ScimError::new(
                500,
                None,
                "internal storage error; the server log has the details",
            )
        }
    }
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
        resp.extensions_mut().insert(ErrorNote {
            scim_type: e.scim_type,
            detail: e.detail,
        });
        resp
    }
}
