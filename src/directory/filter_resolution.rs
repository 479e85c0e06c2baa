//! SCIM filters (RFC 7644 §3.4.2.2) and sort attributes resolved against
//! the schemas into `query` conditions on stored fields: which attribute
//! is a column, which lives in the document, how each type compares.

use super::query::*;
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter, Path};
use crate::scim::resource::{format_time, parse_time};
use crate::scim::schema::{self, Attribute, Kind, ResourceType};
use crate::scim::{ScimError, ScimResult};

/// Resolves a filter for one resource type.
pub fn resolve_filter(rtype: ResourceType, f: &Filter) -> ScimResult<Cond> {
    resolve_in(rtype, f, false)
}

/// Resolves a filter for a search across resource types (RFC 7644
/// §3.4.2.1): an attribute the type does not have matches nothing there.
pub fn resolve_filter_across(rtype: ResourceType, f: &Filter) -> ScimResult<Cond> {
    resolve_in(rtype, f, true)
}

fn leaf_attr(f: &Filter) -> Option<&AttrPath> {
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => Some(&path.attr),
        Filter::Has { attr, .. } => Some(attr),
        _ => None,
    }
}

fn resolve_in(rtype: ResourceType, f: &Filter, lenient: bool) -> ScimResult<Cond> {
    if lenient
        && let Some(a) = leaf_attr(f)
        && !a.name.eq_ignore_ascii_case("schemas")
        && schema::resolve(rtype, a.urn.as_deref(), &a.name, a.sub.as_deref()).is_none()
    {
        return Ok(Cond::False);
    }
    Ok(match f {
        Filter::And(a, b) => Cond::And(
            Box::new(resolve_in(rtype, a, lenient)?),
            Box::new(resolve_in(rtype, b, lenient)?),
        ),
        Filter::Or(a, b) => Cond::Or(
            Box::new(resolve_in(rtype, a, lenient)?),
            Box::new(resolve_in(rtype, b, lenient)?),
        ),
        Filter::Not(a) => Cond::Not(Box::new(resolve_in(rtype, a, lenient)?)),
        Filter::Present(path) => resolve_present(rtype, path)?,
        Filter::Compare { path, op, value } => resolve_compare(rtype, path, *op, value)?,
        Filter::Has { attr, filter } => {
            let (r, loc) = locate(rtype, attr)?;
            if let Some(c) = relation(rtype, r.attribute, Some(filter), None)? {
                return Ok(c);
            }
            if !(r.attribute.multi && r.attribute.kind == Kind::Complex) || r.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "\"{attr}\" is not a multi-valued complex attribute, so it takes no [filter]"
                )));
            }
            Cond::Any {
                array: loc,
                cond: Box::new(resolve_element(r.attribute, filter)?),
            }
        }
    })
}

fn unknown(rtype: ResourceType, attr: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!(
        "\"{attr}\" is not an attribute of a {}",
        rtype.name()
    ))
}

/// Resolves the attribute and where it lives in the document.
fn locate(
    rtype: ResourceType,
    attr: &AttrPath,
) -> ScimResult<(schema::Resolved, Vec<&'static str>)> {
    let r = schema::resolve(rtype, attr.urn.as_deref(), &attr.name, attr.sub.as_deref())
        .ok_or_else(|| unknown(rtype, attr))?;
    let mut loc = Vec::with_capacity(2);
    if let Some(ext) = r.extension {
        loc.push(ext.id);
    }
    loc.push(r.attribute.name);
    Ok((r, loc))
}

/// `schemas eq "urn"`: true for the core schema, presence of the extension
/// for an extension (RFC 7644 §3.4.2.2 uses this example).
fn schemas_condition(
    rtype: ResourceType,
    path: &Path,
    op: CompareOp,
    value: &CompValue,
) -> Option<ScimResult<Cond>> {
    if !path.attr.name.eq_ignore_ascii_case("schemas")
        || path.attr.urn.is_some()
        || path.attr.sub.is_some()
    {
        return None;
    }
    let CompValue::String(urn) = value else {
        return Some(Err(ScimError::invalid_filter(
            "\"schemas\" compares with a schema URN string",
        )));
    };
    if op != CompareOp::Eq {
        return Some(Err(ScimError::invalid_filter(
            "\"schemas\" supports only eq",
        )));
    }
    Some(Ok(if urn.eq_ignore_ascii_case(rtype.core().id) {
        Cond::True
    } else if let Some(ext) = rtype.extension(urn) {
        Cond::Present(Target::Doc(vec![ext.id]))
    } else {
        Cond::False
    }))
}

