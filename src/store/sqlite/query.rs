//! Translates a [`Query`] into SQLite SQL. Every value, JSON path included,
//! is a bound parameter; only fixed SQL text is ever concatenated.

use rusqlite::types::Value as SqlValue;

use crate::directory::model::ResourceType;
use crate::directory::query::{Column, Comparison, Cond, Query, Scalar, Sort, Target, Window};

pub(crate) fn table(rtype: ResourceType) -> &'static str {
    match rtype {
        ResourceType::User => "users",
        ResourceType::Group => "groups",
    }
}

/// A JSON path for SQLite's json functions, keys quoted.
pub(crate) fn json_path(keys: &[&str]) -> String {
    let mut p = String::from("$");
    for k in keys {
        p.push_str(".\"");
        p.push_str(k);
        p.push('"');
    }
    p
}

pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<SqlValue>,
}

impl Sql {
    fn new() -> Self {
        Sql {
            text: String::with_capacity(256),
            params: Vec::new(),
        }
    }
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }
    fn bind(&mut self, v: SqlValue) {
        self.params.push(v);
        self.text.push('?');
    }
}

fn column_sql(c: Column) -> &'static str {
    match c {
        Column::Id => "r.id",
        Column::NameKey => "r.name_key",
        Column::DisplayKey => "r.display_key",
        Column::ExternalId => "r.external_id",
        Column::Created => "r.created",
        Column::Modified => "r.modified",
    }
}

/// Writes the SQL expression reading `t`.
fn target(sql: &mut Sql, t: &Target) {
    match t {
        Target::Column(c) => sql.push(column_sql(*c)),
        Target::Doc(keys) => {
            sql.push("json_extract(r.doc, ");
            sql.bind(SqlValue::Text(json_path(keys)));
            sql.push(")");
        }
        Target::Element(None) => sql.push("e.value"),
        Target::Element(Some(k)) => {
            sql.push("json_extract(e.value, ");
            sql.bind(SqlValue::Text(json_path(&[k])));
            sql.push(")");
        }
    }
}

fn json_type(sql: &mut Sql, t: &Target) {
    match t {
        Target::Doc(keys) => {
            sql.push("json_type(r.doc, ");
            sql.bind(SqlValue::Text(json_path(keys)));
            sql.push(")");
        }
        Target::Element(Some(k)) => {
            sql.push("json_type(e.value, ");
            sql.bind(SqlValue::Text(json_path(&[k])));
            sql.push(")");
        }
        _ => sql.push("'text'"),
    }
}

/// Folded columns hold case-folded text already; folding them again would
/// keep SQLite from using their indexes.
fn operand(sql: &mut Sql, t: &Target, fold: bool) {
    let folded_column = matches!(t, Target::Column(Column::NameKey | Column::DisplayKey));
    if fold && !folded_column {
        sql.push("roster_fold(");
        target(sql, t);
        sql.push(")");
    } else {
        target(sql, t);
    }
}

/// `?, ?, ?` for the values; `NULL` for none, which matches nothing.
fn bind_list(sql: &mut Sql, values: &[String]) {
    if values.is_empty() {
        sql.push("NULL");
    }
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(SqlValue::Text(v.clone()));
    }
}

fn scalar(v: &Scalar) -> SqlValue {
    match v {
        Scalar::Text(s) => SqlValue::Text(s.clone()),
        Scalar::Int(i) => SqlValue::Integer(*i),
        Scalar::Real(f) => SqlValue::Real(*f),
        Scalar::Bool(b) => SqlValue::Integer(i64::from(*b)),
    }
}

