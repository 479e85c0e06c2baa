//! Resource documents: checking what a client sends against the schemas
//! (RFC 7643 §2, RFC 7644 §3.3, §3.5.1) and projecting what is returned
//! (RFC 7644 §3.4.2.5, §3.9).
//!
//! A resource document here is a JSON object holding the core attributes at
//! the top level and each extension's attributes under its URN, always with
//! canonical attribute names. `id`, `meta` and `schemas` are not part of it:
//! they are added when the resource is rendered.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter::{AttrPath, parse_attr_path};
use super::schema::{self, Attribute, Kind, Mutability, ResourceType, Returned, Schema};

pub type Document = Map<String, Value>;

/// Formats a timestamp the one way Roster stores and prints them, so that
/// stored timestamps compare correctly as strings.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an RFC 3339 timestamp (RFC 7643 §2.3.5 `dateTime`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Checks a full resource as sent in POST or PUT and returns its document.
///
/// RFC 7644 §3.3: read-only attributes are ignored; `password` is accepted
/// and discarded, as Roster stores no passwords. Attributes that no schema
/// of the resource type defines are ignored, as identity providers send
/// more than any one service provider understands.
pub fn from_request(rtype: ResourceType, body: &Value) -> ScimResult<Document> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    check_schemas(rtype, obj)?;
    let doc = normalize(rtype, obj)?;
    check_required(rtype, &doc)?;
    Ok(doc)
}

/// RFC 7643 §3: `schemas` names the resource's core schema. Some clients
/// leave it out, as the endpoint says what the resource is: then the core
/// schema is taken as given. A `schemas` naming another resource type's
/// schema is refused.
fn check_schemas(rtype: ResourceType, obj: &Map<String, Value>) -> ScimResult<()> {
    let schemas = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v);
    let Some(schemas) = schemas else {
        return Ok(());
    };
    let list = schemas
        .as_array()
        .ok_or_else(|| ScimError::invalid_syntax("\"schemas\" must be an array of schema URNs"))?;
    let has_core = list.iter().any(|s| {
        s.as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(rtype.core().id))
    });
    if !has_core {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must include \"{}\" for a {}",
            rtype.core().id,
            rtype.name()
        )));
    }
    Ok(())
}

