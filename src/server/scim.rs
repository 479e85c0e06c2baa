//! The SCIM endpoints (RFC 7644 §3) under `/scim/{org}`.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get};
use serde_json::Value;

use super::callers::{bearer, scim_token};
use super::error::{SCIM_CONTENT_TYPE, ScimErrorResponse};
use super::{AppState, RequestNote, scim_render, with_caller};
use crate::directory::Directory;
use crate::directory::DirectoryError;
use crate::directory::model::ResourceView;
use crate::directory::model::{ExpectedVersion, Principal};
use crate::scim::discovery::{MAX_BODY_BYTES, service_provider_config};
use crate::scim::list::{RawParams, list_response};
use crate::scim::resource::{Projection, etag};
use crate::scim::schema::{ALL_SCHEMAS, LIST_RESPONSE_SCHEMA, ResourceType};
use crate::scim::{ScimError, patch};

type Result<T> = std::result::Result<T, ScimErrorResponse>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(list_root))
        .route("/.search", only_post(axum::routing::post(search_root)))
        .route("/ServiceProviderConfig", read_only(get(sp_config)))
        .route("/ServiceProviderConfig/", read_only(get(sp_config)))
        .route("/ResourceTypes", read_only(get(resource_types)))
        .route("/ResourceTypes/", read_only(get(resource_types)))
        .route("/ResourceTypes/{id}", read_only(get(resource_type)))
        .route("/Schemas", read_only(get(schemas)))
        .route("/Schemas/", read_only(get(schemas)))
        .route("/Schemas/{id}", read_only(get(schema_by_id)))
        .merge(collection::<Users>("/Users"))
        .merge(collection::<Groups>("/Groups"))
        .route("/Bulk", any(not_implemented))
        .route("/Me", any(not_implemented))
        .fallback(unknown_endpoint)
}

