//! Browser sign-in under `/accounts`: SAML SSO (metadata, login, ACS,
//! test), sessions (who am I, logout) and bootstrap login links. Pages are
//! small server-rendered HTML; every refusal is a 403 page that says why
//! and starts no session.

use axum::Router;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::metrics::SignInLabels;
use super::{AppState, json_reply};
use crate::directory::DirectoryError;
use crate::directory::model::SignInPurpose;
use crate::directory::sign_in::{NewSession, REQUEST_LIFETIME, SignedIn};
use crate::saml::response::{self, UnverifiedSummary};
use crate::saml::{SamlError, SpEndpoints, metadata, request, xml_escape as escape};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "roster_session";
/// The sign-in ticket cookie's name (`sign_in_ticket`).
const TICKET_COOKIE: &str = "roster_saml_request";

/// Largest ACS or login-link form body read.
const MAX_FORM_BYTES: usize = 512 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/saml/{org}/metadata", get(sp_metadata))
        .route("/saml/{org}/login", get(login))
        .route("/saml/{org}/test", get(test))
        .route("/saml/{org}/acs", axum::routing::post(acs))
        .route("/session", get(whoami))
        .route("/logout", axum::routing::post(logout))
        .route(
            "/login-link/{secret}",
            get(login_link_page).post(redeem_login_link),
        )
}

/// A minimal HTML page.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · Roster</title>\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#222}}\
         h1{{font-size:1.4rem}}code,pre{{background:#f4f4f4;padding:.1rem .3rem}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // Nothing to load, nothing to frame (a framed login-link
            // button could be clickjacked), forms only to Roster, and no
            // URL with a secret in it sent onwards.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response()
}

/// A reason as a sentence on a page: domain errors start in lower case,
/// as they are also read inside other sentences (logs, SCIM details).
fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn refusal_page(status: StatusCode, reason: &str, hint: &str) -> Response {
    page(
        status,
        "Sign-in refused",
        &format!(
            "<p>{}</p><p>You are not signed in.{}</p>",
            escape(&sentence(reason)),
            if hint.is_empty() {
                String::new()
            } else {
                format!(" {hint}")
            }
        ),
    )
}

/// A domain error as a page, with the status the one mapping of domain
/// errors gives (`error::Refusal`).
fn directory_error_page(e: DirectoryError) -> Response {
    let r = super::error::Refusal::from(e);
    if r.status.is_server_error() {
        // Logged by the mapping; nothing about it is for the browser.
        return unavailable();
    }
    refusal_page(r.status, &r.detail, "")
}

/// A failure of Roster's own, not the caller's: 503, nothing said that
/// could help an attacker.
fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "<p>Roster could not complete this right now; try again in a moment.</p>",
    )
}

fn sp_endpoints(s: &AppState, org_id: &str) -> SpEndpoints {
    SpEndpoints::for_org(&s.public_url, org_id)
}

/// `Set-Cookie` for a new session: `HttpOnly`, `SameSite=Lax` (the ACS is
/// reached by a cross-site POST, which Lax still lets set the cookie), and
/// `Secure` when Roster is served over https.
fn session_cookie(s: &AppState, secret: &str, max_age: u64) -> String {
    let secure = if s.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// Whether the browser says the request comes from Roster's own pages:
/// the console's forms, the login-link button, "Sign out". Browsers send
/// `Sec-Fetch-Site` (Fetch Metadata; a page's script cannot set it) and
/// `Origin` on every form post. Pages send `Referrer-Policy: no-referrer`,
/// under which a same-origin post carries `Origin: null` (Fetch, "serialize
/// a request origin"): that counts only beside `Sec-Fetch-Site:
/// same-origin`, since a sandboxed frame on another site sends it too.
/// Nothing rests on `Referer`. A client that sends neither header is not
/// a browser on another site's page, and passes.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == "null" {
        return site == Some("same-origin");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// The refusal of a post from another site's page: no session started or
/// ended, no link used up.
fn cross_site() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Refused",
        "<p>This request came from another site. Roster signs in and out only from its own pages: \
         open the link yourself and press the button.</p>",
    )
}

