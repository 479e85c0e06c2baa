//! Query parameters of list and search requests (RFC 7644 §3.4.2, §3.4.3)
//! and cursors (RFC 9865), and the ListResponse they produce.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult, ScimType};
use super::filter::{AttrPath, Filter, parse_attr_path, parse_filter};
use super::schema::{LIST_RESPONSE_SCHEMA, SEARCH_REQUEST_SCHEMA};

pub const DEFAULT_PAGE_SIZE: u64 = 100;
pub const MAX_PAGE_SIZE: u64 = 1000;
/// How long a cursor stays valid, in seconds (RFC 9865 `cursorTimeout`).
pub const CURSOR_TIMEOUT_SECS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// 1-based `startIndex` (RFC 7644 §3.4.2.4).
    Index(u64),
    /// RFC 9865: the first page of a cursor walk (`cursor=` empty).
    CursorStart,
    /// RFC 9865: the page after the position a `nextCursor` recorded.
    Cursor(Cursor),
}

/// What a cursor records: with the default order, the position after the
/// last resource returned, so concurrent inserts and deletes do not shift
/// pages; with an explicit sort, the offset of the next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    After { position: i64, issued: i64 },
    Offset { offset: u64, issued: i64 },
}

impl Cursor {
    pub fn encode(&self) -> String {
        let text = match self {
            Cursor::After { position, issued } => format!("a.{position}.{issued}"),
            Cursor::Offset { offset, issued } => format!("o.{offset}.{issued}"),
        };
        URL_SAFE_NO_PAD.encode(text)
    }

    pub fn decode(s: &str, now: i64, timeout: i64) -> ScimResult<Self> {
        let bad = || {
            ScimError::bad_request(
                ScimType::InvalidCursor,
                format!(
                    "the cursor \"{s}\" was not issued by this server; start again with cursor= (empty)"
                ),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.split('.');
        let (Some(kind), Some(n), Some(issued), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let issued: i64 = issued.parse().map_err(|_| bad())?;
        if now - issued > timeout {
            return Err(ScimError::bad_request(
                ScimType::ExpiredCursor,
                format!(
                    "the cursor expired after {timeout} seconds; start again with cursor= (empty)"
                ),
            ));
        }
        match kind {
            "a" => Ok(Cursor::After {
                position: n.parse().map_err(|_| bad())?,
                issued,
            }),
            "o" => Ok(Cursor::Offset {
                offset: n.parse().map_err(|_| bad())?,
                issued,
            }),
            _ => Err(bad()),
        }
    }
}

/// The parsed parameters of a list or search request.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    pub page: Page,
    pub count: u64,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    /// `groups=NAME[,NAME...]` (CoreWeave's nsscache fork): only members
    /// of these groups, by display or POSIX name. Not RFC 7644.
    pub groups: Vec<String>,
}

/// The raw parameters, from a query string or a `.search` body.
#[derive(Debug, Default, Clone)]
pub struct RawParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub cursor: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub groups: Option<String>,
}

impl RawParams {
    /// From query pairs; names are matched case-insensitively.
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut p = RawParams::default();
        for (k, v) in pairs {
            let slot = match k.to_ascii_lowercase().as_str() {
                "filter" => &mut p.filter,
                "sortby" => &mut p.sort_by,
                "sortorder" => &mut p.sort_order,
                "startindex" => &mut p.start_index,
                "count" => &mut p.count,
                "cursor" => &mut p.cursor,
                "attributes" => &mut p.attributes,
                "excludedattributes" => &mut p.excluded_attributes,
                "groups" => &mut p.groups,
                _ => continue,
            };
            *slot = Some(v.to_string());
        }
        p
    }

