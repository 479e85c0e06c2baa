//! The SCIM endpoints (RFC 7644 §3) under `/scim/{org}`.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get};
use serde_json::Value;

use super::error::{SCIM_CONTENT_TYPE, ScimErrorResponse};
use super::{AppState, RequestNote};
use crate::directory::model::Principal;
use crate::directory::resources::ResourceView;
use crate::scim::discovery::{MAX_BODY_BYTES, service_provider_config};
use crate::scim::list::{RawParams, list_response};
use crate::scim::resource::{Projection, etag};
use crate::scim::schema::{ALL_SCHEMAS, LIST_RESPONSE_SCHEMA, ResourceType};
use crate::scim::{ScimError, patch};

type Result<T> = std::result::Result<T, ScimErrorResponse>;

pub fn routes() -> Router<AppState> {
    // Clients that end a collection's URL with a slash reach the same
    // endpoint.
    let users = get(list_users)
        .post(create_user)
        .fallback(method_not_allowed);
    let groups = get(list_groups)
        .post(create_group)
        .fallback(method_not_allowed);
    Router::new()
        .route("/", get(list_root))
        .route("/.search", only_post(axum::routing::post(search_root)))
        .route("/ServiceProviderConfig", read_only(get(sp_config)))
        .route("/ResourceTypes", read_only(get(resource_types)))
        .route("/ResourceTypes/{id}", read_only(get(resource_type)))
        .route("/Schemas", read_only(get(schemas)))
        .route("/Schemas/", read_only(get(schemas)))
        .route("/ResourceTypes/", read_only(get(resource_types)))
        .route("/ServiceProviderConfig/", read_only(get(sp_config)))
        .route("/Schemas/{id}", read_only(get(schema_by_id)))
        .route("/Users", users.clone())
        .route("/Users/", users)
        .route(
            "/Users/.search",
            only_post(axum::routing::post(search_users)),
        )
        .route(
            "/Users/{id}",
            get(get_user)
                .put(put_user)
                .patch(patch_user)
                .delete(delete_user)
                .fallback(method_not_allowed),
        )
        .route("/Groups", groups.clone())
        .route("/Groups/", groups)
        .route(
            "/Groups/.search",
            only_post(axum::routing::post(search_groups)),
        )
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(put_group)
                .patch(patch_group)
                .delete(delete_group)
                .fallback(method_not_allowed),
        )
        .route("/Bulk", any(not_implemented))
        .route("/Me", any(not_implemented))
        .fallback(unknown_endpoint)
}

fn read_only(r: MethodRouter<AppState>) -> MethodRouter<AppState> {
    r.fallback(method_not_allowed)
}
fn only_post(r: MethodRouter<AppState>) -> MethodRouter<AppState> {
    r.fallback(method_not_allowed)
}

async fn method_not_allowed(method: Method) -> ScimErrorResponse {
    ScimErrorResponse(ScimError::new(
        405,
        None,
        format!("{method} is not allowed on this endpoint"),
    ))
}

async fn not_implemented() -> ScimErrorResponse {
    ScimErrorResponse(ScimError::new(
        501,
        None,
        "not implemented: /ServiceProviderConfig lists what this server supports",
    ))
}

async fn unknown_endpoint(req: Request) -> ScimErrorResponse {
    ScimErrorResponse(ScimError::not_found(format!(
        "no SCIM endpoint at {}; the endpoints are /Users, /Groups, /Schemas, /ResourceTypes and /ServiceProviderConfig",
        req.uri().path()
    )))
}

/// A SCIM JSON response.
fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    resp
}

fn noted(resp: Response, p: &Principal) -> Response {
    noted_with_body(resp, p, None)
}

/// Notes who made the request, and the body it sent (read only once the
/// caller was authenticated), for the provisioning log.
fn noted_with_body(mut resp: Response, p: &Principal, body: Option<Bytes>) -> Response {
    resp.extensions_mut().insert(RequestNote {
        org_id: p.org.id.clone(),
        org: p.org.name.clone(),
        token: Some(p.token_name.clone()),
        body,
    });
    resp
}

/// A refused credential: the response still names the org, when it
/// exists, so the provisioning log shows the IdP's failed attempts.
async fn refused(state: &AppState, org: &str, resp: Response) -> Response {
    let mut resp = resp;
    if let Ok(o) = state.directory.org(org).await {
        resp.extensions_mut().insert(RequestNote {
            org_id: o.id,
            org: o.name,
            token: None,
            body: None,
        });
    }
    resp
}