/// The session secret a request's cookie carries.
pub(super) fn session_secret(headers: &HeaderMap) -> Option<&str> {
    cookie_value(headers, SESSION_COOKIE)
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn redirect(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, to.to_string()),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

async fn read_form(req: Request) -> Result<Vec<(String, String)>, Response> {
    // The SAML HTTP-POST binding sends a form; anything else is refused
    // (400, as before: it is not a sign-in).
    super::form_body::read(req, MAX_FORM_BYTES)
        .await
        .map_err(|e| match e {
            super::form_body::NotAForm::MediaType => refusal_page(
                StatusCode::BAD_REQUEST,
                "expected a form post (application/x-www-form-urlencoded), as the SAML HTTP-POST binding sends",
                "",
            ),
            e => refusal_page(e.status(), &e.detail(), ""),
        })
}

/// The SP metadata, served at the org's id (its entity id). It does not
/// tell whether an org exists: by name it is never served, and an id that
/// names no org gets the metadata such an org would have.
async fn sp_metadata(State(s): State<AppState>, Path(org): Path<String>) -> Response {
    let Ok(id) = uuid::Uuid::parse_str(&org) else {
        return refusal_page(
            StatusCode::NOT_FOUND,
            "the SP metadata is served at the organization's id, which is its entity id",
            "<code>roster saml show ORG</code> prints the URL.",
        );
    };
    let org = id.hyphenated().to_string();
    let want = match s.directory.saml_settings(&org).await {
        Ok((_, settings)) => settings.is_some_and(|c| c.idp.require_signed_assertion),
        Err(DirectoryError::NotFound(_)) => false,
        Err(e) => return directory_error_page(e),
    };
    (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        metadata::sp_metadata(&sp_endpoints(&s, &org), want),
    )
        .into_response()
}

async fn login(
    state: State<AppState>,
    org: Path<String>,
    client: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    start(state, org, client, headers, SignInPurpose::SignIn).await
}

async fn test(
    state: State<AppState>,
    org: Path<String>,
    client: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    start(state, org, client, headers, SignInPurpose::Test).await
}

/// `Set-Cookie` for the sign-in ticket. The IdP's answer reaches the ACS
/// by a cross-site POST, which carries only `SameSite=None` cookies, and
/// browsers take those only with `Secure`: over https, and on loopback
/// (which browsers treat as secure). On plain http elsewhere the cookie
/// goes without `SameSite`, which browsers treat as Lax but still send on
/// a cross-site POST within two minutes: serve Roster over https.
fn ticket_cookie(s: &AppState, ticket: &str, max_age: u64) -> String {
    let host = url::Url::parse(&s.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let site = if s.public_url.starts_with("https://") || loopback {
        "; SameSite=None; Secure"
    } else {
        ""
    };
    format!("{TICKET_COOKIE}={ticket}; Path=/accounts/saml/; HttpOnly; Max-Age={max_age}{site}")
}

/// Sign-in for an org that does not exist, or has no SAML SSO: one page
/// for both, which names no org, so that strangers cannot tell which orgs
/// exist nor learn an org's name from its id (docs/security.md,
/// "Anonymous clients"). An org with SAML SSO shows itself by sending the
/// browser to its IdP: that is what the address is for.
fn no_sso_here() -> Response {
    refusal_page(
        StatusCode::NOT_FOUND,
        "single sign-on is not available at this address.",
        "Check the address with your administrator. An administrator sets SAML SSO up with \
         <code>roster saml set</code>, and signs in before that with a one-time link \
         (<code>roster admin login-link</code>).",
    )
}

/// SP-initiated sign-in: a fresh AuthnRequest sent by redirect, its ticket
/// in a cookie of this browser. Anyone may start one, so each client
/// address may start only so many at a time.
async fn start(
    State(s): State<AppState>,
    Path(org): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    purpose: SignInPurpose,
) -> Response {
    let client = super::client_address(peer.ip(), &headers, &s.trusted_proxies);
    if let Err(wait) = s.sign_in_starts.check(client, std::time::Instant::now()) {
        let mut resp = refusal_page(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-ins were started from this address",
            &format!("Try again in {} seconds.", wait.as_secs() + 1),
        );
        if let Ok(v) = HeaderValue::from_str(&(wait.as_secs() + 1).to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let (o, settings) = match s.directory.saml_settings(&org).await {
        Ok((o, Some(settings))) => (o, settings),
        Ok((_, None)) | Err(DirectoryError::NotFound(_)) => return no_sso_here(),
        Err(e) => return directory_error_page(e),
    };
    let out = match request::authn_request(
        &sp_endpoints(&s, &o.id),
        &settings.idp,
        "",
        s.directory.clock().now(),
    ) {
        Ok(r) => r,
        Err(e) => {
            return refusal_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &e.to_string(),
                "An administrator should run <code>roster saml set</code> again.",
            );
        }
    };
    let ticket = match s.directory.sign_in_ticket(&o.id, &out.id, purpose).await {
        Ok(t) => t,
        Err(e) => return directory_error_page(e),
    };
    with_cookie(
        redirect(&out.redirect_url),
        &ticket_cookie(&s, &ticket, REQUEST_LIFETIME.as_secs()),
    )
}

fn summary_table(rows: &[(&str, String)], attributes: &[(String, Vec<String>)]) -> String {
    let mut html = String::from("<table>");
    for (k, v) in rows {
        html.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        ));
    }
    for (name, values) in attributes {
        html.push_str(&format!(
            "<tr><th>attribute <code>{}</code></th><td>{}</td></tr>",
            escape(name),
            escape(&values.join(", "))
        ));
    }
    html.push_str("</table>");
    html
}

fn unverified_html(u: &UnverifiedSummary) -> String {
    if u.issuer.is_none() && u.name_id.is_none() && u.attributes.is_empty() {
        return String::new();
    }
    let rows = [
        ("Issuer", u.issuer.clone().unwrap_or_default()),
        ("NameID", u.name_id.clone().unwrap_or_default()),
        ("Status", u.status.clone().unwrap_or_default()),
    ];
    format!(
        "<h2>What the IdP sent (not trusted: it was refused)</h2>{}",
        summary_table(&rows, &u.attributes)
    )
}

/// The Assertion Consumer Service (Profiles §4.1.4): verifies, then signs in.
async fn acs(State(s): State<AppState>, Path(org): Path<String>, req: Request) -> Response {
    let ticket = cookie_value(req.headers(), TICKET_COOKIE).map(str::to_string);
    let count = |result: &str| {
        s.metrics
            .sign_ins
            .get_or_create(&SignInLabels {
                result: result.to_string(),
            })
            .inc();
    };
    // An unknown org and one without SAML SSO are answered alike, naming
    // no org (as `no_sso_here`).
    let (o, settings) = match s.directory.saml_settings(&org).await {
        Ok((o, Some(settings))) => (o, settings),
        Ok((_, None)) | Err(DirectoryError::NotFound(_)) => {
            count("not_configured");
            return refusal_page(
                StatusCode::FORBIDDEN,
                "SAML SSO is not configured at this address, so no response is accepted.",
                "",
            );
        }
        Err(e) => return directory_error_page(e),
    };
    let form = match read_form(req).await {
        Ok(f) => f,
        Err(resp) => {
            count("malformed");
            return resp;
        }
    };
    let Some(encoded) = form
        .iter()
        .find(|(k, _)| k == "SAMLResponse")
        .map(|(_, v)| v)
    else {
        count("malformed");
        return refusal_page(
            StatusCode::BAD_REQUEST,
            "the form has no SAMLResponse field; the IdP must post its response here (HTTP-POST binding)",
            "",
        );
    };
    let sp = sp_endpoints(&s, &o.id);
    let login_hint = format!(
        "<a href=\"/accounts/saml/{}/login\">Sign in again</a>.",
        escape(&o.id)
    );
    let refuse = |e: SamlError, xml: Option<&str>| {
        count(e.check());
        tracing::warn!(org = %o.name, check = e.check(), detail = %e, "SAML sign-in refused");
        let extra = xml
            .map(|x| unverified_html(&response::summarize_unverified(x)))
            .unwrap_or_default();
        let mut resp = refusal_page(StatusCode::FORBIDDEN, &e.to_string(), &login_hint);
        if !extra.is_empty() {
            resp = page(
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                &format!(
                    "<p>{}</p><p>You are not signed in. {login_hint}</p>{extra}",
                    escape(&e.to_string())
                ),
            );
        }
        resp
    };
    let xml = match response::decode(encoded) {
        Ok(x) => x,
        Err(e) => return refuse(e, None),
    };
    // Signature checking is CPU work in C (about a millisecond): off the
    // async workers.
    let checked = {
        let (xml, idp, sp) = (xml.clone(), settings.idp.clone(), sp.clone());
        tokio::task::spawn_blocking(move || response::verify(&xml, &idp, &sp)).await
    };
    let verified = match checked {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return refuse(e, Some(&xml)),
        Err(e) => {
            count("error");
            tracing::error!(error = %e, "SAML verification task failed");
            return unavailable();
        }
    };
    let shown = verified.clone();
    let signed_in = match s
        .directory
        .sign_in(
            &o.id,
            verified,
            ticket,
            settings.idp.allow_idp_initiated,
            s.session_lifetime,
        )
        .await
    {
        Ok(x) => x,
        Err(DirectoryError::Forbidden(detail)) => {
            // It may quote the response (a request id, a NameID).
            let detail = crate::saml::printable(&detail);
            count("refused");
            tracing::warn!(org = %o.name, user = %crate::saml::printable(&shown.name_id), detail = %detail, "SAML sign-in refused");
            if let Err(e) = s
                .directory
                .record_sign_in_outcome(&o.id, &shown.name_id, false, detail.clone())
                .await
            {
                tracing::warn!(error = %e, "could not record the refused sign-in");
            }
            return refusal_page(StatusCode::FORBIDDEN, &detail, &login_hint);
        }
        Err(e) => {
            count("error");
            return directory_error_page(e);
        }
    };
    count("ok");
    let account = format!(
        "session {} as {}{}",
        signed_in.new_session.session.id,
        signed_in.new_session.session.subject,
        if signed_in.created {
            " (account created just in time)"
        } else {
            ""
        }
    );
    if let Err(e) = s
        .directory
        .record_sign_in_outcome(&o.id, &shown.name_id, true, account)
        .await
    {
        tracing::warn!(error = %e, "could not record the sign-in");
    }
    tracing::info!(
        org = %o.name,
        user = %signed_in.new_session.session.subject,
        session = %signed_in.new_session.session.id,
        created = signed_in.created,
        "SAML sign-in"
    );
    let cookie = session_cookie(
        &s,
        &signed_in.new_session.secret,
        s.session_lifetime.as_secs(),
    );
    let resp = match signed_in.purpose {
        // The console: its Clusters page, or the person's own Settings
        // when no role lets them see more.
        SignInPurpose::SignIn => redirect(&format!("/console/{}", o.name)),
        SignInPurpose::Test => test_page(&signed_in, &shown),
    };
    // The session first; then the used ticket goes.
    let resp = with_cookie(resp, &cookie);
    with_cookie(resp, &ticket_cookie(&s, "", 0))
}

fn test_page(signed_in: &SignedIn, a: &crate::saml::VerifiedAssertion) -> Response {
    let signed = match (a.response_signed, a.assertion_signed) {
        (true, true) => "response and assertion",
        (true, false) => "response",
        _ => "assertion",
    };
    let rows = [
        ("Issuer", a.issuer.clone()),
        ("NameID", a.name_id.clone()),
        (
            "NameID format",
            a.name_id_format.clone().unwrap_or_default(),
        ),
        ("Signed", signed.to_string()),
        ("Assertion id", a.assertion_id.clone()),
        (
            "Account",
            format!(
                "{} ({})",
                signed_in.new_session.session.subject,
                if signed_in.created {
                    "created just in time"
                } else {
                    "matched by userName"
                }
            ),
        ),
        (
            "Session expires",
            signed_in.new_session.session.expires.clone(),
        ),
    ];
    let missing: Vec<&str> = ["first_name", "last_name", "email"]
        .into_iter()
        .filter(|n| a.attribute(n).is_none())
        .collect();
    let warn = if missing.is_empty() {
        String::new()
    } else {
        format!(
            "<p>Missing attribute statements: <code>{}</code>. Add them in the IdP (Okta: Attribute Statements; Entra: Attributes &amp; Claims).</p>",
            escape(&missing.join(", "))
        )
    };
    page(
        StatusCode::OK,
        "SAML test succeeded",
        &format!(
            "<p>The IdP signed you in, and you are now signed in to Roster.</p>{warn}<h2>What the IdP sent</h2>{}",
            summary_table(&rows, &a.attributes)
        ),
    )
}

/// The current session: HTML, or JSON for `Accept: application/json`.
async fn whoami(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let json_wanted = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let live = match session_secret(&headers) {
        Some(secret) => s.directory.session(secret).await,
        None => Ok(None),
    };
    match live {
        Ok(Some((o, session))) => {
            if json_wanted {
                return json_reply(
                    StatusCode::OK,
                    &json!({
                        "org": {"id": o.id, "name": o.name},
                        "subject": session.subject,
                        "user_id": session.user_id,
                        "method": session.method,
                        "created": session.created,
                        "expires": session.expires,
                    }),
                );
            }
            page(
                StatusCode::OK,
                "Signed in",
                &format!(
                    "<p>You are signed in to <b>{}</b> as <b>{}</b>, until {}.</p>\
                     <form method=\"post\" action=\"/accounts/logout\"><button>Sign out</button></form>",
                    escape(&o.name),
                    escape(&session.subject),
                    escape(&session.expires)
                ),
            )
        }
        Ok(None) => {
            if json_wanted {
                return json_reply(
                    StatusCode::UNAUTHORIZED,
                    &json!({"detail": "not signed in"}),
                );
            }
            page(
                StatusCode::UNAUTHORIZED,
                "Not signed in",
                "<p>Sign in through your organization's identity provider at <code>/accounts/saml/ORG/login</code>.</p>",
            )
        }
        Err(e) => directory_error_page(e),
    }
}

async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    if let Some(secret) = session_secret(&headers)
        && let Err(e) = s.directory.end_session(secret).await
    {
        return directory_error_page(e);
    }
    let resp = page(
        StatusCode::OK,
        "Signed out",
        "<p>Your session has ended.</p>",
    );
    with_cookie(
        resp,
        &format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    )
}

/// A GET only shows a button: link previews and scanners must not use up
/// a one-time link.
async fn login_link_page(Path(secret): Path<String>) -> Response {
    page(
        StatusCode::OK,
        "Sign in as administrator",
        &format!(
            "<p>This one-time link signs you in as the organization's bootstrap administrator.</p>\
             <form method=\"post\" action=\"/accounts/login-link/{}\"><button>Sign in</button></form>",
            escape(&secret)
        ),
    )
}

/// The button's post. Only from Roster's own page: a post from another
/// site would put the victim's browser in the session of whoever holds
/// the link (login CSRF).
async fn redeem_login_link(
    State(s): State<AppState>,
    Path(secret): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    match s
        .directory
        .redeem_login_link(&secret, s.session_lifetime)
        .await
    {
        Ok((o, NewSession { secret, session })) => {
            tracing::info!(org = %o.name, session = %session.id, "bootstrap administrator signed in with a login link");
            let cookie = session_cookie(&s, &secret, s.session_lifetime.as_secs());
            with_cookie(redirect(&format!("/console/{}", o.name)), &cookie)
        }
        Err(e) => directory_error_page(e),
    }
}
