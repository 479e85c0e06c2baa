//! PATCH (RFC 7644 §3.5.2): parsing a PatchOp request and applying its
//! operations to a resource document.
//!
//! Application is pure: it works on a copy, and the caller stores the
//! result only when every operation succeeded, so a request applies whole
//! or not at all (RFC 7644 §3.5.2: "each operation ... applied
//! sequentially ... if any fails, the resource SHALL NOT be modified").

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter::{CompValue, CompareOp, Filter, Path, parse_attr_path, parse_path};
use super::resource::{self, Document};
use super::schema::{self, Attribute, Kind, Mutability, Resolved, ResourceType};
use super::value_filter::element_matches;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub op: Op,
    pub path: Option<Path>,
    pub value: Option<Value>,
}

/// Most operations accepted in one PATCH request.
pub const MAX_OPERATIONS: usize = 10_000;

/// Parses a PatchOp request body (RFC 7644 §3.5.2).
pub fn parse_request(body: &Value) -> ScimResult<Vec<Operation>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH body must be a JSON object"))?;
    let schemas_ok = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .and_then(|(_, v)| v.as_array())
        .is_some_and(|a| {
            a.iter()
                .any(|s| s.as_str() == Some(schema::PATCH_OP_SCHEMA))
        });
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body must have \"schemas\": [\"{}\"]",
            schema::PATCH_OP_SCHEMA
        )));
    }
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .map(|(_, v)| v)
        .ok_or_else(|| {
            ScimError::invalid_syntax("a PATCH body must have an \"Operations\" array")
        })?;
    let ops = ops
        .as_array()
        .ok_or_else(|| ScimError::invalid_syntax("\"Operations\" must be an array"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            413,
            Some(super::ScimType::TooMany),
            format!(
                "{} operations in one PATCH; at most {MAX_OPERATIONS} are accepted",
                ops.len()
            ),
        ));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect()
}

fn parse_operation(i: usize, v: &Value) -> ScimResult<Operation> {
    let obj = v
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax(format!("Operations[{i}] must be an object")))?;
    let field = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let op = match field("op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("add") => Op::Add,
        Some("remove") => Op::Remove,
        Some("replace") => Op::Replace,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}]: unknown op \"{other}\" (expected add, remove or replace)"
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}] needs an \"op\" of add, remove or replace"
            )));
        }
    };
    let path = match field("path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            parse_path(s)
                .map_err(|e| ScimError::invalid_path(format!("Operations[{i}]: {}", e.detail)))?,
        ),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "Operations[{i}]: \"path\" must be a string"
            )));
        }
    };
    let value = field("value").cloned();
    if op != Op::Remove && value.is_none() {
        return Err(ScimError::invalid_value(format!(
            "Operations[{i}]: a \"value\" is required for {}",
            if op == Op::Add { "add" } else { "replace" }
        )));
    }
    if op == Op::Remove && path.is_none() {
        // RFC 7644 §3.5.2.2: remove without a path fails with noTarget.
        return Err(ScimError::no_target(format!(
            "Operations[{i}]: remove needs a \"path\""
        )));
    }
    Ok(Operation { op, path, value })
}

/// Applies `ops` to a copy of `doc` and returns the checked result.
pub fn apply(rtype: ResourceType, doc: &Document, ops: &[Operation]) -> ScimResult<Document> {
    let mut out = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_one(rtype, &mut out, op).map_err(|e| {
            ScimError::new(
                e.status,
                e.scim_type,
                format!("Operations[{i}]: {}", e.detail),
            )
        })?;
    }
    let out = resource::normalize(rtype, &out)?;
    resource::check_required(rtype, &out)?;
    Ok(out)
}