/// Authenticates the bearer token and checks the org's SCIM API toggle.
pub(super) async fn principal(
    state: &AppState,
    org: &str,
    headers: &HeaderMap,
) -> std::result::Result<Principal, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_string())
        });
    let Some(token) = token else {
        let resp = ScimErrorResponse(ScimError::new(
            401,
            None,
            "missing bearer token: send `Authorization: Bearer TOKEN` with a token from `roster token create`",
        ))
        .into_response();
        return Err(refused(state, org, resp).await);
    };
    let p = match state.directory.authenticate(org, &token).await {
        Ok(p) => p,
        Err(e) => {
            return Err(refused(state, org, ScimErrorResponse::from(e).into_response()).await);
        }
    };
    if !p.org.settings.scim_api {
        let msg = format!(
            "the SCIM API is off for \"{}\"; turn it on with `roster org set {} --scim-api on`",
            p.org.name, p.org.name
        );
        return Err(noted(
            ScimErrorResponse(ScimError::new(403, None, msg)).into_response(),
            &p,
        ));
    }
    Ok(p)
}

fn base_url(state: &AppState, p: &Principal) -> String {
    format!("{}/scim/{}", state.public_url, p.org.id)
}

/// Reads a request body: RFC 7644 §3.1 media types, or none (Okta's test
/// suite sends none), at most [`MAX_BODY_BYTES`]. Called only once the
/// caller is authenticated, so an anonymous client cannot make the server
/// buffer a megabyte.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or("").trim();
        if !matches!(media, "application/scim+json" | "application/json" | "") {
            return Err(ScimError::new(
                415,
                None,
                format!("content type \"{media}\" is not accepted; send application/scim+json or application/json"),
            )
            .into());
        }
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ScimError::new(
            413,
            None,
            format!("the request body is larger than {MAX_BODY_BYTES} bytes; split the change into smaller requests"),
        )
    })?;
    Ok(bytes)
}

fn parse_json(bytes: &Bytes) -> Result<Value> {
    if bytes.is_empty() {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; a JSON object is required",
        )
        .into());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")).into()
    })
}

