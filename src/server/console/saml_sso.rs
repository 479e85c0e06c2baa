//! SAML SSO (docs/console.md, "Pages"; step 1 of docs/okta.md and
//! docs/entra.md): what to paste into the IdP, the IdP's side (Okta: SSO
//! URL, Entity ID, Signing certificate; Entra: a Metadata URL), "Next" to
//! see what will be deployed, "Deploy SSO" to save it; then the configured
//! IdP, its "Test" link, and changing or disabling it.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::users::DoneParam;
use super::{
    Console, ConsoleAdmin, ConsoleForm, ConsoleViewer, Layout, done_notice, refusal, render,
    see_other,
};
use crate::directory::DirectoryError;
use crate::idp_metadata::FetchError;
use crate::saml::{Certificate, IdpConfig, IdpInput, InputNames, SpEndpoints};
use crate::server::AppState;

/// The console's names for the inputs, in its refusals.
const NAMES: InputNames = InputNames {
    metadata: "a Metadata URL",
    sso_url: "SSO URL",
    entity_id: "Entity ID",
    certificate: "Signing certificate",
};

/// What the administrator typed, shown again when it is refused.
#[derive(Default)]
struct Typed {
    metadata_url: String,
    sso_url: String,
    entity_id: String,
    certificate: String,
    require_signed_assertion: bool,
    allow_idp_initiated: bool,
}

impl Typed {
    fn of(form: &ConsoleForm) -> Typed {
        Typed {
            metadata_url: form.get("metadata_url").trim().to_string(),
            sso_url: form.get("sso_url").trim().to_string(),
            entity_id: form.get("entity_id").trim().to_string(),
            certificate: form.get("certificate").to_string(),
            require_signed_assertion: form.get("require_signed_assertion") == "on",
            allow_idp_initiated: form.get("allow_idp_initiated") == "on",
        }
    }
}

/// A certificate as the page shows it.
struct CertView {
    fingerprint: String,
    describe: String,
    warning: Option<String>,
}