fn column_for(rtype: ResourceType, r: &schema::Resolved) -> Option<Column> {
    if r.extension.is_some() {
        return None;
    }
    match (r.attribute.name, r.sub.map(|s| s.name)) {
        ("id", None) => Some(Column::Id),
        ("externalId", None) => Some(Column::ExternalId),
        ("userName", None) if rtype == ResourceType::User => Some(Column::NameKey),
        ("displayName", None) => Some(if rtype == ResourceType::Group {
            Column::NameKey
        } else {
            Column::DisplayKey
        }),
        ("meta", Some("created")) => Some(Column::Created),
        ("meta", Some("lastModified")) => Some(Column::Modified),
        _ => None,
    }
}

/// Membership attributes live in the store's relation, not the document:
/// `members` of groups and `groups` of users.
fn relation(
    rtype: ResourceType,
    attr: &Attribute,
    filter: Option<&Filter>,
    sub_compare: Option<(&str, CompareOp, &CompValue)>,
) -> ScimResult<Option<Cond>> {
    let is_rel = match rtype {
        ResourceType::Group => attr.name == "members",
        ResourceType::User => attr.name == "groups",
    };
    if !is_rel {
        return Ok(None);
    }
    let unsupported = || {
        ScimError::invalid_filter(format!(
            "\"{}\" can be filtered only as {0}.value eq \"id\"{} or {0} pr",
            attr.name,
            if rtype == ResourceType::User {
                ", groups.display eq \"name\""
            } else {
                ""
            }
        ))
    };
    let (sub, op, value) = match (filter, sub_compare) {
        (None, Some(c)) => c,
        (Some(Filter::Compare { path, op, value }), None)
            if path.filter.is_none() && path.attr.sub.is_none() =>
        {
            (path.attr.name.as_str(), *op, value)
        }
        _ => return Err(unsupported()),
    };
    let CompValue::String(v) = value else {
        return Err(unsupported());
    };
    if op != CompareOp::Eq {
        return Err(unsupported());
    }
    Ok(Some(match (rtype, sub.to_ascii_lowercase().as_str()) {
        (ResourceType::Group, "value") => Cond::HasMember(v.clone()),
        (ResourceType::User, "value") => Cond::InGroup(v.clone()),
        (ResourceType::User, "display") => Cond::InGroupNamed(fold(v)),
        _ => return Err(unsupported()),
    }))
}

fn resolve_present(rtype: ResourceType, path: &Path) -> ScimResult<Cond> {
    let (r, loc) = locate(rtype, &path.attr)?;
    if r.attribute.name == "members" && rtype == ResourceType::Group && path.filter.is_none() {
        return Ok(Cond::HasAnyMember);
    }
    if r.attribute.name == "groups" && rtype == ResourceType::User && path.filter.is_none() {
        return Ok(Cond::InAnyGroup);
    }
    if let Some(f) = &path.filter {
        let sub = element_sub(r.attribute, path.sub.as_deref())?;
        let cond = Cond::And(
            Box::new(resolve_element(r.attribute, f)?),
            Box::new(Cond::Present(Target::Element(sub.map(|s| s.name)))),
        );
        return Ok(Cond::Any {
            array: loc,
            cond: Box::new(cond),
        });
    }
    if let Some(c) = column_for(rtype, &r) {
        return Ok(Cond::Present(Target::Column(c)));
    }
    Ok(match (r.attribute.multi, r.sub) {
        (true, Some(sub)) => Cond::Any {
            array: loc,
            cond: Box::new(Cond::Present(Target::Element(Some(sub.name)))),
        },
        (true, None) => Cond::Any {
            array: loc,
            cond: Box::new(Cond::True),
        },
        (false, Some(sub)) => {
            let mut l = loc;
            l.push(sub.name);
            Cond::Present(Target::Doc(l))
        }
        (false, None) => Cond::Present(Target::Doc(loc)),
    })
}

fn element_sub(attr: &Attribute, sub: Option<&str>) -> ScimResult<Option<&'static Attribute>> {
    match sub {
        None => Ok(None),
        Some(s) => attr.sub_attribute(s).map(Some).ok_or_else(|| {
            ScimError::invalid_filter(format!("\"{}\" has no sub-attribute \"{s}\"", attr.name))
        }),
    }
}

