//! Queries over stored resources: conditions on stored fields, ordering
//! and windows, which a store evaluates in its database with bound
//! parameters. `filter_resolution` turns SCIM filters into them.

use crate::scim::filter::CompareOp;

/// Fields a store keeps in columns of their own, indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    /// Case-folded userName (users) or displayName (groups).
    NameKey,
    /// Case-folded displayName.
    DisplayKey,
    ExternalId,
    Created,
    Modified,
}

/// What a comparison reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Column(Column),
    /// A value inside the resource document, by canonical keys.
    Doc(Vec<&'static str>),
    /// Inside [`Cond::Any`]: the current element, or one of its keys.
    Element(Option<&'static str>),
}

/// How a [`Cond::Compare`] compares, in the store's terms (the filter's
/// operators, RFC 7644 §3.4.2.2, translated once by the resolver below, so
/// that stores need not know the protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Equal,
    NotEqual,
    Contains,
    StartsWith,
    EndsWith,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl From<CompareOp> for Comparison {
    fn from(op: CompareOp) -> Self {
        match op {
            CompareOp::Eq => Comparison::Equal,
            CompareOp::Ne => Comparison::NotEqual,
            CompareOp::Co => Comparison::Contains,
            CompareOp::Sw => Comparison::StartsWith,
            CompareOp::Ew => Comparison::EndsWith,
            CompareOp::Gt => Comparison::Greater,
            CompareOp::Ge => Comparison::GreaterOrEqual,
            CompareOp::Lt => Comparison::Less,
            CompareOp::Le => Comparison::LessOrEqual,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    True,
    False,
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    /// `fold`: compare case-insensitively; the value is already folded.
    Compare {
        target: Target,
        fold: bool,
        op: Comparison,
        value: Scalar,
    },
    /// RFC 7644 §3.4.2.2 `pr`: present, not null, not empty.
    Present(Target),
    /// Some element of the array at `array` satisfies `cond`.
    Any {
        array: Vec<&'static str>,
        cond: Box<Cond>,
    },
    /// Groups: has this user as a member.
    HasMember(String),
    /// Groups: has any member.
    HasAnyMember,
    /// Users: member of the group with this id.
    InGroup(String),
    /// Users: member of a group whose case-folded display name is this.
    InGroupNamed(String),
    /// Users: member of any group.
    InAnyGroup,
    /// Users: member of a group the cluster with this id provisions.
    InClusterGroup(String),
    /// Groups: provisioned by the cluster with this id.
    ProvisionedBy(String),
    /// Users: member of a group whose case-folded display name is one of
    /// `display_keys` or whose POSIX name is one of `posix_names`: one set
    /// test, however many names (a chain of `Or`s as long as the list
    /// overflowed the stack).
    InGroupsNamed {
        display_keys: Vec<String>,
        posix_names: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub target: Target,
    pub fold: bool,
    pub descending: bool,
}

/// Which slice of the matching resources to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Offset {
        offset: u64,
        limit: u64,
    },
    /// Resources after `position` in the default order (keyset paging).
    After {
        position: i64,
        limit: u64,
    },
}

impl Window {
    /// How many rows there are to fetch at most.
    pub fn limit(&self) -> u64 {
        match self {
            Window::Offset { limit, .. } | Window::After { limit, .. } => *limit,
        }
    }

    /// The total, when a page fetched through this window tells it
    /// without a count: a short page from an offset (and not an empty page
    /// past the end) ends the list. The common look-up (`userName eq`) so
    /// runs one query, not two.
    pub fn total_from_page(&self, fetched: usize) -> Option<u64> {
        let Window::Offset { offset, limit } = *self else {
            return None;
        };
        let fetched = fetched as u64;
        (fetched < limit && (offset == 0 || fetched > 0)).then_some(offset + fetched)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub cond: Cond,
    pub sort: Option<Sort>,
    pub window: Window,
}

impl Cond {
    /// True for an equality on an indexed column, alone or and-ed with
    /// anything: the identity providers' look-ups (`userName eq`,
    /// `externalId eq`, `displayName eq`), which touch a row or two.
    pub fn is_point_lookup(&self) -> bool {
        match self {
            Cond::Compare {
                target:
                    Target::Column(
                        Column::Id | Column::NameKey | Column::DisplayKey | Column::ExternalId,
                    ),
                op: Comparison::Equal,
                ..
            } => true,
            Cond::And(a, b) => a.is_point_lookup() || b.is_point_lookup(),
            _ => false,
        }
    }
}

/// Case folding for case-insensitive comparisons: NFKC, then lower case,
/// so that compatibility look-alikes compare equal to what they resemble
/// (identifiers are refused unless already NFKC; this keeps look-ups of
/// anything else consistent). Stores fold the same way (SQLite through a
/// registered function), so non-ASCII names match too.
pub fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.nfkc().collect::<String>().to_lowercase()
}
