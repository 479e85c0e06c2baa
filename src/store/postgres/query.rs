//! Translates a [`Query`] into PostgreSQL SQL. Every value, JSON paths
//! included, is a bound parameter; only fixed SQL text is concatenated.
//! The semantics are SQLite's (`store/sqlite/query.rs`): a comparison with
//! a missing attribute is false, `ne` matches it, `pr` wants a value that
//! is not null and not empty.

use postgres::types::ToSql;

use super::rows::{RESOURCE_COLUMNS, table};
use crate::directory::model::ResourceType;
use crate::directory::query::{Column, Comparison, Cond, Query, Scalar, Sort, Target, Window};

pub(super) type Param = Box<dyn ToSql + Sync + Send>;

pub(super) struct Sql {
    pub text: String,
    pub params: Vec<Param>,
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
    /// Binds `v` with an explicit type, so that the server never has to
    /// guess one.
    fn bind(&mut self, v: Param, pg_type: &str) {
        self.params.push(v);
        self.text
            .push_str(&format!("${}::{pg_type}", self.params.len()));
    }
    fn bind_text(&mut self, v: &str) {
        self.bind(Box::new(v.to_string()), "text");
    }
    fn bind_path(&mut self, keys: &[&str]) {
        let path: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        self.bind(Box::new(path), "text[]");
    }
    /// Borrowed parameters, for the client.
    pub fn args(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
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

/// The JSON value `t` reads (`json`), for a document or element target.
fn json_of(sql: &mut Sql, t: &Target) {
    match t {
        Target::Doc(keys) => {
            sql.push("(r.doc #> ");
            sql.bind_path(keys);
            sql.push(")");
        }
        Target::Element(None) => sql.push("e.value"),
        Target::Element(Some(k)) => {
            sql.push("(e.value #> ");
            sql.bind_path(&[k]);
            sql.push(")");
        }
        Target::Column(c) => sql.push(column_sql(*c)),
    }
}

/// The text `t` reads: a column, or a JSON scalar as text.
fn text_of(sql: &mut Sql, t: &Target) {
    match t {
        Target::Column(c) => sql.push(column_sql(*c)),
        _ => {
            sql.push("(");
            json_of(sql, t);
            sql.push(" #>> '{}')");
        }
    }
}

/// Folded columns hold case-folded text already.
fn operand(sql: &mut Sql, t: &Target, fold: bool) {
    let folded_column = matches!(t, Target::Column(Column::NameKey | Column::DisplayKey));
    if fold && !folded_column {
        sql.push("roster_fold(");
        text_of(sql, t);
        sql.push(")");
    } else {
        text_of(sql, t);
    }
}

/// `t` as a number when it is a JSON number, else NULL.
fn number_of(sql: &mut Sql, t: &Target) {
    sql.push("(CASE WHEN json_typeof(");
    json_of(sql, t);
    sql.push(") = 'number' THEN (");
    text_of(sql, t);
    sql.push(")::float8 END)");
}

/// `t` as a boolean when it is a JSON boolean, else NULL.
fn bool_of(sql: &mut Sql, t: &Target) {
    sql.push("(CASE WHEN json_typeof(");
    json_of(sql, t);
    sql.push(") = 'boolean' THEN (");
    text_of(sql, t);
    sql.push(")::boolean END)");
}

fn bind_scalar(sql: &mut Sql, v: &Scalar) {
    match v {
        Scalar::Text(s) => sql.bind_text(s),
        // Precision: integers beyond 2^53 compare approximately.
        Scalar::Int(i) => sql.bind(Box::new(*i as f64), "float8"),
        Scalar::Real(f) => sql.bind(Box::new(*f), "float8"),
        Scalar::Bool(b) => sql.bind(Box::new(*b), "boolean"),
    }
}

/// The left side of a comparison with `v`: text, number or boolean.
fn left(sql: &mut Sql, t: &Target, fold: bool, v: &Scalar) {
    match (v, t) {
        (Scalar::Int(_) | Scalar::Real(_), Target::Doc(_) | Target::Element(_)) => {
            number_of(sql, t)
        }
        (Scalar::Bool(_), Target::Doc(_) | Target::Element(_)) => bool_of(sql, t),
        _ => operand(sql, t, fold),
    }
}

pub(super) fn cond(sql: &mut Sql, c: &Cond) {
    match c {
        Cond::True => sql.push("TRUE"),
        Cond::False => sql.push("FALSE"),
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
            // NULL (a missing attribute) is false in SCIM; only under NOT
            // must it be made so.
            sql.push("(NOT COALESCE(");
            cond(sql, a);
            sql.push(", FALSE))");
        }
        Cond::Compare {
            target: t,
            fold,
            op,
            value,
        } => {
            sql.push("(");
            match op {
                Comparison::Equal
                | Comparison::Greater
                | Comparison::GreaterOrEqual
                | Comparison::Less
                | Comparison::LessOrEqual => {
                    left(sql, t, *fold, value);
                    sql.push(match op {
                        Comparison::Equal => " = ",
                        Comparison::Greater => " > ",
                        Comparison::GreaterOrEqual => " >= ",
                        Comparison::Less => " < ",
                        _ => " <= ",
                    });
                    bind_scalar(sql, value);
                }
                Comparison::NotEqual => {
                    sql.push("(");
                    left(sql, t, *fold, value);
                    sql.push(" IS NULL OR ");
                    left(sql, t, *fold, value);
                    sql.push(" <> ");
                    bind_scalar(sql, value);
                    sql.push(")");
                }
                Comparison::Contains => {
                    sql.push("strpos(");
                    operand(sql, t, *fold);
                    sql.push(", ");
                    bind_scalar(sql, value);
                    sql.push("::text) > 0");
                }
                Comparison::StartsWith => {
                    sql.push("starts_with(");
                    operand(sql, t, *fold);
                    sql.push(", ");
                    bind_scalar(sql, value);
                    sql.push("::text)");
                }
                Comparison::EndsWith => {
                    sql.push("right(");
                    operand(sql, t, *fold);
                    sql.push(", length(");
                    bind_scalar(sql, value);
                    sql.push("::text)) = ");
                    bind_scalar(sql, value);
                    sql.push("::text");
                }
            }
            sql.push(")");
        }
        Cond::Present(t) => {
            sql.push("(");
            match t {
                Target::Column(_) => {
                    text_of(sql, t);
                    sql.push(" IS NOT NULL AND ");
                    text_of(sql, t);
                    sql.push(" <> ''");
                }
                _ => {
                    sql.push("json_typeof(");
                    json_of(sql, t);
                    sql.push(") NOT IN ('null') AND ");
                    text_of(sql, t);
                    sql.push(" NOT IN ('', '[]', '{}')");
                }
            }
            sql.push(")");
        }
        Cond::Any { array, cond: inner } => {
            sql.push("EXISTS (SELECT 1 FROM json_array_elements(CASE WHEN json_typeof(r.doc #> ");
            sql.bind_path(array);
            sql.push(") = 'array' THEN r.doc #> ");
            sql.bind_path(array);
            sql.push(" END) AS e(value) WHERE ");
            cond(sql, inner);
            sql.push(")");
        }
        Cond::HasMember(uid) => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.position = m.user_pos WHERE m.group_pos = r.position AND u.id = ");
            sql.bind_text(uid);
            sql.push(")");
        }
        Cond::HasAnyMember => {
            sql.push("EXISTS (SELECT 1 FROM memberships m WHERE m.group_pos = r.position)")
        }
        Cond::InGroup(gid) => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.position = m.group_pos WHERE m.user_pos = r.position AND g.id = ");
            sql.bind_text(gid);
            sql.push(")");
        }
        Cond::InGroupNamed(key) => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.position = m.group_pos WHERE m.user_pos = r.position AND g.name_key = ");
            sql.bind_text(key);
            sql.push(")");
        }
        Cond::InGroupsNamed {
            display_keys,
            posix_names,
        } => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.position = m.group_pos LEFT JOIN posix_accounts pa ON pa.org_id = g.org_id AND pa.resource_type = 'Group' AND pa.resource_id = g.id WHERE m.user_pos = r.position AND (g.name_key = ANY(");
            sql.bind(Box::new(display_keys.clone()), "text[]");
            sql.push(") OR pa.name = ANY(");
            sql.bind(Box::new(posix_names.clone()), "text[]");
            sql.push(")))");
        }
        Cond::InClusterGroup(cluster_id) => {
            sql.push("EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.position = m.group_pos JOIN cluster_groups cg ON cg.group_id = g.id WHERE m.user_pos = r.position AND cg.cluster_id = ");
            sql.bind_text(cluster_id);
            sql.push(")");
        }
        Cond::ProvisionedBy(cluster_id) => {
            sql.push("EXISTS (SELECT 1 FROM cluster_groups cg WHERE cg.group_id = r.id AND cg.cluster_id = ");
            sql.bind_text(cluster_id);
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
        // Resources without the attribute sort last when ascending; text
        // compares by code point, as on SQLite, whatever the database's
        // collation.
        let dir = if s.descending { " DESC" } else { " ASC" };
        sql.push("(");
        operand(sql, &s.target, s.fold);
        sql.push(" IS NULL)");
        sql.push(dir);
        sql.push(", ");
        operand(sql, &s.target, s.fold);
        sql.push(" COLLATE \"C\"");
        sql.push(dir);
        sql.push(", ");
    }
    sql.push("r.position ASC");
}