fn resolve_compare(
    rtype: ResourceType,
    path: &Path,
    op: CompareOp,
    value: &CompValue,
) -> ScimResult<Cond> {
    if let Some(c) = schemas_condition(rtype, path, op, value) {
        return c;
    }
    let (r, loc) = locate(rtype, &path.attr)?;
    if r.extension.is_none() && r.attribute.name == "meta" {
        match r.sub.map(|s| s.name) {
            Some("created" | "lastModified") => {}
            Some("resourceType") => {
                let CompValue::String(s) = value else {
                    return Err(ScimError::invalid_filter(
                        "meta.resourceType compares with a string",
                    ));
                };
                let hit = s.eq_ignore_ascii_case(rtype.name());
                return Ok(match op {
                    CompareOp::Eq => {
                        if hit {
                            Cond::True
                        } else {
                            Cond::False
                        }
                    }
                    CompareOp::Ne => {
                        if hit {
                            Cond::False
                        } else {
                            Cond::True
                        }
                    }
                    _ => {
                        return Err(ScimError::invalid_filter(
                            "meta.resourceType supports eq and ne",
                        ));
                    }
                });
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "\"{}\" cannot be filtered on; meta.created, meta.lastModified and meta.resourceType can",
                    path.attr
                )));
            }
        }
    }
    if let Some(f) = &path.filter {
        // emails[type eq "work"].value eq "x"
        let sub = element_sub(r.attribute, path.sub.as_deref())?.ok_or_else(|| {
            ScimError::invalid_filter(
                "a value filter in a comparison needs a sub-attribute after ]",
            )
        })?;
        if let Some(c) = relation(rtype, r.attribute, None, Some((sub.name, op, value)))? {
            return Ok(Cond::And(
                Box::new(c),
                Box::new(resolve_filter(
                    rtype,
                    &Filter::Has {
                        attr: path.attr.clone(),
                        filter: f.clone(),
                    },
                )?),
            ));
        }
        let cmp = comparison(sub, Target::Element(Some(sub.name)), op, value)?;
        let cond = Cond::And(Box::new(resolve_element(r.attribute, f)?), Box::new(cmp));
        return Ok(Cond::Any {
            array: loc,
            cond: Box::new(cond),
        });
    }
    if let Some(c) = relation(
        rtype,
        r.attribute,
        None,
        Some((r.sub.map(|s| s.name).unwrap_or("value"), op, value)),
    )? {
        return Ok(c);
    }
    if let Some(col) = column_for(rtype, &r) {
        return comparison(r.leaf(), Target::Column(col), op, value);
    }
    match (r.attribute.multi, r.attribute.kind, r.sub) {
        (true, Kind::Complex, sub) => {
            // RFC 7644 §3.4.2.2: a complex multi-valued attribute without a
            // sub-attribute compares its "value" sub-attribute.
            let sub = match sub {
                Some(s) => s,
                None => r.attribute.sub_attribute("value").ok_or_else(|| {
                    ScimError::invalid_filter(format!(
                        "name a sub-attribute of \"{}\"",
                        r.attribute.name
                    ))
                })?,
            };
            let cmp = comparison(sub, Target::Element(Some(sub.name)), op, value)?;
            Ok(Cond::Any {
                array: loc,
                cond: Box::new(cmp),
            })
        }
        (true, _, _) => {
            let cmp = comparison(r.attribute, Target::Element(None), op, value)?;
            Ok(Cond::Any {
                array: loc,
                cond: Box::new(cmp),
            })
        }
        (false, Kind::Complex, None) => Err(ScimError::invalid_filter(format!(
            "\"{}\" is complex: compare one of its sub-attributes, such as {}.{}",
            path.attr,
            r.attribute.name,
            r.attribute.sub.first().map(|s| s.name).unwrap_or("value")
        ))),
        (false, _, sub) => {
            let mut l = loc;
            if let Some(s) = sub {
                l.push(s.name);
            }
            comparison(r.leaf(), Target::Doc(l), op, value)
        }
    }
}