fn query_pairs(q: &Option<String>) -> Vec<(String, String)> {
    q.as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn projection_from(
    rtypes: &[ResourceType],
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Result<Projection> {
    Ok(Projection::parse(rtypes, attributes, excluded)?)
}

fn one_resource(
    state: &AppState,
    p: &Principal,
    v: &ResourceView,
    proj: &Projection,
    status: StatusCode,
) -> Response {
    let base = base_url(state, p);
    let mut body = v.render(&base);
    proj.apply(v.stored.rtype, &mut body);
    let mut resp = scim_json(status, &body);
    if let Ok(tag) = HeaderValue::from_str(&etag(v.stored.version)) {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    if status == StatusCode::CREATED
        && let Ok(loc) = HeaderValue::from_str(&format!(
            "{base}/{}/{}",
            v.stored.rtype.endpoint(),
            v.stored.id
        ))
    {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    noted(resp, p)
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

// ---- discovery (RFC 7644 §4) ----

/// Serves a discovery document built from the org's base URL.
async fn discovery(
    s: &AppState,
    org: &str,
    headers: &HeaderMap,
    doc: impl FnOnce(&str) -> std::result::Result<Value, ScimError>,
) -> Response {
    let p = match principal(s, org, headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let resp = match doc(&base_url(s, &p)) {
        Ok(v) => scim_json(StatusCode::OK, &v),
        Err(e) => ScimErrorResponse(e).into_response(),
    };
    noted(resp, &p)
}

const RESOURCE_TYPES: [ResourceType; 2] = [ResourceType::User, ResourceType::Group];

async fn sp_config(
    State(s): State<AppState>,
    ScimPath(org): ScimPath<String>,
    headers: HeaderMap,
) -> Response {
    discovery(&s, &org, &headers, |base| Ok(service_provider_config(base))).await
}

fn list_of(items: Vec<Value>) -> Value {
    serde_json::json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": items.len(),
        "itemsPerPage": items.len(),
        "startIndex": 1,
        "Resources": items,
    })
}

async fn resource_types(
    State(s): State<AppState>,
    ScimPath(org): ScimPath<String>,
    headers: HeaderMap,
) -> Response {
    discovery(&s, &org, &headers, |base| {
        Ok(list_of(
            RESOURCE_TYPES.iter().map(|r| r.to_json(base)).collect(),
        ))
    })
    .await
}

async fn resource_type(
    State(s): State<AppState>,
    ScimPath((org, id)): ScimPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    discovery(&s, &org, &headers, |base| {
        RESOURCE_TYPES
            .iter()
            .find(|r| r.name().eq_ignore_ascii_case(&id))
            .map(|r| r.to_json(base))
            .ok_or_else(|| {
                ScimError::not_found(format!(
                    "no resource type \"{id}\"; there are User and Group"
                ))
            })
    })
    .await
}

async fn schemas(
    State(s): State<AppState>,
    ScimPath(org): ScimPath<String>,
    headers: HeaderMap,
) -> Response {
    discovery(&s, &org, &headers, |base| {
        Ok(list_of(
            ALL_SCHEMAS.iter().map(|sc| sc.to_json(base)).collect(),
        ))
    })
    .await
}

async fn schema_by_id(
    State(s): State<AppState>,
    ScimPath((org, id)): ScimPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    discovery(&s, &org, &headers, |base| {
        ALL_SCHEMAS
            .iter()
            .find(|sc| sc.id.eq_ignore_ascii_case(&id))
            .map(|sc| sc.to_json(base))
            .ok_or_else(|| {
                ScimError::not_found(format!("no schema \"{id}\"; GET /Schemas lists them"))
            })
    })
    .await
}

// ---- resources (RFC 7644 §3.3 - §3.6) ----

/// Where a list request's parameters come from: the query string (GET),
/// or a SearchRequest body (POST .search, RFC 7644 §3.4.3).
enum ListInput {
    Query(Option<String>),
    Search(Body),
}

async fn list(
    s: AppState,
    org: String,
    headers: HeaderMap,
    rtypes: Vec<ResourceType>,
    input: ListInput,
) -> Response {
    let p = match principal(&s, &org, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut logged_body = None;
    let result: Result<Response> = async {
        let raw = match input {
            ListInput::Query(q) => {
                let pairs = query_pairs(&q);
                RawParams::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            }
            ListInput::Search(body) => {
                let bytes = read_body(&headers, body).await?;
                logged_body = Some(bytes.clone());
                RawParams::from_search_body(&parse_json(&bytes)?)?
            }
        };
        let params = raw.parse(chrono::Utc::now().timestamp())?;
        let proj = projection_from(
            &rtypes,
            params.attributes.as_deref(),
            params.excluded_attributes.as_deref(),
        )?;
        let with_members = proj.wants(None, "members");
        let page = s
            .directory
            .list_resources(&p, rtypes, params, with_members)
            .await?;
        let base = base_url(&s, &p);
        let items = page
            .items
            .iter()
            .map(|v| {
                let mut body = v.render(&base);
                proj.apply(v.stored.rtype, &mut body);
                body
            })
            .collect();
        Ok(scim_json(
            StatusCode::OK,
            &list_response(page.total, page.start_index, items, page.next_cursor),
        ))
    }
    .await;
    noted_with_body(
        result.unwrap_or_else(IntoResponse::into_response),
        &p,
        logged_body,
    )
}

async fn list_root(
    State(s): State<AppState>,
    ScimPath(org): ScimPath<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    list(
        s,
        org,
        headers,
        vec![ResourceType::User, ResourceType::Group],
        ListInput::Query(q),
    )
    .await
}

async fn search_root(
    State(s): State<AppState>,
    ScimPath(org): ScimPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    list(
        s,
        org,
        headers,
        vec![ResourceType::User, ResourceType::Group],
        ListInput::Search(body),
    )
    .await
}

async fn do_list(
    s: AppState,
    org: String,
    q: Option<String>,
    headers: HeaderMap,
    rtype: ResourceType,
) -> Response {
    list(s, org, headers, vec![rtype], ListInput::Query(q)).await
}

async fn do_get(
    s: AppState,
    org: String,
    id: String,
    q: Option<String>,
    headers: HeaderMap,
    rtype: ResourceType,
) -> Response {
    let p = match principal(&s, &org, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let result: Result<Response> = async {
        let pairs = query_pairs(&q);
        let raw = RawParams::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let proj = projection_from(
            &[rtype],
            raw.attributes.as_deref(),
            raw.excluded_attributes.as_deref(),
        )?;
        let v = s
            .directory
            .get_resource(&p, rtype, &id, proj.wants(None, "members"))
            .await?;
        // RFC 7644 §3.14: If-None-Match naming the current version: 304.
        if let Some(inm) = header_text(&headers, header::IF_NONE_MATCH)
            && crate::directory::resources::if_match_accepts(&inm, v.stored.version)
        {
            let mut resp = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(tag) = HeaderValue::from_str(&etag(v.stored.version)) {
                resp.headers_mut().insert(header::ETAG, tag);
            }
            return Ok(resp);
        }
        Ok(one_resource(&s, &p, &v, &proj, StatusCode::OK))
    }
    .await;
    noted(result.unwrap_or_else(IntoResponse::into_response), &p)
}

/// A write request, as the handlers below pass it on.
struct WriteCall {
    rtype: ResourceType,
    method: Method,
    id: Option<String>,
    query: Option<String>,
    body: Option<Body>,
}

async fn do_write(s: AppState, org: String, headers: HeaderMap, call: WriteCall) -> Response {
    let p = match principal(&s, &org, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut logged_body = None;
    let WriteCall {
        rtype,
        method,
        id,
        query,
        body,
    } = call;
    let target = id.clone();
    let result: Result<Response> = async {
        let pairs = query_pairs(&query);
        let raw = RawParams::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let proj = projection_from(
            &[rtype],
            raw.attributes.as_deref(),
            raw.excluded_attributes.as_deref(),
        )?;
        let if_match = header_text(&headers, header::IF_MATCH);
        let body = match body {
            Some(b) => {
                let bytes = read_body(&headers, b).await?;
                logged_body = Some(bytes.clone());
                Some(parse_json(&bytes)?)
            }
            None => None,
        };
        let id = id.unwrap_or_default();
        let dir = &s.directory;
        match (method, body) {
            (Method::POST, Some(b)) => {
                let v = dir.create_resource(&p, rtype, b).await?;
                Ok(one_resource(&s, &p, &v, &proj, StatusCode::CREATED))
            }
            (Method::PUT, Some(b)) => {
                let v = dir.replace_resource(&p, rtype, &id, b, if_match).await?;
                Ok(one_resource(&s, &p, &v, &proj, StatusCode::OK))
            }
            (Method::PATCH, Some(b)) => {
                let ops = patch::parse_request(&b)?;
                let v = dir.patch_resource(&p, rtype, &id, ops, if_match).await?;
                Ok(one_resource(&s, &p, &v, &proj, StatusCode::OK))
            }
            (Method::DELETE, _) => {
                dir.delete_resource(&p, rtype, &id, if_match).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            (m, _) => Err(ScimError::new(405, None, format!("{m} is not allowed here")).into()),
        }
    }
    .await;
    // A PUT, PATCH or DELETE of an id that does not exist is 404, whatever
    // its body: the resource is looked up when the body was refused.
    let result = match (result, target) {
        (Err(e), Some(id)) if e.0.status == 400 => {
            match s.directory.get_resource(&p, rtype, &id, false).await {
                Err(missing @ crate::directory::DirectoryError::NotFound(_)) => {
                    Err(ScimErrorResponse::from(missing))
                }
                _ => Err(e),
            }
        }
        (r, _) => r,
    };
    noted_with_body(
        result.unwrap_or_else(IntoResponse::into_response),
        &p,
        logged_body,
    )
}

async fn do_search(
    s: AppState,
    org: String,
    headers: HeaderMap,
    body: Body,
    rtype: ResourceType,
) -> Response {
    list(s, org, headers, vec![rtype], ListInput::Search(body)).await
}

macro_rules! resource_handlers {
    ($rtype:expr, $list:ident, $search:ident, $create:ident, $get:ident, $put:ident, $patch:ident, $delete:ident) => {
        async fn $list(
            State(s): State<AppState>,
            ScimPath(org): ScimPath<String>,
            RawQuery(q): RawQuery,
            headers: HeaderMap,
        ) -> Response {
            do_list(s, org, q, headers, $rtype).await
        }
        async fn $search(
            State(s): State<AppState>,
            ScimPath(org): ScimPath<String>,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            do_search(s, org, headers, body, $rtype).await
        }
        async fn $create(
            State(s): State<AppState>,
            ScimPath(org): ScimPath<String>,
            RawQuery(q): RawQuery,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            do_write(
                s,
                org,
                headers,
                WriteCall {
                    rtype: $rtype,
                    method: Method::POST,
                    id: None,
                    query: q,
                    body: Some(body),
                },
            )
            .await
        }
        async fn $get(
            State(s): State<AppState>,
            ScimPath((org, id)): ScimPath<(String, String)>,
            RawQuery(q): RawQuery,
            headers: HeaderMap,
        ) -> Response {
            do_get(s, org, id, q, headers, $rtype).await
        }
        async fn $put(
            State(s): State<AppState>,
            ScimPath((org, id)): ScimPath<(String, String)>,
            RawQuery(q): RawQuery,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            do_write(
                s,
                org,
                headers,
                WriteCall {
                    rtype: $rtype,
                    method: Method::PUT,
                    id: Some(id),
                    query: q,
                    body: Some(body),
                },
            )
            .await
        }
        async fn $patch(
            State(s): State<AppState>,
            ScimPath((org, id)): ScimPath<(String, String)>,
            RawQuery(q): RawQuery,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            do_write(
                s,
                org,
                headers,
                WriteCall {
                    rtype: $rtype,
                    method: Method::PATCH,
                    id: Some(id),
                    query: q,
                    body: Some(body),
                },
            )
            .await
        }
        async fn $delete(
            State(s): State<AppState>,
            ScimPath((org, id)): ScimPath<(String, String)>,
            headers: HeaderMap,
        ) -> Response {
            do_write(
                s,
                org,
                headers,
                WriteCall {
                    rtype: $rtype,
                    method: Method::DELETE,
                    id: Some(id),
                    query: None,
                    body: None,
                },
            )
            .await
        }
    };
}

resource_handlers!(
    ResourceType::User,
    list_users,
    search_users,
    create_user,
    get_user,
    put_user,
    patch_user,
    delete_user
);
resource_handlers!(
    ResourceType::Group,
    list_groups,
    search_groups,
    create_group,
    get_group,
    put_group,
    patch_group,
    delete_group
);

/// Path parameters whose rejection (an id that is not UTF-8, say) is a
/// SCIM 404 rather than axum's plain-text 400: such an id names nothing.
pub struct ScimPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ScimPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ScimErrorResponse;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ScimPath(v)),
            Err(e) => Err(ScimErrorResponse(ScimError::not_found(format!(
                "no such resource: {e}"
            )))),
        }
    }
}

/// `GET /api/v1/orgs/{org}/scim-log`: the org's provisioning log, newest
/// first, for the holder of one of the org's SCIM tokens. Query:
/// `failed=true`, `since=DURATION` (such as `1h`), `limit=N` (default 100).
pub async fn scim_log_api(
    State(s): State<AppState>,
    ScimPath(org): ScimPath<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = match super::admin_api::admin(&s, &org, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut query = crate::directory::scim_log::ScimLogQuery {
        limit: 100,
        ..Default::default()
    };
    for (k, v) in query_pairs(&q) {
        match k.as_str() {
            "failed" => query.failed_only = v == "true" || v == "1",
            "limit" => match v.parse::<u64>() {
                Ok(n) => query.limit = n.min(10_000),
                Err(_) => {
                    return ScimErrorResponse(ScimError::invalid_value(format!(
                        "limit \"{v}\" is not a number"
                    )))
                    .into_response();
                }
            },
            "since" => match crate::directory::scim_log::parse_duration(&v) {
                Some(d) => {
                    let since = chrono::Utc::now()
                        - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
                    query.since = Some(crate::scim::resource::format_time(since));
                }
                None => {
                    return ScimErrorResponse(ScimError::invalid_value(format!(
                        "since \"{v}\" is not a duration such as 30m, 2h or 7d"
                    )))
                    .into_response();
                }
            },
            _ => {}
        }
    }
    match s.directory.scim_log(&p.org.id, query).await {
        Ok(entries) => {
            let list: Vec<Value> = entries.iter().map(scim_log_json).collect();
            super::json_reply(StatusCode::OK, serde_json::json!({"entries": list}))
        }
        Err(e) => ScimErrorResponse::from(e).into_response(),
    }
}

/// One provisioning-log entry as JSON (the API and `roster scim-log --json`).
pub fn scim_log_json(e: &crate::directory::scim_log::ScimLogEntry) -> Value {
    serde_json::json!({
        "at": e.at,
        "token": e.token_name,
        "method": e.method,
        "path": e.path,
        "status": e.status,
        "scimType": e.scim_type,
        "detail": e.detail,
        "latency_ms": (e.latency_ms * 1000.0).round() / 1000.0,
        "body": e.body,
    })
}