/// Canonicalises and type-checks every attribute of `obj`, dropping what is
/// read-only, write-only or unknown.
pub fn normalize(rtype: ResourceType, obj: &Map<String, Value>) -> ScimResult<Document> {
    let mut doc = Document::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = rtype.extension(key) {
            let Value::Object(inner) = value else {
                if value.is_null() {
                    continue;
                }
                return Err(ScimError::invalid_syntax(format!(
                    "\"{key}\" must be an object holding the extension's attributes"
                )));
            };
            let mut ext_doc = Document::new();
            for (k, v) in inner {
                if let Some(attr) = ext.attribute(k) {
                    put(&mut ext_doc, attr, v, &format!("{}:{}", ext.id, attr.name))?;
                }
            }
            if !ext_doc.is_empty() {
                merge_extension(&mut doc, ext, ext_doc);
            }
            continue;
        }
        let Ok(path) = parse_attr_path(key) else {
            continue;
        };
        let Some(res) =
            schema::resolve(rtype, path.urn.as_deref(), &path.name, path.sub.as_deref())
        else {
            continue;
        };
        let target = match res.extension {
            Some(ext) => {
                let entry = doc
                    .entry(ext.id.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                match entry {
                    Value::Object(m) => m,
                    _ => continue,
                }
            }
            None => &mut doc,
        };
        match res.sub {
            None => put(target, res.attribute, value, res.attribute.name)?,
            Some(sub) if !res.attribute.multi => {
                // A dotted key such as "name.givenName" at the top level.
                let parent = target
                    .entry(res.attribute.name.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = parent {
                    put(
                        m,
                        sub,
                        value,
                        &format!("{}.{}", res.attribute.name, sub.name),
                    )?;
                }
            }
            Some(_) => continue,
        }
        if let Some(ext) = res.extension
            && doc
                .get(ext.id)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
        {
            doc.remove(ext.id);
        }
    }
    Ok(doc)
}

fn merge_extension(doc: &mut Document, ext: &Schema, ext_doc: Document) {
    match doc.get_mut(ext.id) {
        Some(Value::Object(existing)) => existing.extend(ext_doc),
        _ => {
            doc.insert(ext.id.to_string(), Value::Object(ext_doc));
        }
    }
}

/// Checks `value` against `attr` and stores it under the canonical name; a
/// null or empty value unassigns the attribute (RFC 7644 §3.5.1).
fn put(target: &mut Document, attr: &Attribute, value: &Value, label: &str) -> ScimResult<()> {
    if attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    let checked = check_value(attr, value, label)?;
    // Write-only values (the password) are checked, then discarded.
    if attr.mutability == Mutability::WriteOnly {
        return Ok(());
    }
    match checked {
        Some(v) => {
            target.insert(attr.name.to_string(), v);
        }
        None => {
            target.remove(attr.name);
        }
    }
    Ok(())
}

/// Type-checks one attribute value; `None` means unassigned.
pub fn check_value(attr: &Attribute, value: &Value, label: &str) -> ScimResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.multi {
        let items: Vec<&Value> = match value {
            Value::Array(a) => a.iter().collect(),
            // A multi-valued complex attribute is a list of objects (RFC
            // 7643 §2.4); `"emails": "text"` is not one.
            other if attr.kind == Kind::Complex => {
                return Err(ScimError::invalid_value(format!(
                    "\"{label}\" is multi-valued: send an array of objects, such as [{{\"value\": ...}}], not {}",
                    describe(other)
                )));
            }
            // Identity providers send single values for multi-valued
            // custom attributes (Entra cannot send lists at all).
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            if let Some(v) = check_single(attr, item, &format!("{label}[{i}]"))? {
                match v {
                    // Entra sends sunkSshKeys as one string holding
                    // several keys, one per line.
                    Value::String(text) if attr.one_per_line => {
                        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                            let line = Value::String(line.to_string());
                            if !out.contains(&line) {
                                out.push(line);
                            }
                        }
                    }
                    v => out.push(v),
                }
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        check_one_primary(attr, &out, label)?;
        return Ok(Some(Value::Array(out)));
    }
    if value.is_array() {
        return Err(ScimError::invalid_value(format!(
            "\"{label}\" is single-valued but an array was given"
        )));
    }
    check_single(attr, value, label)
}

/// RFC 7643 §2.4: the primary attribute value `true` MUST appear no more
/// than once.
fn check_one_primary(attr: &Attribute, items: &[Value], label: &str) -> ScimResult<()> {
    if attr.sub_attribute("primary").is_none() {
        return Ok(());
    }
    let primaries = items
        .iter()
        .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "\"{label}\" has {primaries} values marked primary; at most one may be"
        )));
    }
    Ok(())
}

fn check_single(attr: &Attribute, value: &Value, label: &str) -> ScimResult<Option<Value>> {
    let wrong = |expected: &str| {
        ScimError::invalid_value(format!(
            "\"{label}\" must be {expected}, but {} was given",
            describe(value)
        ))
    };
    Ok(Some(match attr.kind {
        Kind::String | Kind::Reference | Kind::Binary => match value {
            Value::String(s) => {
                check_text(attr, s, label)?;
                Value::String(s.clone())
            }
            Value::Null => return Ok(None),
            _ => return Err(wrong("a string")),
        },
        Kind::Boolean => match value {
            Value::Bool(b) => Value::Bool(*b),
            // Microsoft Entra ID sends booleans as "True"/"False".
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(wrong("true or false")),
        },
        Kind::Integer => match value {
            Value::Number(n) if n.is_i64() => value.clone(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
                _ => return Err(wrong("an integer")),
            },
            Value::String(s) => match s.trim().parse::<i64>() {
                Ok(i) => Value::from(i),
                Err(_) => return Err(wrong("an integer")),
            },
            _ => return Err(wrong("an integer")),
        },
        Kind::Decimal => match value {
            Value::Number(_) => value.clone(),
            _ => return Err(wrong("a number")),
        },
        Kind::DateTime => match value {
            Value::String(s) => match parse_time(s) {
                Some(t) => Value::String(format_time(t)),
                None => {
                    return Err(wrong(
                        "an RFC 3339 date-time such as \"2024-05-13T04:42:34Z\"",
                    ));
                }
            },
            _ => return Err(wrong("a date-time string")),
        },
        Kind::Complex => match value {
            Value::Object(obj) => {
                let mut out = Map::new();
                for (k, v) in obj {
                    if let Some(sub) = attr.sub_attribute(k) {
                        put(&mut out, sub, v, &format!("{label}.{}", sub.name))?;
                    }
                }
                // A group member without its `value` names no one.
                if let Some(sub) = attr
                    .sub
                    .iter()
                    .find(|s| s.required && !out.contains_key(s.name))
                {
                    return Err(ScimError::invalid_value(format!(
                        "\"{label}\" has no \"{}\": every value of \"{}\" needs one ({})",
                        sub.name, attr.name, sub.description
                    )));
                }
                if out.is_empty() {
                    return Ok(None);
                }
                Value::Object(out)
            }
            // Entra sends the enterprise `manager` as the manager's id
            // alone: a single complex value given as a string is its
            // `value`.
            Value::String(id) if !attr.multi && attr.sub_attribute("value").is_some() => {
                if id.is_empty() {
                    return Ok(None);
                }
                let mut out = Map::new();
                out.insert("value".into(), Value::String(id.clone()));
                Value::Object(out)
            }
            _ => return Err(wrong("an object")),
        },
    }))
}

