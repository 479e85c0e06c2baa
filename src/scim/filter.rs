//! The filter grammar of RFC 7644 §3.4.2.2 and the PATCH path grammar of
//! RFC 7644 §3.5.2, parsed into one AST and printed back.
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! PATH      = attrPath / valuePath [subAttr]
//! ```
//!
//! Precedence follows RFC 7644 §3.4.2.2 Table 4: `not` binds tighter than
//! `and`, which binds tighter than `or`. Operators and keywords are
//! case-insensitive. As an extension that Microsoft Entra ID relies on, a
//! comparison may also address a sub-attribute of a value path
//! (`emails[type eq "work"].value eq "x"`).

use std::fmt;

use serde_json::Number;

use super::error::{ScimError, ScimResult};

/// Longest filter or path accepted, in bytes; a longer one is refused
/// before parsing, so a hostile request cannot make the parser work hard.
pub const MAX_FILTER_LEN: usize = 8 * 1024;
/// Deepest nesting of parentheses and `not` accepted.
pub const MAX_DEPTH: usize = 32;
/// Most `and`, `or` and `not` operators in one filter. A chain of `or`
/// terms is a tree as deep as it is long wherever it is walked (resolving,
/// evaluating, dropping), so its length is bounded like its nesting: a
/// filter of ~550 `or` terms under the byte limit overflowed a debug
/// build's stack. Identity providers send one or two.
pub const MAX_OPERATORS: usize = 100;

/// `[URI ":"] ATTRNAME *1subAttr`, names as written (not yet resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// An attribute path, optionally narrowed by a value filter and followed by
/// a sub-attribute: the PATCH `PATH` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub attr: AttrPath,
    pub filter: Option<Box<Filter>>,
    /// The sub-attribute after `]`; only with a filter.
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// `compValue = false / null / true / number / string`.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: Path,
        op: CompareOp,
        value: CompValue,
    },
    Present(Path),
    /// `attrPath "[" valFilter "]"` as a filter atom.
    Has {
        attr: AttrPath,
        filter: Box<Filter>,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// Parses a filter expression (RFC 7644 §3.4.2.2).
pub fn parse_filter(input: &str) -> ScimResult<Filter> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "the filter is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
            input.len()
        )));
    }
    let mut p = Parser::new(input, ScimError::invalid_filter);
    let f = p.filter(0, false)?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error(&format!("unexpected {}", p.describe_here())));
    }
    Ok(f)
}

/// Parses a PATCH `path` (RFC 7644 §3.5.2).
pub fn parse_path(input: &str) -> ScimResult<Path> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_path(format!(
            "the path is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
            input.len()
        )));
    }
    let mut p = Parser::new(input, ScimError::invalid_path);
    p.skip_ws();
    let path = p.path(0)?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error(&format!("unexpected {}", p.describe_here())));
    }
    Ok(path)
}

