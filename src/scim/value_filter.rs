//! Evaluating a value filter, the part of a PATCH path in brackets
//! (`emails[type eq "work"]`, RFC 7644 §3.5.2), against the values of a
//! multi-valued attribute held in memory. Filters over whole resources are
//! translated to the store's queries instead (`directory::query`); the
//! comparison rules are the same (RFC 7644 §3.4.2.2).

use serde_json::Value;

use super::filter::{CompValue, CompareOp, Filter, Path};
use super::resource;
use super::schema::{Attribute, Kind};
use super::{ScimError, ScimResult};

/// Evaluates a value filter (the part in brackets) against one value of a
/// multi-valued attribute. Attribute names inside are sub-attributes.
pub fn element_matches(attr: &Attribute, item: &Value, f: &Filter) -> ScimResult<bool> {
    Ok(match f {
        Filter::And(a, b) => element_matches(attr, item, a)? && element_matches(attr, item, b)?,
        Filter::Or(a, b) => element_matches(attr, item, a)? || element_matches(attr, item, b)?,
        Filter::Not(a) => !element_matches(attr, item, a)?,
        Filter::Has { .. } => {
            return Err(ScimError::invalid_filter("value filters cannot be nested"));
        }
        Filter::Present(p) => {
            let (_, v) = sub_value(attr, item, p)?;
            !matches!(v, None | Some(Value::Null)) && v != Some(&Value::String(String::new()))
        }
        Filter::Compare { path, op, value } => {
            let (sub, v) = sub_value(attr, item, path)?;
            compare(sub, v, *op, value)?
        }
    })
}

fn sub_value<'a>(
    attr: &Attribute,
    item: &'a Value,
    p: &Path,
) -> ScimResult<(&'static Attribute, Option<&'a Value>)> {
    if p.attr.urn.is_some() || p.attr.sub.is_some() || p.filter.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "inside [ ] only sub-attributes of \"{}\" can be named, not \"{p}\"",
            attr.name
        )));
    }
    let sub = attr.sub_attribute(&p.attr.name).ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "\"{}\" has no sub-attribute \"{}\"",
            attr.name, p.attr.name
        ))
    })?;
    Ok((sub, item.get(sub.name)))
}

/// Compares a stored value with a filter value under RFC 7644 §3.4.2.2.
pub fn compare(
    attr: &Attribute,
    stored: Option<&Value>,
    op: CompareOp,
    value: &CompValue,
) -> ScimResult<bool> {
    let stored = match stored {
        None | Some(Value::Null) => {
            return Ok(match (op, value) {
                (CompareOp::Eq, CompValue::Null) => true,
                (CompareOp::Ne, CompValue::Null) => false,
                (CompareOp::Ne, _) => true,
                _ => false,
            });
        }
        Some(v) => v,
    };
    if let CompValue::Null = value {
        return Ok(op == CompareOp::Ne);
    }
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (attr.kind, stored, value) {
        (Kind::Boolean, Value::Bool(b), CompValue::Bool(v)) => {
            return match op {
                CompareOp::Eq => Ok(b == v),
                CompareOp::Ne => Ok(b != v),
                _ => Err(ScimError::invalid_filter(format!(
                    "\"{}\" is a boolean: only eq, ne and pr apply",
                    attr.name
                ))),
            };
        }
        (Kind::Integer | Kind::Decimal, Value::Number(n), CompValue::Number(v)) => n
            .as_f64()
            .zip(v.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (
            Kind::String | Kind::Reference | Kind::Binary | Kind::DateTime,
            Value::String(s),
            CompValue::String(v),
        ) => {
            let (s, v) = if attr.compares_case_exact() {
                (s.clone(), v.clone())
            } else {
                (s.to_lowercase(), v.to_lowercase())
            };
            let v = if attr.kind == Kind::DateTime {
                resource::parse_time(&v)
                    .map(resource::format_time)
                    .ok_or_else(|| {
                        ScimError::invalid_filter(format!("\"{v}\" is not an RFC 3339 date-time"))
                    })?
            } else {
                v
            };
            match op {
                CompareOp::Co => return Ok(s.contains(&v)),
                CompareOp::Sw => return Ok(s.starts_with(&v)),
                CompareOp::Ew => return Ok(s.ends_with(&v)),
                _ => Some(s.cmp(&v)),
            }
        }
        _ => {
            return Err(ScimError::invalid_filter(format!(
                "\"{}\" cannot be compared with {value}",
                attr.name
            )));
        }
    };
    let Some(ord) = ord else { return Ok(false) };
    Ok(match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            return Err(ScimError::invalid_filter(format!(
                "\"{}\" is not a string: co, sw and ew do not apply",
                attr.name
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::scim::filter::parse_filter;
    use crate::scim::schema::USER;
    use serde_json::json;

    fn emails() -> &'static Attribute {
        USER.attribute("emails").unwrap()
    }

    fn matches(item: Value, filter: &str) -> ScimResult<bool> {
        element_matches(emails(), &item, &parse_filter(filter)?)
    }

    #[test]
    fn sub_attributes_compare_by_their_own_rules() {
        let work = json!({"value": "Ada@Example.com", "type": "work", "primary": true});
        assert!(matches(work.clone(), "type eq \"work\"").unwrap());
        assert!(!matches(work.clone(), "type eq \"home\"").unwrap());
        // emails.value is case-insensitive (RFC 7643 §4.1.2, caseExact false).
        assert!(matches(work.clone(), "value eq \"ada@example.COM\"").unwrap());
        assert!(matches(work.clone(), "value sw \"ADA\" and primary eq true").unwrap());
        assert!(matches(work.clone(), "not (type eq \"home\") or value pr").unwrap());
        assert!(!matches(json!({"value": ""}), "value pr").unwrap());
        // A missing sub-attribute equals null, and differs from anything else.
        assert!(matches(json!({"value": "a@b.c"}), "type eq null").unwrap());
        assert!(matches(json!({"value": "a@b.c"}), "type ne \"work\"").unwrap());
    }

    #[test]
    fn what_cannot_be_evaluated_is_an_invalid_filter() {
        let item = json!({"value": "a@b.c", "primary": true});
        for f in [
            "primary gt true",
            "nosuch eq \"x\"",
            "emails.value eq \"x\"",
            "primary co \"t\"",
            "value eq 3",
        ] {
            let e = matches(item.clone(), f).unwrap_err();
            assert_eq!(
                e.scim_type,
                Some(crate::scim::ScimType::InvalidFilter),
                "{f}"
            );
        }
    }
}
