//! An HTML form's body (`application/x-www-form-urlencoded`), read with a
//! size bound: the SAML ACS and the console read their posts here, and
//! each says a refusal in its own page.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{StatusCode, header};

/// Why a body is not a form this server reads.
pub(super) enum NotAForm {
    /// Another media type.
    MediaType,
    /// Larger than the bound given.
    TooLarge(usize),
}

impl NotAForm {
    pub fn status(&self) -> StatusCode {
        match self {
            NotAForm::MediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            NotAForm::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    pub fn detail(&self) -> String {
        match self {
            NotAForm::MediaType => {
                "expected a form post (application/x-www-form-urlencoded)".into()
            }
            NotAForm::TooLarge(max) => format!("the form is larger than {max} bytes"),
        }
    }
}

/// The form's fields, in order (a name may repeat).
pub(super) async fn read(req: Request, max: usize) -> Result<Vec<(String, String)>, NotAForm> {
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(NotAForm::MediaType);
    }
    let bytes = to_bytes(req.into_body(), max)
        .await
        .map_err(|_| NotAForm::TooLarge(max))?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}