fn apply_one(rtype: ResourceType, doc: &mut Document, op: &Operation) -> ScimResult<()> {
    let Some(path) = &op.path else {
        // RFC 7644 §3.5.2.1 and §3.5.2.3: without a path the value is a set
        // of attributes. Keys may be paths themselves (Entra's dialect sends
        // "name.givenName" and full-URN attribute names).
        let Some(Value::Object(values)) = &op.value else {
            return Err(ScimError::invalid_value(
                "without a \"path\", \"value\" must be an object of attributes",
            ));
        };
        for (key, value) in values {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if let Some(ext) = rtype.extension(key) {
                let Value::Object(inner) = value else {
                    return Err(ScimError::invalid_value(format!(
                        "\"{key}\" must be an object"
                    )));
                };
                for (k, v) in inner {
                    if let Some(attr) = ext.attribute(k) {
                        let r = Resolved {
                            extension: Some(ext),
                            attribute: attr,
                            sub: None,
                        };
                        set_resolved(doc, op.op, &r, None, v, true)?;
                    }
                }
                continue;
            }
            let Ok(p) = parse_attr_path(key) else {
                continue;
            };
            let Some(r) = schema::resolve(rtype, p.urn.as_deref(), &p.name, p.sub.as_deref())
            else {
                continue;
            };
            set_resolved(doc, op.op, &r, None, value, true)?;
        }
        return Ok(());
    };
    if path.filter.is_none()
        && let Some(ext) = rtype.extension(&path.attr.to_string())
    {
        return whole_extension(doc, ext, op);
    }
    let r = schema::resolve(
        rtype,
        path.attr.urn.as_deref(),
        &path.attr.name,
        path.attr.sub.as_deref(),
    )
    .ok_or_else(|| {
        ScimError::invalid_path(format!(
            "\"{}\" is not an attribute of a {}",
            path.attr,
            rtype.name()
        ))
    })?;
    if r.sub.is_some() && path.filter.is_some() {
        return Err(ScimError::invalid_path(format!(
            "\"{path}\": a sub-attribute goes after the filter"
        )));
    }
    let filter_sub = match &path.sub {
        Some(s) => Some(r.attribute.sub_attribute(s).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "\"{}\" has no sub-attribute \"{s}\"",
                r.attribute.name
            ))
        })?),
        None => None,
    };
    if path.filter.is_some() && !(r.attribute.multi && r.attribute.kind == Kind::Complex) {
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is not a multi-valued complex attribute, so it takes no filter",
            r.attribute.name
        )));
    }
    let leaf_mut = filter_sub
        .map(|s| s.mutability)
        .unwrap_or(r.leaf().mutability);
    if r.attribute.mutability == Mutability::ReadOnly || leaf_mut == Mutability::ReadOnly {
        return Err(ScimError::mutability(format!("\"{path}\" is read-only")));
    }
    match op.op {
        Op::Remove => remove(
            doc,
            &r,
            path.filter.as_deref(),
            filter_sub,
            op.value.as_ref(),
        ),
        _ => {
            let value = op.value.as_ref().unwrap_or(&Value::Null);
            match &path.filter {
                None => set_resolved(doc, op.op, &r, None, value, false),
                Some(f) => set_filtered(doc, &r, f, filter_sub, value),
            }
        }
    }
}

/// An operation whose path is an extension's URN: the extension's
/// attributes as one object.
fn whole_extension(
    doc: &mut Document,
    ext: &'static schema::Schema,
    op: &Operation,
) -> ScimResult<()> {
    if op.op == Op::Remove {
        doc.remove(ext.id);
        return Ok(());
    }
    let Some(Value::Object(values)) = &op.value else {
        return Err(ScimError::invalid_value(format!(
            "the value for \"{}\" must be an object of its attributes",
            ext.id
        )));
    };
    if op.op == Op::Replace {
        doc.remove(ext.id);
    }
    for (k, v) in values {
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let attr = ext.attribute(k).ok_or_else(|| {
            ScimError::invalid_path(format!("\"{k}\" is not an attribute of {}", ext.id))
        })?;
        let r = Resolved {
            extension: Some(ext),
            attribute: attr,
            sub: None,
        };
        set_resolved(doc, op.op, &r, None, v, false)?;
    }
    Ok(())
}

/// The object that holds `r`'s attribute: the document, or its extension.
fn container<'a>(
    doc: &'a mut Document,
    r: &Resolved,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match r.extension {
        None => Some(doc),
        Some(ext) => {
            if create && !doc.contains_key(ext.id) {
                doc.insert(ext.id.to_string(), Value::Object(Map::new()));
            }
            doc.get_mut(ext.id).and_then(Value::as_object_mut)
        }
    }
}