fn cert_views(certs: &[Certificate]) -> Vec<CertView> {
    certs
        .iter()
        .map(|c| CertView {
            fingerprint: c.fingerprint(),
            describe: c.describe(),
            warning: crate::saml::config::expiry_warnings(std::slice::from_ref(c))
                .into_iter()
                .next(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "console/saml.html")]
struct SamlPage {
    l: Layout,
    sp: SpEndpoints,
    /// The IdP configured now, with where its metadata came from.
    current: Option<(IdpConfig, Option<String>, String)>,
    certs: Vec<CertView>,
    test_url: String,
    typed: Typed,
}

pub(super) async fn show(
    State(s): State<AppState>,
    ConsoleViewer(c): ConsoleViewer,
    Query(q): Query<DoneParam>,
) -> Result<Response, Response> {
    let l = c.layout("saml", done_notice(q.done.as_deref()));
    // IdP-initiated sign-in starts unticked (docs/security.md, "Not
    // defended").
    page(&s, &c, l, Typed::default(), StatusCode::OK).await
}

async fn page(
    s: &AppState,
    c: &Console,
    l: Layout,
    typed: Typed,
    status: StatusCode,
) -> Result<Response, Response> {
    let org = &c.user.principal.org;
    let (_, settings) = s
        .directory
        .saml_settings(&org.id)
        .await
        .map_err(|e| refusal(c.layout("saml", None), e))?;
    let sp = SpEndpoints::for_org(&s.public_url, &org.id);
    let certs = settings
        .as_ref()
        .map(|st| cert_views(&st.idp.certificates))
        .unwrap_or_default();
    Ok(render(
        status,
        &SamlPage {
            l,
            test_url: format!("/accounts/saml/{}/test", org.id),
            sp,
            current: settings.map(|st| (st.idp, st.metadata_url, st.updated)),
            certs,
            typed,
        },
    ))
}

#[derive(Template)]
#[template(path = "console/saml_review.html")]
struct ReviewPage {
    l: Layout,
    idp: IdpConfig,
    certs: Vec<CertView>,
    /// The certificates in base64, carried to "Deploy SSO".
    certificates: Vec<String>,
    metadata_url: String,
}

/// "Next": the configuration the inputs describe, to be deployed.
pub(super) async fn review(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    form: ConsoleForm,
) -> Result<Response, Response> {
    let typed = Typed::of(&form);
    let certificates = if typed.certificate.trim().is_empty() {
        Ok(Vec::new())
    } else {
        Certificate::parse_file(&typed.certificate)
            .map_err(|e| DirectoryError::InvalidValue(e.to_string()))
    };
    let built = match certificates {
        Ok(certs) => configuration(&s, &typed, certs).await,
        Err(e) => Err(e),
    };
    match built {
        Ok(idp) => Ok(render(
            StatusCode::OK,
            &ReviewPage {
                l: c.layout("saml", None),
                certs: cert_views(&idp.certificates),
                certificates: idp
                    .certificates
                    .iter()
                    .map(Certificate::to_base64)
                    .collect(),
                idp,
                metadata_url: typed.metadata_url,
            },
        )),
        Err(e) => {
            let (status, l) = c.refused_layout("saml", e);
            page(&s, &c, l, typed, status).await
        }
    }
}

/// The IdP the inputs describe: from the metadata URL (fetched now), or
/// from the fields typed in.
async fn configuration(
    s: &AppState,
    t: &Typed,
    certificates: Vec<Certificate>,
) -> Result<IdpConfig, DirectoryError> {
    let invalid = DirectoryError::InvalidValue;
    let metadata = if t.metadata_url.is_empty() {
        None
    } else {
        let fetched = s
            .metadata_fetcher
            .fetch(
                &t.metadata_url,
                "the Metadata URL",
                "the SSO URL, Entity ID and Signing certificate fields",
            )
            .await;
        Some(fetched.map_err(|e| match e {
            FetchError::Busy(d) => DirectoryError::TooMany(d),
            FetchError::Failed(d) => invalid(d),
        })?)
    };
    IdpConfig::from_input(
        IdpInput {
            metadata_xml: metadata.as_deref(),
            sso_url: &t.sso_url,
            entity_id: &t.entity_id,
            certificates,
            require_signed_assertion: t.require_signed_assertion,
            allow_idp_initiated: t.allow_idp_initiated,
        },
        &NAMES,
    )
    .map_err(|e| invalid(e.to_string()))
}

/// "Deploy SSO": saves what the review showed.
pub(super) async fn deploy(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    form: ConsoleForm,
) -> Result<Response, Response> {
    let typed = Typed::of(&form);
    let metadata_url = Some(typed.metadata_url.clone()).filter(|u| !u.is_empty());
    // The review's values, checked again: a form is the client's to change.
    let fields = Typed {
        metadata_url: String::new(),
        ..typed
    };
    let certificates: Result<Vec<Certificate>, _> = form
        .all("certificate")
        .iter()
        .map(|c| Certificate::from_base64(c))
        .collect();
    let built = match certificates {
        Ok(certs) => configuration(&s, &fields, certs).await,
        Err(e) => Err(DirectoryError::InvalidValue(e.to_string())),
    };
    let outcome = match built {
        Ok(idp) => s
            .directory
            .set_saml(&c.actor(), &c.user.principal.org.id, idp, metadata_url)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => {
            tracing::info!(org = %c.user.principal.org.name, by = %c.user.session.subject, "SAML SSO deployed in the console");
            Ok(see_other(&c.path("saml?done=saml")))
        }
        Err(e) => {
            let (status, l) = c.refused_layout("saml", e);
            page(&s, &c, l, fields, status).await
        }
    }
}

pub(super) async fn disable(
    State(s): State<AppState>,
    ConsoleAdmin(c): ConsoleAdmin,
    _form: ConsoleForm,
) -> Result<Response, Response> {
    s.directory
        .disable_saml(&c.actor(), &c.user.principal.org.id)
        .await
        .map_err(|e| refusal(c.layout("saml", None), e))?;
    tracing::info!(org = %c.user.principal.org.name, by = %c.user.session.subject, "SAML SSO disabled in the console");
    Ok(see_other(&c.path("saml?done=saml-off")))
}