/// A value filter, relative to the elements of `attr`.
fn resolve_element(attr: &'static Attribute, f: &Filter) -> ScimResult<Cond> {
    Ok(match f {
        Filter::And(a, b) => Cond::And(
            Box::new(resolve_element(attr, a)?),
            Box::new(resolve_element(attr, b)?),
        ),
        Filter::Or(a, b) => Cond::Or(
            Box::new(resolve_element(attr, a)?),
            Box::new(resolve_element(attr, b)?),
        ),
        Filter::Not(a) => Cond::Not(Box::new(resolve_element(attr, a)?)),
        Filter::Has { .. } => {
            return Err(ScimError::invalid_filter("value filters cannot be nested"));
        }
        Filter::Present(p) => Cond::Present(Target::Element(Some(element_attr(attr, p)?.name))),
        Filter::Compare { path, op, value } => {
            let sub = element_attr(attr, path)?;
            comparison(sub, Target::Element(Some(sub.name)), *op, value)?
        }
    })
}

fn element_attr(attr: &'static Attribute, p: &Path) -> ScimResult<&'static Attribute> {
    if p.attr.urn.is_some() || p.attr.sub.is_some() || p.filter.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "inside {}[ ] name only its sub-attributes, not \"{p}\"",
            attr.name
        )));
    }
    attr.sub_attribute(&p.attr.name).ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "\"{}\" has no sub-attribute \"{}\"",
            attr.name, p.attr.name
        ))
    })
}

/// A typed comparison (RFC 7644 §3.4.2.2): operators must suit the
/// attribute's type, and values are coerced where the meaning is clear
/// (booleans sent as "true", as nsscache and Entra do).
fn comparison(
    attr: &Attribute,
    target: Target,
    op: CompareOp,
    value: &CompValue,
) -> ScimResult<Cond> {
    let name = attr.name;
    if let CompValue::Null = value {
        return match op {
            CompareOp::Eq => Ok(Cond::Not(Box::new(Cond::Present(target)))),
            CompareOp::Ne => Ok(Cond::Present(target)),
            _ => Err(ScimError::invalid_filter(format!(
                "null can only be compared with eq or ne (\"{name}\")"
            ))),
        };
    }
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let mismatch = || {
        ScimError::invalid_filter(format!(
            "\"{name}\" is of type {:?} and cannot be compared with {value}",
            attr.kind
        ))
    };
    let (scalar, fold_case) = match attr.kind {
        Kind::Boolean => {
            if ordering || substring {
                return Err(ScimError::invalid_filter(format!(
                    "\"{name}\" is a boolean: only eq, ne and pr apply (RFC 7644 §3.4.2.2)"
                )));
            }
            match value {
                CompValue::Bool(b) => (Scalar::Bool(*b), false),
                CompValue::String(s) if s.eq_ignore_ascii_case("true") => {
                    (Scalar::Bool(true), false)
                }
                CompValue::String(s) if s.eq_ignore_ascii_case("false") => {
                    (Scalar::Bool(false), false)
                }
                _ => return Err(mismatch()),
            }
        }
        Kind::Integer | Kind::Decimal => {
            if substring {
                return Err(ScimError::invalid_filter(format!(
                    "\"{name}\" is a number: co, sw and ew do not apply"
                )));
            }
            let n = match value {
                CompValue::Number(n) => n.clone(),
                CompValue::String(s) => {
                    serde_json::from_str::<serde_json::Number>(s.trim()).map_err(|_| mismatch())?
                }
                _ => return Err(mismatch()),
            };
            match n.as_i64() {
                Some(i) => (Scalar::Int(i), false),
                None => (Scalar::Real(n.as_f64().ok_or_else(mismatch)?), false),
            }
        }
        Kind::DateTime => {
            if substring {
                return Err(ScimError::invalid_filter(format!(
                    "\"{name}\" is a date-time: co, sw and ew do not apply"
                )));
            }
            let CompValue::String(s) = value else {
                return Err(mismatch());
            };
            let t = parse_time(s).ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "\"{s}\" is not an RFC 3339 date-time such as 2024-05-13T04:42:34Z"
                ))
            })?;
            (Scalar::Text(format_time(t)), false)
        }
        Kind::Binary if ordering => {
            return Err(ScimError::invalid_filter(format!(
                "\"{name}\" is binary: gt, ge, lt and le do not apply"
            )));
        }
        Kind::String | Kind::Reference | Kind::Binary => {
            let CompValue::String(s) = value else {
                return Err(mismatch());
            };
            let exact = attr.compares_case_exact();
            (
                Scalar::Text(if exact { s.clone() } else { fold(s) }),
                !exact,
            )
        }
        Kind::Complex => return Err(mismatch()),
    };
    // Columns that hold folded text already are compared folded.
    let fold_case =
        fold_case || matches!(target, Target::Column(Column::NameKey | Column::DisplayKey));
    let scalar = match (&target, scalar) {
        (Target::Column(Column::NameKey | Column::DisplayKey), Scalar::Text(s)) => {
            Scalar::Text(fold(&s))
        }
        (_, s) => s,
    };
    Ok(Cond::Compare {
        target,
        fold: fold_case,
        op: op.into(),
        value: scalar,
    })
}