/// Add or replace at a path without a filter.
fn set_resolved(
    doc: &mut Document,
    op: Op,
    r: &Resolved,
    _unused: Option<()>,
    value: &Value,
    pathless: bool,
) -> ScimResult<()> {
    if matches!(r.attribute.mutability, Mutability::ReadOnly)
        || r.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        if pathless {
            // Okta sends the group's `id` with every path-less replace.
            return Ok(());
        }
        return Err(ScimError::mutability(format!(
            "\"{}\" is read-only",
            r.attribute.name
        )));
    }
    let Some(c) = container(doc, r, true) else {
        return Err(ScimError::invalid_value(format!(
            "the extension holding \"{}\" is not an object",
            r.attribute.name
        )));
    };
    let attr = r.attribute;
    if let Some(sub) = r.sub {
        // name.givenName, or emails.value (every value of a multi-valued
        // attribute).
        let checked = resource::check_value(sub, value, &format!("{}.{}", attr.name, sub.name))?;
        match c.get_mut(attr.name) {
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Value::Object(m) = item {
                        set_or_clear(m, sub.name, checked.clone());
                    }
                }
            }
            Some(Value::Object(m)) => set_or_clear(m, sub.name, checked),
            _ => {
                if attr.multi {
                    return Err(ScimError::no_target(format!(
                        "\"{}\" has no values to set \"{}\" on",
                        attr.name, sub.name
                    )));
                }
                if let Some(v) = checked {
                    let mut m = Map::new();
                    m.insert(sub.name.to_string(), v);
                    c.insert(attr.name.to_string(), Value::Object(m));
                }
            }
        }
        return Ok(());
    }
    let checked = resource::check_value(attr, value, attr.name)?;
    if attr.multi && op == Op::Add && !attr.whole_set {
        // RFC 7644 §3.5.2.1: values are added to a multi-valued attribute;
        // a value already present is not added twice.
        let Some(Value::Array(new_items)) = checked else {
            return Ok(());
        };
        let existing = c
            .entry(attr.name.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !existing.is_array() {
            *existing = Value::Array(Vec::new());
        }
        if let Value::Array(items) = existing {
            let mut touched = Vec::new();
            for item in new_items {
                match items.iter().position(|e| same_value(e, &item)) {
                    Some(pos) => {
                        if let (Some(Value::Object(old)), Value::Object(new)) =
                            (items.get_mut(pos), &item)
                        {
                            for (k, v) in new {
                                old.insert(k.clone(), v.clone());
                            }
                        }
                        touched.push(pos);
                    }
                    None => {
                        items.push(item);
                        touched.push(items.len() - 1);
                    }
                }
            }
            keep_one_primary(items, &touched);
        }
        return Ok(());
    }
    if attr.kind == Kind::Complex && !attr.multi {
        // RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged.
        match (checked, c.get_mut(attr.name)) {
            (Some(Value::Object(new)), Some(Value::Object(old))) => {
                for (k, v) in new {
                    old.insert(k, v);
                }
            }
            (Some(v), _) => {
                c.insert(attr.name.to_string(), v);
            }
            (None, _) => {
                if op == Op::Replace {
                    c.remove(attr.name);
                }
            }
        }
        return Ok(());
    }
    set_or_clear(c, attr.name, checked);
    Ok(())
}

fn set_or_clear(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    match v {
        Some(v) => {
            m.insert(key.to_string(), v);
        }
        None => {
            m.remove(key);
        }
    }
}

/// Two values of a multi-valued attribute are the same when their `value`
/// sub-attributes are equal (and their `type`s, where given), or, for
/// simple values, when they are equal.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => match (x.get("value"), y.get("value")) {
            (Some(vx), Some(vy)) => {
                vx == vy
                    && match (x.get("type"), y.get("type")) {
                        (Some(tx), Some(ty)) => tx == ty,
                        _ => true,
                    }
            }
            _ => x == y,
        },
        _ => a == b,
    }
}