pub(crate) fn cond(sql: &mut Sql, c: &Cond) {
    match c {
        Cond::True => sql.push("1"),
        Cond::False => sql.push("0"),
        Cond::And(a, b) => {
            sql.push("(");
            cond(sql, a);
            sql.push(" AND ");
            cond(sql, b);
            sql.push(")");
        }
        Cond::Or(a, b) => {
            sql.push("(");
            cond(sql, a);
            sql.push(" OR ");
            cond(sql, b);
            sql.push(")");
        }
        Cond::Not(a) => {
            // A comparison with a missing attribute is NULL in SQL and false
            // in SCIM. NULL behaves as false through AND and OR, so the only
            // place it must be made false is under NOT. Keeping COALESCE out
            // of plain comparisons lets SQLite use the indexes.
            sql.push("(NOT COALESCE(");
            cond(sql, a);
            sql.push(", 0))");
        }
        Cond::Compare {
            target: t,
            fold,
            op,
            value,
        } => {
            let v = scalar(value);
            sql.push("(");
            match op {
                Comparison::Equal
                | Comparison::Greater
                | Comparison::GreaterOrEqual
                | Comparison::Less
                | Comparison::LessOrEqual => {
                    operand(sql, t, *fold);
                    sql.push(match op {
                        Comparison::Equal => " = ",
                        Comparison::Greater => " > ",
                        Comparison::GreaterOrEqual => " >= ",
                        Comparison::Less => " < ",
                        _ => " <= ",
                    });
                    sql.bind(v);
                }
                Comparison::NotEqual => {
                    sql.push("(");
                    operand(sql, t, *fold);
                    sql.push(" IS NULL OR ");
                    operand(sql, t, *fold);
                    sql.push(" <> ");
                    sql.bind(v);
                    sql.push(")");
                }
                Comparison::Contains => {
                    sql.push("instr(");
                    operand(sql, t, *fold);
                    sql.push(", ");
                    sql.bind(v);
                    sql.push(") > 0");
                }
                Comparison::StartsWith => {
                    sql.push("substr(");
                    operand(sql, t, *fold);
                    sql.push(", 1, length(");
                    sql.bind(v.clone());
                    sql.push(")) = ");
                    sql.bind(v);
                }
                Comparison::EndsWith => {
                    sql.push("(length(");
                    sql.bind(v.clone());
                    sql.push(") = 0 OR substr(");
                    operand(sql, t, *fold);
                    sql.push(", -length(");
                    sql.bind(v.clone());
                    sql.push(")) = ");
                    sql.bind(v);
                    sql.push(")");
                }
            }
            sql.push(")");
        }
        Cond::Present(t) => {
            sql.push("(");
            match t {
                Target::Column(_) | Target::Element(None) => {
                    target(sql, t);
                    sql.push(" IS NOT NULL AND ");
                    target(sql, t);
                    sql.push(" <> ''");
                }
                _ => {
                    json_type(sql, t);
                    sql.push(" NOT IN ('null') AND ");
                    target(sql, t);
                    sql.push(" NOT IN ('', '[]', '{}')");
                }
            }
            sql.push(")");
        }
        Cond::Any { array, cond: inner } => {
            sql.push("EXISTS (SELECT 1 FROM json_each(r.doc, ");
            sql.bind(SqlValue::Text(json_path(array)));
            sql.push(") AS e WHERE ");
            cond(sql, inner);
            sql.push(")");
        }
        Cond::HasMember(uid) => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.position = m.user_pos WHERE m.group_pos = r.position AND u.id = ");
            sql.bind(SqlValue::Text(uid.clone()));
            sql.push(")");
        }
        Cond::HasAnyMember => {
            sql.push("EXISTS (SELECT 1 FROM memberships m WHERE m.group_pos = r.position)")
        }
        Cond::InGroup(gid) => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.position = m.group_pos WHERE m.user_pos = r.position AND g.id = ");
            sql.bind(SqlValue::Text(gid.clone()));
            sql.push(")");
        }
        Cond::InGroupNamed(key) => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.position = m.group_pos WHERE m.user_pos = r.position AND g.name_key = ");
            sql.bind(SqlValue::Text(key.clone()));
            sql.push(")");
        }
        Cond::InGroupsNamed {
            display_keys,
            posix_names,
        } => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.position = m.group_pos LEFT JOIN posix_accounts pa ON pa.org_id = g.org_id AND pa.resource_type = 'Group' AND pa.resource_id = g.id WHERE m.user_pos = r.position AND (g.name_key IN (");
            bind_list(sql, display_keys);
            sql.push(") OR pa.name IN (");
            bind_list(sql, posix_names);
            sql.push(")))");
        }
        Cond::InClusterGroup(cluster_id) => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.position = m.group_pos JOIN cluster_groups cg ON cg.group_id = g.id WHERE m.user_pos = r.position AND cg.cluster_id = ");
            sql.bind(SqlValue::Text(cluster_id.clone()));
            sql.push(")");
        }
        Cond::ProvisionedBy(cluster_id) => {
            sql.push("EXISTS (SELECT 1 FROM cluster_groups cg WHERE cg.group_id = r.id AND cg.cluster_id = ");
            sql.bind(SqlValue::Text(cluster_id.clone()));
            sql.push(")");
        }
        Cond::InAnyGroup => {
            sql.push("EXISTS (SELECT 1 FROM memberships m WHERE m.user_pos = r.position)")
        }
    }
}

fn order(sql: &mut Sql, sort: &Option<Sort>) {
    sql.push(" ORDER BY ");
    if let Some(s) = sort {
        // Resources without the attribute sort last when ascending
        // (RFC 7644 §3.4.2.3 leaves this to the provider).
        let dir = if s.descending { " DESC" } else { " ASC" };
        sql.push("(");
        operand(sql, &s.target, s.fold);
        sql.push(" IS NULL)");
        sql.push(dir);
        sql.push(", ");
        operand(sql, &s.target, s.fold);
        sql.push(dir);
        sql.push(", ");
    }
    sql.push("r.position ASC");
}

pub(crate) const RESOURCE_COLUMNS: &str = "r.position, r.id, r.name_key, r.display_key, r.external_id, r.doc, r.created, r.modified, r.version";

/// The page query and the count query for `q`.
pub(crate) fn search(rtype: ResourceType, org_id: &str, q: &Query) -> (Sql, Sql) {
    let mut page = Sql::new();
    page.push("SELECT ");
    page.push(RESOURCE_COLUMNS);
    page.push(" FROM ");
    page.push(table(rtype));
    page.push(" r WHERE r.org_id = ");
    page.bind(SqlValue::Text(org_id.to_string()));
    page.push(" AND ");
    cond(&mut page, &q.cond);

    let mut count = Sql::new();
    count.push("SELECT count(*) FROM ");
    count.push(table(rtype));
    count.push(" r WHERE r.org_id = ");
    count.bind(SqlValue::Text(org_id.to_string()));
    count.push(" AND ");
    cond(&mut count, &q.cond);

    match q.window {
        Window::After { position, limit } => {
            page.push(" AND r.position > ");
            page.bind(SqlValue::Integer(position));
            order(&mut page, &None);
            page.push(" LIMIT ");
            page.bind(SqlValue::Integer(limit.min(i64::MAX as u64) as i64));
        }
        Window::Offset { offset, limit } => {
            order(&mut page, &q.sort);
            page.push(" LIMIT ");
            page.bind(SqlValue::Integer(limit.min(i64::MAX as u64) as i64));
            page.push(" OFFSET ");
            page.bind(SqlValue::Integer(offset.min(i64::MAX as u64) as i64));
        }
    }
    (page, count)
}