fn limit_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The page query and the count query for `q`.
pub(super) fn search(rtype: ResourceType, org_id: &str, q: &Query) -> (Sql, Sql) {
    let mut page = Sql::new();
    page.push("SELECT ");
    page.push(RESOURCE_COLUMNS);
    page.push(" FROM ");
    page.push(table(rtype));
    page.push(" r WHERE r.org_id = ");
    page.bind_text(org_id);
    page.push(" AND ");
    cond(&mut page, &q.cond);

    let mut count = Sql::new();
    count.push("SELECT count(*) FROM ");
    count.push(table(rtype));
    count.push(" r WHERE r.org_id = ");
    count.bind_text(org_id);
    count.push(" AND ");
    cond(&mut count, &q.cond);

    match q.window {
        Window::After { position, limit } => {
            page.push(" AND r.position > ");
            page.bind(Box::new(position), "int8");
            order(&mut page, &None);
            page.push(" LIMIT ");
            page.bind(Box::new(limit_of(limit)), "int8");
        }
        Window::Offset { offset, limit } => {
            order(&mut page, &q.sort);
            page.push(" LIMIT ");
            page.bind(Box::new(limit_of(limit)), "int8");
            page.push(" OFFSET ");
            page.bind(Box::new(limit_of(offset)), "int8");
        }
    }
    (page, count)
}