/// A collection's routes: the list (also with a trailing slash, as some
/// clients send it), `.search`, and each resource.
fn collection<C: Collection>(path: &str) -> Router<AppState> {
    let list = get(list_in::<C>)
        .post(create_of::<C>)
        .fallback(method_not_allowed);
    Router::new()
        .route(path, list.clone())
        .route(&format!("{path}/"), list)
        .route(
            &format!("{path}/.search"),
            only_post(axum::routing::post(search_of::<C>)),
        )
        .route(
            &format!("{path}/{{id}}"),
            get(get_of::<C>)
                .put(replace_of::<C>)
                .patch(patch_of::<C>)
                .delete(delete_of::<C>)
                .fallback(method_not_allowed),
        )
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

/// Notes who made the request, and the body it sent (read only once the
/// caller was authenticated), for the provisioning log.
fn with_caller_and_body(mut resp: Response, p: &Principal, body: Option<Bytes>) -> Response {
    resp.extensions_mut().insert(RequestNote::of(p, body));
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
            from_idp: false,
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
    let Some(token) = bearer(headers) else {
        let resp = ScimErrorResponse(ScimError::new(
            401,
            None,
            "missing bearer token: send `Authorization: Bearer TOKEN` with a token from `roster token create`",
        ))
        .into_response();
        return Err(refused(state, org, resp).await);
    };
    match scim_token(state, org, &token).await {
        Ok(p) => Ok(p),
        // A token of the org, refused by the toggle: noted as its own.
        Err(e @ DirectoryError::Forbidden(_)) => {
            match state.directory.authenticate(org, &token).await {
                Ok(p) => Err(with_caller(ScimErrorResponse::from(e).into_response(), &p)),
                Err(_) => {
                    Err(refused(state, org, ScimErrorResponse::from(e).into_response()).await)
                }
            }
        }
        Err(e) => Err(refused(state, org, ScimErrorResponse::from(e).into_response()).await),
    }
}

/// The authenticated caller of a SCIM endpoint, as an extractor: the
/// org's token, checked against the `{org}` of the path, with the org's
/// SCIM API on. A refusal is the SCIM error response, already noted for
/// the request log.
pub struct ScimCaller(pub Principal);

impl axum::extract::FromRequestParts<AppState> for ScimCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Self::Rejection> {
        // A path segment that is not UTF-8 names nothing: 404, as ScimPath.
        let org = super::callers::path_org(parts, state)
            .await
            .ok_or_else(|| {
                ScimErrorResponse(ScimError::not_found(
                    "no such resource: the path is not UTF-8",
                ))
                .into_response()
            })?;
        let origin = super::request_origin(parts, state);
        let mut p = principal(state, &org, &parts.headers).await?;
        p.origin = origin;
        Ok(ScimCaller(p))
    }
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

pub(super) fn query_pairs(q: &Option<String>) -> Vec<(String, String)> {
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
    let mut body = scim_render::resource(v, &base);
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
    with_caller(resp, p)
}

/// `If-Match` / `If-None-Match` (RFC 7232 §3.1, §3.2; RFC 7644 §3.14) as
/// the versions they name. Roster's tags are weak (`W/"3"`) and compared
/// weakly; a tag that is no version of Roster's matches nothing.
fn expected_version(header: &str) -> ExpectedVersion {
    let tags: Vec<&str> = header.split(',').map(str::trim).collect();
    if tags.contains(&"*") {
        return ExpectedVersion::Any;
    }
    ExpectedVersion::OneOf(
        tags.iter()
            .filter_map(|t| t.trim_start_matches("W/").trim_matches('"').parse().ok())
            .collect(),
    )
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

// ---- discovery (RFC 7644 §4) ----

/// Serves a discovery document built from the org's base URL.
fn discovery(
    s: &AppState,
    p: &Principal,
    doc: impl FnOnce(&str) -> std::result::Result<Value, ScimError>,
) -> Response {
    let resp = match doc(&base_url(s, p)) {
        Ok(v) => scim_json(StatusCode::OK, &v),
        Err(e) => ScimErrorResponse(e).into_response(),
    };
    with_caller(resp, p)
}

const RESOURCE_TYPES: [ResourceType; 2] = [ResourceType::User, ResourceType::Group];

async fn sp_config(State(s): State<AppState>, ScimCaller(p): ScimCaller) -> Response {
    discovery(&s, &p, |base| Ok(service_provider_config(base)))
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

async fn resource_types(State(s): State<AppState>, ScimCaller(p): ScimCaller) -> Response {
    discovery(&s, &p, |base| {
        Ok(list_of(
            RESOURCE_TYPES.iter().map(|r| r.to_json(base)).collect(),
        ))
    })
}

async fn resource_type(
    State(s): State<AppState>,
    ScimCaller(p): ScimCaller,
    ScimPath((_, id)): ScimPath<(String, String)>,
) -> Response {
    discovery(&s, &p, |base| {
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
}

async fn schemas(State(s): State<AppState>, ScimCaller(p): ScimCaller) -> Response {
    discovery(&s, &p, |base| {
        Ok(list_of(
            ALL_SCHEMAS.iter().map(|sc| sc.to_json(base)).collect(),
        ))
    })
}

async fn schema_by_id(
    State(s): State<AppState>,
    ScimCaller(p): ScimCaller,
    ScimPath((_, id)): ScimPath<(String, String)>,
) -> Response {
    discovery(&s, &p, |base| {
        ALL_SCHEMAS
            .iter()
            .find(|sc| sc.id.eq_ignore_ascii_case(&id))
            .map(|sc| sc.to_json(base))
            .ok_or_else(|| {
                ScimError::not_found(format!("no schema \"{id}\"; GET /Schemas lists them"))
            })
    })
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
    p: Principal,
    headers: HeaderMap,
    rtypes: Vec<ResourceType>,
    input: ListInput,
) -> Response {
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
        let params = raw.parse(s.directory.clock().now().timestamp())?;
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
                let mut body = scim_render::resource(v, &base);
                proj.apply(v.stored.rtype, &mut body);
                body
            })
            .collect();
        Ok(scim_json(
            StatusCode::OK,
            &list_response(
                page.total,
                page.start_index,
                items,
                page.next_cursor.map(|c| c.encode()),
            ),
        ))
    }
    .await;
    with_caller_and_body(
        result.unwrap_or_else(IntoResponse::into_response),
        &p,
        logged_body,
    )
}

async fn list_root(
    State(s): State<AppState>,
    ScimCaller(p): ScimCaller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    list(
        s,
        p,
        headers,
        vec![ResourceType::User, ResourceType::Group],
        ListInput::Query(q),
    )
    .await
}

async fn search_root(
    State(s): State<AppState>,
    ScimCaller(p): ScimCaller,
    headers: HeaderMap,
    body: Body,
) -> Response {
    list(
        s,
        p,
        headers,
        vec![ResourceType::User, ResourceType::Group],
        ListInput::Search(body),
    )
    .await
}

/// A resource collection: which type its handlers serve. The router picks
/// the collection and the verb; each handler below does just that verb.
trait Collection: Send + Sync + 'static {
    const RTYPE: ResourceType;
}

struct Users;
impl Collection for Users {
    const RTYPE: ResourceType = ResourceType::User;
}

struct Groups;
impl Collection for Groups {
    const RTYPE: ResourceType = ResourceType::Group;
}

async fn list_in<C: Collection>(
    State(s): State<AppState>,
    ScimCaller(p): ScimCaller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    list(s, p, headers, vec![C::RTYPE], ListInput::Query(q)).await
}

async fn search_of<C: Collection>(
    State(s): State<AppState>,
    ScimCaller(p): ScimCaller,
    headers: HeaderMap,
    body: Body,
) -> Response {
    list(s, p, headers, vec![C::RTYPE], ListInput::Search(body)).await
}

async fn get_of<C: Collection>(
    State(s): State<AppState>,
    ScimCaller(p): ScimCaller,
    ScimPath((_, id)): ScimPath<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let rtype = C::RTYPE;
    let result: Result<Response> = async {
        let proj = projection_for(rtype, &q)?;
        let v = s
            .directory
            .get_resource(&p, rtype, &id, proj.wants(None, "members"))
            .await?;
        // RFC 7644 §3.14: If-None-Match naming the current version: 304.
        if let Some(inm) = header_text(&headers, header::IF_NONE_MATCH)
            && expected_version(&inm).accepts(v.stored.version)
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
    with_caller(result.unwrap_or_else(IntoResponse::into_response), &p)
}

/// The projection a request's `attributes`/`excludedAttributes` ask for.
fn projection_for(rtype: ResourceType, query: &Option<String>) -> Result<Projection> {
    let pairs = query_pairs(query);
    let raw = RawParams::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    projection_from(
        &[rtype],
        raw.attributes.as_deref(),
        raw.excluded_attributes.as_deref(),
    )
}

/// What every write shares once its caller is authenticated: `If-Match`,
/// and the body, read (and kept for the provisioning log) only now.
struct Write {
    p: Principal,
    rtype: ResourceType,
    /// The resource written, for PUT, PATCH and DELETE.
    target: Option<String>,
    if_match: Option<ExpectedVersion>,
    body_bytes: Option<Bytes>,
}

impl Write {
    /// A write by `p`; also returns the projection the query asks for
    /// (its error is answered as the caller's).
    fn begin(
        p: Principal,
        headers: &HeaderMap,
        rtype: ResourceType,
        target: Option<String>,
        query: &Option<String>,
    ) -> (Write, Result<Projection>) {
        let proj = projection_for(rtype, query);
        let write = Write {
            p,
            rtype,
            target,
            if_match: header_text(headers, header::IF_MATCH).map(|h| expected_version(&h)),
            body_bytes: None,
        };
        (write, proj)
    }

    /// Reads the JSON body.
    async fn json(&mut self, headers: &HeaderMap, body: Body) -> Result<Value> {
        let bytes = read_body(headers, body).await?;
        self.body_bytes = Some(bytes.clone());
        parse_json(&bytes)
    }

    /// The response: a write to an id that does not exist is 404 whatever
    /// its body, so a refused body is checked against the resource first.
    async fn finish(self, s: &AppState, result: Result<Response>) -> Response {
        let result = match (result, &self.target) {
            (Err(e), Some(id)) if e.0.status == 400 => {
                match s
                    .directory
                    .get_resource(&self.p, self.rtype, id, false)
                    .await
                {
                    Err(missing @ crate::directory::DirectoryError::NotFound(_)) => {
                        Err(ScimErrorResponse::from(missing))
                    }
                    _ => Err(e),
                }
            }
            (r, _) => r,
        };
        with_caller_and_body(
            result.unwrap_or_else(IntoResponse::into_response),
            &self.p,
            self.body_bytes,
        )
    }
}

/// What a client sent with a write: the state, the caller, the query, the
/// headers and the body.
type Sent = (AppState, Principal, Option<String>, HeaderMap, Body);

/// A write that takes a JSON body and answers with the resource: `act`
/// does the verb's own part, given the directory, the caller, the body and
/// `If-Match`.
async fn write_resource<F, Fut>(
    (s, p, q, headers, body): Sent,
    rtype: ResourceType,
    target: Option<String>,
    status: StatusCode,
    act: F,
) -> Response
where
    F: FnOnce(Directory, Principal, Value, Option<ExpectedVersion>) -> Fut,
    Fut: std::future::Future<Output = Result<ResourceView>>,
{
    let (mut w, proj) = Write::begin(p, &headers, rtype, target, &q);
    let result = async {
        let proj = proj?;
        let doc = w.json(&headers, body).await?;
        let v = act(s.directory.clone(), w.p.clone(), doc, w.if_match.clone()).await?;
        Ok(one_resource(&s, &w.p, &v, &proj, status))
    }
    .await;
    w.finish(&s, result).await
}

async fn create_of<C: Collection>(
    State(s): State<AppState>,
    ScimCaller(p): ScimCaller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let act = |dir: Directory, p: Principal, doc: Value, _| async move {
        Ok(dir.create_resource(&p, C::RTYPE, doc).await?)
    };
    let sent = (s, p, q, headers, body);
    write_resource(sent, C::RTYPE, None, StatusCode::CREATED, act).await
}

async fn replace_of<C: Collection>(
    State(s): State<AppState>,
    ScimCaller(caller): ScimCaller,
    ScimPath((_, id)): ScimPath<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = Some(id.clone());
    let act = |dir: Directory, p: Principal, doc: Value, if_match| async move {
        Ok(dir
            .replace_resource(&p, C::RTYPE, &id, doc, if_match)
            .await?)
    };
    let sent = (s, caller, q, headers, body);
    write_resource(sent, C::RTYPE, target, StatusCode::OK, act).await
}

async fn patch_of<C: Collection>(
    State(s): State<AppState>,
    ScimCaller(caller): ScimCaller,
    ScimPath((_, id)): ScimPath<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = Some(id.clone());
    let act = |dir: Directory, p: Principal, body: Value, if_match| async move {
        let ops = patch::parse_request(&body)?;
        Ok(dir.patch_resource(&p, C::RTYPE, &id, ops, if_match).await?)
    };
    let sent = (s, caller, q, headers, body);
    write_resource(sent, C::RTYPE, target, StatusCode::OK, act).await
}

async fn delete_of<C: Collection>(
    State(s): State<AppState>,
    ScimCaller(p): ScimCaller,
    ScimPath((_, id)): ScimPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (w, _) = Write::begin(p, &headers, C::RTYPE, Some(id.clone()), &None);
    let result = async {
        s.directory
            .delete_resource(&w.p, C::RTYPE, &id, w.if_match.clone())
            .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    w.finish(&s, result).await
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tags_name_versions() {
        assert_eq!(expected_version("*"), ExpectedVersion::Any);
        assert_eq!(expected_version("W/\"3\""), ExpectedVersion::OneOf(vec![3]));
        assert_eq!(
            expected_version("\"2\", W/\"5\" , W/\"x\""),
            ExpectedVersion::OneOf(vec![2, 5])
        );
        assert!(!expected_version("W/\"x\"").accepts(1));
    }
}