/// No string attribute holds C0 or C1 control characters (NUL, ESC, CR,
/// U+0085, ...): they end up in logs, terminals and the NSS maps. Line
/// feeds are allowed only where lines are part of the value (several SSH
/// keys in one string, a formatted address).
fn check_text(attr: &Attribute, s: &str, label: &str) -> ScimResult<()> {
    let multiline = attr.one_per_line || attr.name == "formatted";
    let bad = s
        .chars()
        .find(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r')));
    match bad {
        Some(c) => Err(ScimError::invalid_value(format!(
            "\"{label}\" contains the control character U+{:04X}; remove it (no string attribute may hold control characters)",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// RFC 7643 §4.1.1 and §4.2: `userName` and `displayName` are required.
pub fn check_required(rtype: ResourceType, doc: &Document) -> ScimResult<()> {
    for attr in rtype.core().attributes.iter().filter(|a| a.required) {
        let ok = doc
            .get(attr.name)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if !ok {
            return Err(ScimError::invalid_value(format!(
                "\"{}\" is required for a {} and must be a non-empty string",
                attr.name,
                rtype.name()
            )));
        }
    }
    Ok(())
}

/// The metadata a stored resource carries besides its document.
#[derive(Debug, Clone)]
pub struct Meta {
    pub id: String,
    pub created: String,
    pub last_modified: String,
    pub version: i64,
}

/// The entity tag of a version (RFC 7644 §3.14); weak, as the
/// representation depends on the request's projection.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The full representation of a resource, before projection.
pub fn render(rtype: ResourceType, doc: &Document, meta: &Meta, base_url: &str) -> Value {
    let mut schemas = vec![Value::String(rtype.core().id.into())];
    for ext in rtype.extensions() {
        if doc.contains_key(ext.id) {
            schemas.push(Value::String(ext.id.into()));
        }
    }
    let mut out = Map::with_capacity(doc.len() + 3);
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::String(meta.id.clone()));
    for (k, v) in doc {
        out.insert(k.clone(), v.clone());
    }
    let mut m = Map::new();
    m.insert("resourceType".into(), Value::String(rtype.name().into()));
    m.insert("created".into(), Value::String(meta.created.clone()));
    m.insert(
        "lastModified".into(),
        Value::String(meta.last_modified.clone()),
    );
    m.insert(
        "location".into(),
        Value::String(format!("{base_url}/{}/{}", rtype.endpoint(), meta.id)),
    );
    m.insert("version".into(), Value::String(etag(meta.version)));
    out.insert("meta".into(), Value::Object(m));
    Value::Object(out)
}

/// One entry of `attributes` or `excludedAttributes`, resolved.
#[derive(Debug, Clone)]
struct Selector {
    extension: Option<&'static str>,
    /// `None` selects a whole extension (`attributes=urn:...:User`).
    name: Option<&'static str>,
    sub: Option<&'static str>,
}

/// The `attributes` / `excludedAttributes` of a request (RFC 7644 §3.9).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    include: Option<Vec<Selector>>,
    exclude: Vec<Selector>,
}

impl Projection {
    /// Parses the comma-separated lists; names that no schema of the
    /// resource types defines select nothing.
    pub fn parse(
        rtypes: &[ResourceType],
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> ScimResult<Self> {
        let parse_list = |list: &str| -> ScimResult<Vec<Selector>> {
            let mut out = Vec::new();
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                for rt in rtypes {
                    if let Some(ext) = rt.extension(item) {
                        out.push(Selector {
                            extension: Some(ext.id),
                            name: None,
                            sub: None,
                        });
                        continue;
                    }
                    let p: AttrPath = parse_attr_path(item).map_err(|e| {
                        ScimError::invalid_value(format!("attribute list: {}", e.detail))
                    })?;
                    if let Some(r) =
                        schema::resolve(*rt, p.urn.as_deref(), &p.name, p.sub.as_deref())
                    {
                        out.push(Selector {
                            extension: r.extension.map(|e| e.id),
                            name: Some(r.attribute.name),
                            sub: r.sub.map(|s| s.name),
                        });
                    }
                }
            }
            Ok(out)
        };
        Ok(Projection {
            include: attributes
                .filter(|a| !a.trim().is_empty())
                .map(parse_list)
                .transpose()?,
            exclude: excluded.map(parse_list).transpose()?.unwrap_or_default(),
        })
    }

    /// True when the projection may leave out `members` of groups, so the
    /// caller can skip loading them.
    pub fn wants(&self, extension: Option<&str>, name: &str) -> bool {
        let hit =
            |s: &Selector| s.extension == extension && (s.name.is_none() || s.name == Some(name));
        if self.exclude.iter().any(|s| hit(s) && s.sub.is_none()) {
            return false;
        }
        match &self.include {
            None => true,
            Some(list) => list.iter().any(hit),
        }
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, rtype: ResourceType, resource: &mut Value) {
        let Some(obj) = resource.as_object_mut() else {
            return;
        };
        let keys: Vec<String> = obj.keys().cloned().collect();
        for key in keys {
            if key == "schemas" || key == "id" {
                continue; // returned always (RFC 7643 §3.1)
            }
            if let Some(ext) = rtype.extension(&key) {
                let ext_id = ext.id;
                let Some(Value::Object(inner)) = obj.get_mut(&key) else {
                    continue;
                };
                let names: Vec<String> = inner.keys().cloned().collect();
                for name in names {
                    let attr = ext.attribute(&name);
                    self.project_attribute(Some(ext_id), attr, &name, inner);
                }
                if inner.is_empty() {
                    obj.remove(&key);
                }
                continue;
            }
            let attr = schema::resolve(rtype, None, &key, None).map(|r| r.attribute);
            self.project_attribute(None, attr, &key, obj);
        }
    }

    fn project_attribute(
        &self,
        extension: Option<&str>,
        attr: Option<&'static Attribute>,
        name: &str,
        container: &mut Map<String, Value>,
    ) {
        let Some(attr) = attr else {
            container.remove(name);
            return;
        };
        match attr.returned {
            Returned::Always => return,
            Returned::Never => {
                container.remove(name);
                return;
            }
            _ => {}
        }
        let hit = |s: &Selector| s.extension == extension && s.name == Some(attr.name);
        let whole_ext =
            |s: &Selector| s.extension.is_some() && s.extension == extension && s.name.is_none();
        if let Some(list) = &self.include {
            let selected: Vec<&Selector> = list.iter().filter(|s| hit(s)).collect();
            let keep_whole = list.iter().any(whole_ext) || selected.iter().any(|s| s.sub.is_none());
            if !keep_whole && selected.is_empty() {
                container.remove(name);
                return;
            }
            if !keep_whole {
                let subs: Vec<&str> = selected.iter().filter_map(|s| s.sub).collect();
                if let Some(v) = container.get_mut(name) {
                    retain_subs(v, |k| subs.iter().any(|s| s.eq_ignore_ascii_case(k)));
                }
            }
        } else if attr.returned == Returned::Request {
            container.remove(name);
            return;
        }
        let excluded: Vec<&Selector> = self.exclude.iter().filter(|s| hit(s)).collect();
        if excluded.iter().any(|s| s.sub.is_none()) || self.exclude.iter().any(whole_ext) {
            container.remove(name);
            return;
        }
        let subs: Vec<&str> = excluded.iter().filter_map(|s| s.sub).collect();
        if !subs.is_empty()
            && let Some(v) = container.get_mut(name)
        {
            retain_subs(v, |k| !subs.iter().any(|s| s.eq_ignore_ascii_case(k)));
        }
    }
}

fn retain_subs(v: &mut Value, keep: impl Fn(&str) -> bool) {
    match v {
        Value::Object(m) => m.retain(|k, _| keep(k)),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(m) = item {
                    m.retain(|k, _| keep(k));
                }
            }
        }
        _ => {}
    }
}

/// A new User's request body from the few attributes a person is known
/// by outside SCIM (a sign-in's attribute statements, the command line):
/// `name` and `displayName` only from the parts given, a work email as
/// primary (RFC 7643 §4.1).
pub fn user_request(
    user_name: &str,
    given_name: Option<&str>,
    family_name: Option<&str>,
    email: Option<&str>,
) -> Value {
    let mut body = Map::new();
    body.insert("schemas".into(), serde_json::json!([schema::USER_SCHEMA]));
    body.insert("userName".into(), Value::from(user_name));
    body.insert("active".into(), Value::Bool(true));
    let parts: Vec<(&str, &str)> = [("givenName", given_name), ("familyName", family_name)]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    if !parts.is_empty() {
        body.insert(
            "name".into(),
            Value::Object(
                parts
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
                    .collect(),
            ),
        );
        body.insert(
            "displayName".into(),
            Value::from(parts.iter().map(|(_, v)| *v).collect::<Vec<_>>().join(" ")),
        );
    }
    if let Some(e) = email {
        body.insert(
            "emails".into(),
            serde_json::json!([{"value": e, "type": "work", "primary": true}]),
        );
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_requests_carry_only_the_parts_given() {
        let only_given = user_request("ada@example.com", Some("Ada"), None, None);
        assert_eq!(only_given["name"], serde_json::json!({"givenName": "Ada"}));
        assert_eq!(only_given["displayName"], "Ada");
        assert!(only_given.get("emails").is_none());
        let bare = user_request("x@example.com", None, None, Some("x@example.com"));
        assert!(bare.get("name").is_none() && bare.get("displayName").is_none());
        assert_eq!(bare["emails"][0]["primary"], true);
        let full = user_request("b@example.com", Some("Bo"), Some("Li"), None);
        assert_eq!(full["displayName"], "Bo Li");
        assert!(from_request(ResourceType::User, &full).is_ok());
    }
    use serde_json::json;

    #[test]
    fn canonicalises_names_and_drops_read_only_and_password() {
        let body = json!({
            "schemas": [schema::USER_SCHEMA],
            "USERNAME": "a@b.c", "id": "x", "password": "p", "groups": [],
            "Name": {"GivenName": "A"}, "active": "False",
            "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser": {"sunkSshKeys": "ssh-ed25519 AAAA"},
            "unknown": 1
        });
        let doc = from_request(ResourceType::User, &body).ok();
        assert_eq!(
            doc.map(Value::Object),
            Some(json!({
                "userName": "a@b.c", "name": {"givenName": "A"}, "active": false,
                "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser": {"sunkSshKeys": ["ssh-ed25519 AAAA"]}
            }))
        );
    }

    #[test]
    fn refuses_wrong_types_and_two_primaries() {
        let base = |extra: Value| {
            let mut b = json!({"schemas": [schema::USER_SCHEMA], "userName": "u"});
            if let (Some(o), Value::Object(e)) = (b.as_object_mut(), extra) {
                o.extend(e);
            }
            from_request(ResourceType::User, &b)
        };
        assert!(base(json!({"active": 3})).is_err());
        assert!(base(json!({"name": "x"})).is_err());
        assert!(base(json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]})).is_err());
        assert!(base(json!({"userName": ""})).is_err());
        assert!(base(json!({})).is_ok());
        // No `schemas`: the endpoint's core schema; another type's: refused.
        assert!(from_request(ResourceType::User, &json!({"userName": "u"})).is_ok());
        let group = json!({"schemas": [schema::GROUP_SCHEMA], "userName": "u"});
        assert!(from_request(ResourceType::User, &group).is_err());
        assert!(base(json!({"emails": "text"})).is_err());
        assert!(base(json!({"title": "a\u{0}b"})).is_err());
    }

    #[test]
    fn projection_keeps_always_and_selected() {
        let meta = Meta {
            id: "1".into(),
            created: "c".into(),
            last_modified: "m".into(),
            version: 1,
        };
        let doc = json!({"userName": "u", "name": {"givenName": "g", "familyName": "f"}, "displayName": "d"});
        let Value::Object(doc) = doc else {
            unreachable!()
        };
        let mut r = render(ResourceType::User, &doc, &meta, "http://x/scim/o");
        let p = Projection::parse(&[ResourceType::User], Some("name.givenName"), None);
        let Ok(p) = p else { unreachable!() };
        p.apply(ResourceType::User, &mut r);
        assert_eq!(
            r,
            json!({"schemas": [schema::USER_SCHEMA], "id": "1", "name": {"givenName": "g"}})
        );
    }
}