    /// From a SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value) -> ScimResult<Self> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the search body must be a JSON object"))?;
        let field = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        if let Some(s) = field("schemas") {
            let ok = s
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(SEARCH_REQUEST_SCHEMA)));
            if !ok {
                return Err(ScimError::invalid_syntax(format!(
                    "a search body must have \"schemas\": [\"{SEARCH_REQUEST_SCHEMA}\"]"
                )));
            }
        }
        let text = |name: &str| -> ScimResult<Option<String>> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Array(a)) => {
                    let mut parts = Vec::new();
                    for x in a {
                        match x.as_str() {
                            Some(s) => parts.push(s.to_string()),
                            None => {
                                return Err(ScimError::invalid_syntax(format!(
                                    "\"{name}\" must list strings"
                                )));
                            }
                        }
                    }
                    Ok(Some(parts.join(",")))
                }
                Some(_) => Err(ScimError::invalid_syntax(format!(
                    "\"{name}\" has the wrong type"
                ))),
            }
        };
        Ok(RawParams {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            start_index: text("startIndex")?,
            count: text("count")?,
            cursor: text("cursor")?,
            attributes: text("attributes")?,
            excluded_attributes: text("excludedAttributes")?,
            groups: text("groups")?,
        })
    }

    pub fn parse(&self, now: i64) -> ScimResult<ListParams> {
        let filter = match self.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(f) => Some(parse_filter(f)?),
        };
        let sort_by = match self.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                parse_attr_path(s)
                    .map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.detail)))?,
            ),
        };
        let sort_order = match self
            .sort_order
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("ascending") => SortOrder::Ascending,
            Some("descending") => SortOrder::Descending,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder \"{other}\" is neither \"ascending\" nor \"descending\""
                )));
            }
        };
        // RFC 7644 §3.4.2.4: a negative count is treated as 0, and a
        // startIndex below 1 as 1.
        let count = match self.count.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_PAGE_SIZE,
            Some(c) => match c.parse::<i64>() {
                Ok(n) => (n.max(0) as u64).min(MAX_PAGE_SIZE),
                Err(_) => {
                    return Err(ScimError::invalid_value(format!(
                        "count \"{c}\" is not an integer"
                    )));
                }
            },
        };
        let start_index = match self.start_index.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => match s.parse::<i64>() {
                Ok(n) => Some(n.max(1) as u64),
                Err(_) => {
                    return Err(ScimError::invalid_value(format!(
                        "startIndex \"{s}\" is not an integer"
                    )));
                }
            },
        };
        let page = match (&self.cursor, start_index) {
            (Some(_), Some(_)) => {
                return Err(ScimError::invalid_value(
                    "use either cursor or startIndex, not both (RFC 9865 §2)",
                ));
            }
            (Some(c), None) if c.trim().is_empty() => Page::CursorStart,
            (Some(c), None) => Page::Cursor(Cursor::decode(c.trim(), now, CURSOR_TIMEOUT_SECS)?),
            (None, s) => Page::Index(s.unwrap_or(1)),
        };
        Ok(ListParams {
            filter,
            sort_by,
            sort_order,
            page,
            count,
            attributes: self.attributes.clone(),
            excluded_attributes: self.excluded_attributes.clone(),
            groups: parse_groups(self.groups.as_deref())?,
        })
    }
}

/// Most names `groups=` takes: more than a cluster provisions, few enough
/// that the query stays small.
pub const MAX_GROUPS_PARAM: usize = 1000;

/// `groups=a,b,c`: the names, once each, at most [`MAX_GROUPS_PARAM`].
fn parse_groups(list: Option<&str>) -> ScimResult<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for n in list.unwrap_or("").split(',').map(str::trim) {
        if !n.is_empty() && !names.iter().any(|x| x == n) {
            if names.len() == MAX_GROUPS_PARAM {
                return Err(ScimError::invalid_value(format!(
                    "groups names more than {MAX_GROUPS_PARAM} groups; ask for fewer at a time"
                )));
            }
            names.push(n.to_string());
        }
    }
    Ok(names)
}

/// A ListResponse (RFC 7644 §3.4.2).
pub fn list_response(
    total: u64,
    start_index: Option<u64>,
    resources: Vec<Value>,
    next_cursor: Option<String>,
) -> Value {
    let mut m = Map::new();
    m.insert(
        "schemas".into(),
        Value::Array(vec![Value::String(LIST_RESPONSE_SCHEMA.into())]),
    );
    m.insert("totalResults".into(), Value::from(total));
    m.insert("itemsPerPage".into(), Value::from(resources.len()));
    if let Some(s) = start_index {
        m.insert("startIndex".into(), Value::from(s));
    }
    if let Some(c) = next_cursor {
        m.insert("nextCursor".into(), Value::String(c));
    }
    m.insert("Resources".into(), Value::Array(resources));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_expiry() {
        let c = Cursor::After {
            position: 42,
            issued: 1000,
        };
        assert_eq!(Cursor::decode(&c.encode(), 1010, 3600).ok(), Some(c));
        let e = Cursor::decode(&c.encode(), 1000 + 3601, 3600).err();
        assert_eq!(e.and_then(|e| e.scim_type), Some(ScimType::ExpiredCursor));
        let e = Cursor::decode("!!", 0, 3600).err();
        assert_eq!(e.and_then(|e| e.scim_type), Some(ScimType::InvalidCursor));
    }

    #[test]
    fn count_and_start_index_are_clamped() {
        let raw = RawParams {
            count: Some("-5".into()),
            start_index: Some("0".into()),
            ..Default::default()
        };
        let p = raw.parse(0).ok();
        assert_eq!(p.as_ref().map(|p| p.count), Some(0));
        assert_eq!(p.map(|p| p.page), Some(Page::Index(1)));
        let raw = RawParams {
            count: Some("abc".into()),
            ..Default::default()
        };
        assert!(raw.parse(0).is_err());
    }
}