/// Resolves `sortBy` (RFC 7644 §3.4.2.3).
pub fn resolve_sort(rtype: ResourceType, attr: &AttrPath, descending: bool) -> ScimResult<Sort> {
    let r = schema::resolve(rtype, attr.urn.as_deref(), &attr.name, attr.sub.as_deref())
        .ok_or_else(|| {
            ScimError::invalid_value(format!(
                "sortBy: \"{attr}\" is not an attribute of a {}",
                rtype.name()
            ))
        })?;
    if let Some(col) = column_for(rtype, &r) {
        return Ok(Sort {
            target: Target::Column(col),
            fold: false,
            descending,
        });
    }
    if r.attribute.multi || r.leaf().kind == Kind::Complex {
        return Err(ScimError::invalid_value(format!(
            "sortBy: \"{attr}\" is multi-valued or complex; sort by a single-valued attribute"
        )));
    }
    let mut loc = Vec::new();
    if let Some(ext) = r.extension {
        loc.push(ext.id);
    }
    loc.push(r.attribute.name);
    if let Some(s) = r.sub {
        loc.push(s.name);
    }
    let leaf = r.leaf();
    let fold_case = matches!(leaf.kind, Kind::String | Kind::Reference) && !leaf.case_exact;
    Ok(Sort {
        target: Target::Doc(loc),
        fold: fold_case,
        descending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;

    fn q(rtype: ResourceType, s: &str) -> ScimResult<Cond> {
        resolve_filter(rtype, &parse_filter(s)?)
    }

    #[test]
    fn indexed_columns_and_folding() {
        assert_eq!(
            q(ResourceType::User, r#"USERNAME eq "Alice@X""#).ok(),
            Some(Cond::Compare {
                target: Target::Column(Column::NameKey),
                fold: true,
                op: Comparison::Equal,
                value: Scalar::Text("alice@x".into())
            })
        );
        assert_eq!(
            q(ResourceType::User, r#"externalId eq "AbC""#).ok(),
            Some(Cond::Compare {
                target: Target::Column(Column::ExternalId),
                fold: false,
                op: Comparison::Equal,
                value: Scalar::Text("AbC".into())
            })
        );
    }

    #[test]
    fn entra_email_lookup_is_an_any() {
        let c = q(
            ResourceType::User,
            r#"emails[type eq "work"].value eq "a@b""#,
        )
        .ok();
        assert!(matches!(c, Some(Cond::Any { ref array, .. }) if array == &vec!["emails"]));
    }

    #[test]
    fn type_errors_are_invalid_filter() {
        for s in [
            r#"active gt true"#,
            r#"userName eq 5"#,
            r#"name eq "x""#,
            r#"nosuch eq "x""#,
            r#"meta.lastModified gt "yesterday""#,
            r#"sunkPosixUserId co 5"#,
            r#"members.display eq "x""#,
        ] {
            let t = q(ResourceType::User, s).err().and_then(|e| e.scim_type);
            assert_eq!(t, Some(crate::scim::ScimType::InvalidFilter), "{s}");
        }
        assert!(q(ResourceType::User, r#"active eq "true""#).is_ok());
    }

    #[test]
    fn a_short_page_tells_the_total_and_nothing_else_does() {
        let w = |offset, limit| Window::Offset { offset, limit };
        assert_eq!(w(0, 10).total_from_page(3), Some(3));
        assert_eq!(w(0, 10).total_from_page(0), Some(0));
        assert_eq!(w(20, 10).total_from_page(4), Some(24));
        assert_eq!(w(0, 10).total_from_page(10), None, "a full page may go on");
        assert_eq!(
            w(20, 10).total_from_page(0),
            None,
            "past the end says nothing"
        );
        let after = Window::After {
            position: 5,
            limit: 10,
        };
        assert_eq!(after.total_from_page(3), None);
        assert_eq!(after.limit(), 10);
    }
}