/// Parses an attribute list as in `attributes`, `excludedAttributes` and
/// `sortBy` (RFC 7644 §3.4.2.5, §3.9): attribute paths, no filters.
pub fn parse_attr_path(input: &str) -> ScimResult<AttrPath> {
    let mut p = Parser::new(input.trim(), ScimError::invalid_syntax);
    let a = p.attr_path()?;
    if !p.at_end() {
        return Err(p.error(&format!("unexpected {}", p.describe_here())));
    }
    Ok(a)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    make_error: fn(String) -> ScimError,
    /// `and`, `or` and `not` seen so far.
    operators: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '$' || c == '_'
}
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '$' | '_' | '-')
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, make_error: fn(String) -> ScimError) -> Self {
        Parser {
            src,
            pos: 0,
            make_error,
            operators: 0,
        }
    }

    /// Counts one more logical operator, refusing the filter past
    /// [`MAX_OPERATORS`].
    fn count_operator(&mut self) -> ScimResult<()> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(self.error(&format!(
                "the filter has more than {MAX_OPERATORS} `and`, `or` and `not` operators; split the query into several"
            )));
        }
        Ok(())
    }

    fn error(&self, what: &str) -> ScimError {
        (self.make_error)(format!(
            "{what} at position {} of `{}`",
            self.pos + 1,
            self.src
        ))
    }

    fn describe_here(&self) -> String {
        match self.rest().chars().next() {
            None => "end of input".into(),
            Some(_) => {
                let word: String = self.rest().chars().take(12).collect();
                format!("`{word}`")
            }
        }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }
    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn bump(&mut self, c: char) {
        self.pos += c.len_utf8();
    }
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' {
                self.bump(c);
            } else {
                break;
            }
        }
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump(c);
            true
        } else {
            false
        }
    }

    /// The next word (letters, digits and `$_-.:`) without consuming it.
    fn peek_word(&self) -> &'a str {
        let rest = self.rest();
        let end = rest
            .char_indices()
            .find(|(_, c)| !(is_name_char(*c) || matches!(c, '.' | ':')))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        rest.get(..end).unwrap_or("")
    }

    /// `keyword` followed by a space, `(` or the end; case-insensitive.
    fn at_keyword(&self, keyword: &str) -> bool {
        let w = self.peek_word();
        w.eq_ignore_ascii_case(keyword)
    }

    // filter := term ("or" term)*
    fn filter(&mut self, depth: usize, in_brackets: bool) -> ScimResult<Filter> {
        if depth > MAX_DEPTH {
            return Err(self.error("the filter nests too deeply"));
        }
        let mut left = self.and_term(depth, in_brackets)?;
        loop {
            self.skip_ws();
            if self.at_keyword("or") {
                self.pos += 2;
                self.count_operator()?;
                self.expect_space_after("or")?;
                let right = self.and_term(depth, in_brackets)?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn and_term(&mut self, depth: usize, in_brackets: bool) -> ScimResult<Filter> {
        let mut left = self.factor(depth, in_brackets)?;
        loop {
            self.skip_ws();
            if self.at_keyword("and") {
                self.pos += 3;
                self.count_operator()?;
                self.expect_space_after("and")?;
                let right = self.factor(depth, in_brackets)?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn expect_space_after(&mut self, word: &str) -> ScimResult<()> {
        match self.peek() {
            Some(' ') | Some('\t') | Some('(') => {
                self.skip_ws();
                Ok(())
            }
            _ => Err(self.error(&format!("expected a space after `{word}`"))),
        }
    }

    fn factor(&mut self, depth: usize, in_brackets: bool) -> ScimResult<Filter> {
        self.skip_ws();
        if self.eat('(') {
            let inner = self.filter(depth + 1, in_brackets)?;
            self.skip_ws();
            if !self.eat(')') {
                return Err(self.error(&format!("expected `)`, found {}", self.describe_here())));
            }
            return Ok(inner);
        }
        if self.at_keyword("not") {
            let save = self.pos;
            self.pos += 3;
            self.skip_ws();
            if self.eat('(') {
                self.count_operator()?;
                let inner = self.filter(depth + 1, in_brackets)?;
                self.skip_ws();
                if !self.eat(')') {
                    return Err(
                        self.error(&format!("expected `)`, found {}", self.describe_here()))
                    );
                }
                return Ok(Filter::Not(Box::new(inner)));
            }
            // An attribute that happens to be called `not`.
            self.pos = save;
        }
        match self.peek() {
            None => return Err(self.error("expected an attribute, found end of input")),
            Some(c) if !is_name_start(c) && !c.is_ascii_digit() => {
                return Err(self.error(&format!(
                    "expected an attribute, found {}",
                    self.describe_here()
                )));
            }
            _ => {}
        }
        let attr = self.attr_path()?;
        let path = if self.peek() == Some('[') {
            if in_brackets {
                return Err(self.error("value filters cannot be nested"));
            }
            self.bump('[');
            let inner = self.filter(depth + 1, true)?;
            self.skip_ws();
            if !self.eat(']') {
                return Err(self.error(&format!("expected `]`, found {}", self.describe_here())));
            }
            if self.peek() == Some('.') {
                self.bump('.');
                let sub = self.name()?;
                Path {
                    attr,
                    filter: Some(Box::new(inner)),
                    sub: Some(sub),
                }
            } else {
                return Ok(Filter::Has {
                    attr,
                    filter: Box::new(inner),
                });
            }
        } else {
            Path {
                attr,
                filter: None,
                sub: None,
            }
        };
        match self.peek() {
            Some(' ') | Some('\t') => self.skip_ws(),
            _ => {
                return Err(self.error(&format!(
                    "expected a space and an operator, found {}",
                    self.describe_here()
                )));
            }
        }
        let op_word = self.peek_word();
        if op_word.eq_ignore_ascii_case("pr") {
            self.pos += 2;
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(op_word).ok_or_else(|| {
            self.error(&format!(
                "unknown operator `{op_word}` (expected one of eq ne co sw ew gt ge lt le pr)"
            ))
        })?;
        self.pos += op_word.len();
        match self.peek() {
            Some(' ') | Some('\t') => self.skip_ws(),
            _ => return Err(self.error(&format!("expected a space and a value after `{op_word}`"))),
        }
        let value = self.comp_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn comp_value(&mut self) -> ScimResult<CompValue> {
        match self.peek() {
            Some('"') => self.string().map(CompValue::String),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let rest = self.rest();
                let end = rest
                    .char_indices()
                    .find(|(_, c)| {
                        !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                    })
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len());
                let text = rest.get(..end).unwrap_or("");
                let n: Number = serde_json::from_str(text)
                    .map_err(|_| self.error(&format!("`{text}` is not a valid number")))?;
                self.pos += end;
                Ok(CompValue::Number(n))
            }
            _ => {
                let w = self.peek_word();
                let v = match w {
                    "true" => CompValue::Bool(true),
                    "false" => CompValue::Bool(false),
                    "null" => CompValue::Null,
                    _ => {
                        return Err(self.error(&format!(
                            "expected a value (a \"quoted string\", a number, true, false or null), found {}",
                            self.describe_here()
                        )));
                    }
                };
                self.pos += w.len();
                Ok(v)
            }
        }
    }

    /// A JSON string literal (RFC 7644 §3.4.2.2: values are JSON values).
    fn string(&mut self) -> ScimResult<String> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            match bytes.get(i) {
                Some(b'\\') => i += 2,
                Some(b'"') => {
                    let lit = rest.get(..=i).unwrap_or("");
                    let s: String = serde_json::from_str(lit)
                        .map_err(|e| self.error(&format!("invalid string literal: {e}")))?;
                    self.pos += i + 1;
                    return Ok(s);
                }
                _ => i += 1,
            }
        }
        Err(self.error("unterminated string: a closing `\"` is missing"))
    }

    fn name(&mut self) -> ScimResult<String> {
        let rest = self.rest();
        let mut chars = rest.char_indices();
        match chars.next() {
            Some((_, c)) if is_name_start(c) => {}
            _ => {
                return Err(self.error(&format!(
                    "expected an attribute name, found {}",
                    self.describe_here()
                )));
            }
        }
        let end = chars
            .find(|(_, c)| !is_name_char(*c))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let n = rest.get(..end).unwrap_or("").to_string();
        self.pos += end;
        Ok(n)
    }

    /// `[URI ":"] ATTRNAME *1subAttr`. A URN is recognised by its `urn:`
    /// prefix; the attribute name follows its last `:`.
    fn attr_path(&mut self) -> ScimResult<AttrPath> {
        let word = self.peek_word();
        let is_urn = word.len() > 4
            && word
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        let urn = if is_urn {
            let colon = word.rfind(':').unwrap_or(0);
            let urn = word.get(..colon).unwrap_or("").to_string();
            self.pos += colon + 1;
            Some(urn)
        } else {
            None
        };
        let name = self.name()?;
        let sub = if self.peek() == Some('.') {
            self.bump('.');
            Some(self.name()?)
        } else {
            None
        };
        Ok(AttrPath { urn, name, sub })
    }

    fn path(&mut self, depth: usize) -> ScimResult<Path> {
        let attr = self.attr_path()?;
        if !self.eat('[') {
            return Ok(Path {
                attr,
                filter: None,
                sub: None,
            });
        }
        let filter = self.filter(depth + 1, true)?;
        self.skip_ws();
        if !self.eat(']') {
            return Err(self.error(&format!("expected `]`, found {}", self.describe_here())));
        }
        let sub = if self.eat('.') {
            Some(self.name()?)
        } else {
            None
        };
        Ok(Path {
            attr,
            filter: Some(Box::new(filter)),
            sub,
        })
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        write!(f, "{}", self.name)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(flt) = &self.filter {
            write!(f, "[{flt}]")?;
        }
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => write!(f, "null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => {
                write!(f, "{}", serde_json::Value::String(s.clone()))
            }
        }
    }
}

/// Prints the canonical form: every logical operator parenthesised, so that
/// parsing the printed text gives back the same tree.
impl Filter {
    /// Binding strength (RFC 7644 §3.4.2.2, Table 5: `and` binds tighter
    /// than `or`; the rest are atoms).
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            _ => 3,
        }
    }

    /// Writes the filter, parenthesizing a part only where its operator
    /// binds less tightly than its place needs (`min`). The parser builds
    /// chains left-deep, so a chain prints without nesting and parses back
    /// to the same tree: printing every pair in parentheses made a chain of
    /// 33 terms deeper than the parser's nesting limit.
    fn write(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        let wrap = self.precedence() < min;
        if wrap {
            f.write_str("(")?;
        }
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str())?,
            Filter::Present(p) => write!(f, "{p} pr")?,
            Filter::Has { attr, filter } => write!(f, "{attr}[{filter}]")?,
            Filter::And(a, b) => {
                a.write(f, 2)?;
                f.write_str(" and ")?;
                b.write(f, 3)?;
            }
            Filter::Or(a, b) => {
                a.write(f, 1)?;
                f.write_str(" or ")?;
                b.write(f, 2)?;
            }
            Filter::Not(a) => write!(f, "not ({a})")?,
        }
        if wrap {
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Filter {
        match parse_filter(s) {
            Ok(f) => f,
            Err(e) => unreachable!("{s}: {e}"),
        }
    }

    #[test]
    fn rfc_examples_parse() {
        for s in [
            r#"userName Eq "john""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"emails[type eq "work"].value eq "a@b.c""#,
            "sunkPosixUserId ge 100000",
            "active eq true",
        ] {
            let f = p(s);
            let printed = f.to_string();
            assert_eq!(p(&printed), f, "{s} -> {printed}");
        }
    }

    #[test]
    fn precedence_and_before_or() {
        let f = p(r#"a eq 1 or b eq 2 and c eq 3"#);
        assert!(matches!(f, Filter::Or(_, ref r) if matches!(**r, Filter::And(_, _))));
    }

    #[test]
    fn urn_path_splits_at_last_colon() {
        let f =
            p(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#);
        let Filter::Compare { path, .. } = f else {
            unreachable!()
        };
        assert_eq!(
            path.attr.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(path.attr.name, "manager");
        assert_eq!(path.attr.sub.as_deref(), Some("value"));
    }

    #[test]
    fn malformed_filters_are_refused() {
        for s in [
            "",
            "userName",
            "userName eq",
            r#"userName eq "x"#,
            r#"userName xx "x""#,
            r#"(userName eq "x""#,
            r#"userName eq "x")"#,
            r#"emails[type eq "w""#,
            r#"emails[type[value eq 1] eq 2]"#,
            "userName eq bare",
            r#"userName eq "x" and"#,
            r#"not userName eq "x""#,
            "1 eq 1",
        ] {
            let e = parse_filter(s).err();
            assert!(
                matches!(
                    &e,
                    Some(ScimError {
                        status: 400,
                        scim_type: Some(crate::scim::ScimType::InvalidFilter),
                        ..
                    })
                ),
                "{s:?} gave {e:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = format!("{}a pr{}", "(".repeat(100), ")".repeat(100));
        assert!(parse_filter(&s).is_err());
    }

    #[test]
    fn filters_print_back_to_the_same_tree() {
        for s in [
            "a pr or b pr or c pr",
            "a pr or (b pr or c pr)",
            "a pr and (b pr or c pr)",
            "(a pr or b pr) and c pr",
            "not (a pr or b pr) and c pr",
            "emails[type eq \"work\" or primary eq true] and x pr",
        ] {
            let f = p(s);
            assert_eq!(parse_filter(&f.to_string()).ok(), Some(f), "{s}");
        }
        // A chain as long as the operator limit allows prints without
        // nesting, so it parses back.
        let chain = vec!["a ne 5"; MAX_OPERATORS + 1].join(" or ");
        let f = p(&chain);
        assert_eq!(f.to_string(), chain);
        assert_eq!(parse_filter(&f.to_string()).ok(), Some(f));
    }

    #[test]
    fn long_chains_are_refused() {
        let chain = |n: usize, op: &str| vec!["a pr"; n + 1].join(&format!(" {op} "));
        assert!(parse_filter(&chain(MAX_OPERATORS, "or")).is_ok());
        for op in ["or", "and"] {
            let e = parse_filter(&chain(MAX_OPERATORS + 1, op)).err();
            assert!(e.is_some_and(|e| e.detail.contains("operators")), "{op}");
        }
        let nots = format!("{}a pr{}", "not (".repeat(30), ")".repeat(30));
        assert!(parse_filter(&nots).is_ok());
    }

    #[test]
    fn paths() {
        let path = parse_path(r#"members[value eq "2819c223"]"#).ok();
        assert!(path.is_some_and(|p| p.filter.is_some() && p.sub.is_none()));
        let path = parse_path(r#"emails[type eq "work"].value"#).ok();
        assert_eq!(path.and_then(|p| p.sub), Some("value".to_string()));
        let path =
            parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
                .ok();
        assert_eq!(path.map(|p| p.attr.name), Some("department".to_string()));
        assert!(parse_path("members[").is_err());
        assert!(parse_path("").is_err());
    }
}