/// RFC 7643 §2.4: only one value may be primary; the values this operation
/// set win over the ones already there.
fn keep_one_primary(items: &mut [Value], touched: &[usize]) {
    let winner = touched
        .iter()
        .rev()
        .copied()
        .find(|&i| items.get(i).and_then(|v| v.get("primary")) == Some(&Value::Bool(true)));
    if let Some(w) = winner {
        for (i, item) in items.iter_mut().enumerate() {
            if i != w
                && let Value::Object(m) = item
                && m.get("primary") == Some(&Value::Bool(true))
            {
                m.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

/// Add or replace at `attr[filter]` or `attr[filter].sub`.
fn set_filtered(
    doc: &mut Document,
    r: &Resolved,
    filter: &Filter,
    sub: Option<&'static Attribute>,
    value: &Value,
) -> ScimResult<()> {
    let attr = r.attribute;
    let Some(c) = container(doc, r, true) else {
        return Err(ScimError::no_target(format!(
            "no values of \"{}\" exist",
            attr.name
        )));
    };
    let mut matched = Vec::new();
    if let Some(Value::Array(items)) = c.get(attr.name) {
        for (i, item) in items.iter().enumerate() {
            if element_matches(attr, item, filter)? {
                matched.push(i);
            }
        }
    }
    if matched.is_empty() {
        // Entra sends `emails[type eq "work"].value` to set the work email
        // whether or not one exists; an equality filter describes the value
        // to create.
        if let (Some(sub), Some(mut template)) = (sub, template_from(attr, filter)) {
            if let Some(v) =
                resource::check_value(sub, value, &format!("{}.{}", attr.name, sub.name))?
            {
                template.insert(sub.name.to_string(), v);
            }
            let entry = c
                .entry(attr.name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = entry {
                items.push(Value::Object(template));
                let last = items.len() - 1;
                keep_one_primary(items, &[last]);
            }
            return Ok(());
        }
        return Err(ScimError::no_target(format!(
            "no value of \"{}\" matches the filter [{filter}]",
            attr.name
        )));
    }
    let Some(Value::Array(items)) = c.get_mut(attr.name) else {
        return Ok(());
    };
    for &i in &matched {
        let Some(Value::Object(elem)) = items.get_mut(i) else {
            continue;
        };
        match sub {
            Some(sub) => {
                let checked =
                    resource::check_value(sub, value, &format!("{}.{}", attr.name, sub.name))?;
                set_or_clear(elem, sub.name, checked);
            }
            None => {
                let new = match value {
                    Value::Object(new) if !new.is_empty() => new,
                    _ => {
                        return Err(ScimError::invalid_value(format!(
                            "a value for \"{}[{filter}]\" must be an object with at least one sub-attribute",
                            attr.name
                        )));
                    }
                };
                // As for a complex attribute (RFC 7644 §3.5.2.3), the
                // sub-attributes given replace those of each matching value;
                // the others are left unchanged.
                for (k, v) in new {
                    if let Some(s) = attr.sub_attribute(k) {
                        let checked =
                            resource::check_value(s, v, &format!("{}.{}", attr.name, s.name))?;
                        set_or_clear(elem, s.name, checked);
                    }
                }
            }
        }
    }
    keep_one_primary(items, &matched);
    Ok(())
}

/// For a filter made only of `sub eq "value"` joined by `and`, the object
/// those equalities describe.
fn template_from(attr: &Attribute, filter: &Filter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    fn walk(attr: &Attribute, f: &Filter, out: &mut Map<String, Value>) -> bool {
        match f {
            Filter::And(a, b) => walk(attr, a, out) && walk(attr, b, out),
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.filter.is_none() && path.attr.sub.is_none() => {
                let Some(sub) = attr.sub_attribute(&path.attr.name) else {
                    return false;
                };
                let v = match value {
                    CompValue::String(s) => Value::String(s.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Number(n) => Value::Number(n.clone()),
                    CompValue::Null => return false,
                };
                out.insert(sub.name.to_string(), v);
                true
            }
            _ => false,
        }
    }
    walk(attr, filter, &mut out).then_some(out)
}

fn remove(
    doc: &mut Document,
    r: &Resolved,
    filter: Option<&Filter>,
    filter_sub: Option<&'static Attribute>,
    value: Option<&Value>,
) -> ScimResult<()> {
    let attr = r.attribute;
    if attr.required && r.sub.is_none() && filter.is_none() {
        return Err(ScimError::mutability(format!(
            "\"{}\" is required and cannot be removed",
            attr.name
        )));
    }
    let Some(c) = container(doc, r, false) else {
        return Ok(());
    };
    match (filter, r.sub) {
        (None, None) => {
            match (value, c.get_mut(attr.name)) {
                // Entra removes chosen members with
                // {"op":"Remove","path":"members","value":[{"value":"id"}]}:
                // only the listed values go.
                (Some(v), Some(Value::Array(items))) if attr.multi && !v.is_null() => {
                    let listed: Vec<Value> = match v {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    };
                    items.retain(|item| !listed.iter().any(|l| same_value(item, l)));
                    if items.is_empty() {
                        c.remove(attr.name);
                    }
                }
                _ => {
                    c.remove(attr.name);
                }
            }
        }
        (None, Some(sub)) => match c.get_mut(attr.name) {
            Some(Value::Object(m)) => {
                m.remove(sub.name);
                if m.is_empty() {
                    c.remove(attr.name);
                }
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Value::Object(m) = item {
                        m.remove(sub.name);
                    }
                }
            }
            _ => {}
        },
        (Some(f), _) => {
            let Some(Value::Array(items)) = c.get_mut(attr.name) else {
                return Ok(());
            };
            let mut keep = Vec::with_capacity(items.len());
            for item in items.drain(..) {
                let hit = element_matches(attr, &item, f)?;
                match (hit, filter_sub, item) {
                    (false, _, item) => keep.push(item),
                    (true, None, _) => {}
                    (true, Some(s), Value::Object(mut m)) => {
                        m.remove(s.name);
                        keep.push(Value::Object(m));
                    }
                    (true, Some(_), item) => keep.push(item),
                }
            }
            if keep.is_empty() {
                c.remove(attr.name);
            } else {
                *items = keep;
            }
        }
    }
    if let Some(ext) = r.extension
        && doc
            .get(ext.id)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        doc.remove(ext.id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Document {
        match v {
            Value::Object(m) => m,
            _ => Document::new(),
        }
    }
    fn patch(rtype: ResourceType, d: &Value, ops: Value) -> ScimResult<Value> {
        let body = json!({"schemas": [schema::PATCH_OP_SCHEMA], "Operations": ops});
        let ops = parse_request(&body)?;
        apply(rtype, &doc(d.clone()), &ops).map(Value::Object)
    }

    #[test]
    fn okta_group_operations() {
        let g = json!({"displayName": "eng", "members": [{"value": "a"}, {"value": "b"}]});
        let r = patch(
            ResourceType::Group,
            &g,
            json!([{"op": "remove", "path": "members[value eq \"a\"]"}]),
        );
        assert_eq!(
            r.ok(),
            Some(json!({"displayName": "eng", "members": [{"value": "b"}]}))
        );
        let r = patch(
            ResourceType::Group,
            &g,
            json!([{"op": "add", "path": "members", "value": [{"value": "c", "display": "C"}, {"value": "a"}]}]),
        );
        assert_eq!(
            r.ok(),
            Some(
                json!({"displayName": "eng", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]})
            )
        );
        let r = patch(
            ResourceType::Group,
            &g,
            json!([{"op": "replace", "value": {"id": "x", "displayName": "eng2"}}]),
        );
        assert_eq!(
            r.ok(),
            Some(json!({"displayName": "eng2", "members": [{"value": "a"}, {"value": "b"}]}))
        );
        let r = patch(
            ResourceType::Group,
            &g,
            json!([{"op": "replace", "path": "members", "value": []}]),
        );
        assert_eq!(r.ok(), Some(json!({"displayName": "eng"})));
    }

    #[test]
    fn entra_operations() {
        let u = json!({"userName": "u", "active": true});
        let r = patch(
            ResourceType::User,
            &u,
            json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "x@y"},
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
                {"op": "replace", "value": {"name.givenName": "G", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7"}}
            ]),
        );
        assert_eq!(
            r.ok(),
            Some(json!({
                "userName": "u", "active": false,
                "emails": [{"type": "work", "value": "x@y"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "employeeNumber": "7"},
                "name": {"givenName": "G"}
            }))
        );
    }

    #[test]
    fn single_primary_and_atomicity() {
        let u = json!({"userName": "u", "emails": [{"value": "a", "primary": true}]});
        let r = patch(
            ResourceType::User,
            &u,
            json!([{"op": "add", "path": "emails", "value": [{"value": "b", "primary": true}]}]),
        );
        assert_eq!(
            r.ok(),
            Some(
                json!({"userName": "u", "emails": [{"value": "a", "primary": false}, {"value": "b", "primary": true}]})
            )
        );
        let r = patch(
            ResourceType::User,
            &u,
            json!([
                {"op": "replace", "path": "displayName", "value": "D"},
                {"op": "replace", "path": "emails[value eq \"zzz\"]", "value": {"value": "q"}}
            ]),
        );
        assert!(matches!(
            r,
            Err(ScimError {
                scim_type: Some(crate::scim::ScimType::NoTarget),
                ..
            })
        ));
    }

    #[test]
    fn refusals() {
        let u = json!({"userName": "u"});
        for (ops, t) in [
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                "mutability",
            ),
            (json!([{"op": "remove", "path": "userName"}]), "mutability"),
            (json!([{"op": "remove"}]), "noTarget"),
            (
                json!([{"op": "replace", "path": "nosuch", "value": 1}]),
                "invalidPath",
            ),
            (
                json!([{"op": "replace", "path": "active", "value": 5}]),
                "invalidValue",
            ),
            (
                json!([{"op": "move", "path": "active", "value": true}]),
                "invalidSyntax",
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq", "value": 1}]),
                "invalidPath",
            ),
        ] {
            let r = patch(ResourceType::User, &u, ops.clone());
            assert_eq!(
                r.err().and_then(|e| e.scim_type).map(|t| t.as_str()),
                Some(t),
                "{ops}"
            );
        }
    }
}
