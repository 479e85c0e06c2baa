//! POSIX identities (docs/scim.md, "SUNK User Provisioning"): the rules
//! for UIDs, GIDs, usernames, group names, home directories and shells.
//! Pure functions; the directory applies them inside its write
//! transactions.

/// UIDs and GIDs never assigned: system accounts, the nobody/nogroup and
/// systemd-reserved block, systemd-nspawn's container range, and values
/// that do not fit a signed 32-bit id.
pub const RESERVED: [(i64, i64); 4] = [
    (0, 999),
    (60_000, 65_535),
    (524_288, 1_879_048_191),
    (2_147_483_648, i64::MAX),
];

/// UIDs and GIDs never assigned, whatever an operator allows: system
/// accounts, nobody/nogroup, and values that do not fit a signed 32-bit
/// id. The rest of [`RESERVED`] an org may allow deliberately
/// (`IdRanges::allow_reserved`): AD/sssd-mapped ids often sit above 524288.
pub const ALWAYS_RESERVED: [(i64, i64); 3] =
    [(0, 999), (65_534, 65_534), (2_147_483_648, i64::MAX)];

/// The ranges an org allocates from, and whether it may use the blocks
/// that are reserved by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRanges {
    pub uid: (i64, i64),
    pub gid: (i64, i64),
    pub allow_reserved: bool,
}

impl Default for IdRanges {
    fn default() -> Self {
        IdRanges {
            uid: DEFAULT_UID_RANGE,
            gid: DEFAULT_GID_RANGE,
            allow_reserved: false,
        }
    }
}

impl IdRanges {
    fn blocks(&self) -> &'static [(i64, i64)] {
        if self.allow_reserved {
            &ALWAYS_RESERVED
        } else {
            &RESERVED
        }
    }

    /// Whether `id` is never assigned in this org.
    pub fn reserves(&self, id: i64) -> bool {
        id < 0
            || self
                .blocks()
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&id))
    }

    /// The first id at or after `from`, up to `max`, that is neither
    /// reserved in this org nor `taken`.
    pub fn next_free<E>(
        &self,
        from: i64,
        max: i64,
        taken: impl FnMut(i64) -> Result<bool, E>,
    ) -> Result<Option<i64>, E> {
        next_free_outside(self.blocks(), from, max, taken)
    }

    /// Checks a range an operator sets (`what`: "UID" or "GID").
    pub fn check_range(
        what: &str,
        (lo, hi): (i64, i64),
        allow_reserved: bool,
    ) -> Result<(), String> {
        if lo > hi {
            return Err(format!(
                "the {what} range {lo}-{hi} is empty: give LOW-HIGH"
            ));
        }
        let blocks: &[(i64, i64)] = if allow_reserved {
            &ALWAYS_RESERVED
        } else {
            &RESERVED
        };
        if let Some((blo, bhi)) = blocks.iter().find(|(blo, bhi)| lo <= *bhi && *blo <= hi) {
            let shown = if *bhi == i64::MAX {
                format!("{blo} and above")
            } else {
                format!("{blo}-{bhi}")
            };
            let how = if allow_reserved || ALWAYS_RESERVED.contains(&(*blo, *bhi)) {
                "never assigned"
            } else {
                "reserved by default (allow it deliberately with --allow-reserved-ids on, as for AD/sssd-mapped ids)"
            };
            return Err(format!(
                "the {what} range {lo}-{hi} overlaps {shown}, {how}"
            ));
        }
        Ok(())
    }

    /// Checks a UID or GID given as an override.
    pub fn check_id(&self, what: &str, id: i64) -> Result<(), String> {
        if self.reserves(id) {
            return Err(format!(
                "{what} {id} is reserved ({}are never assigned in this organization)",
                if self.allow_reserved {
                    "0-999, 65534 and 2^31 and above "
                } else {
                    "0-999, 60000-65535, 524288-1879048191 and 2^31 and above "
                }
            ));
        }
        let floor = self.uid.0.min(self.gid.0);
        if id < floor {
            return Err(format!(
                "{what} {id} is below the organization's ranges (UIDs {}-{}, GIDs {}-{}): ids below {floor} belong to the nodes' own accounts; choose one within the ranges",
                self.uid.0, self.uid.1, self.gid.0, self.gid.1
            ));
        }
        Ok(())
    }
}

/// Default ranges an org allocates from.
pub const DEFAULT_UID_RANGE: (i64, i64) = (100_000, 199_999);
pub const DEFAULT_GID_RANGE: (i64, i64) = (200_000, 299_999);
pub const DEFAULT_SHELL: &str = "/bin/bash";
pub const HOME_PREFIX: &str = "/home/";
/// Longest POSIX name accepted (Linux `useradd` allows 32).
pub const MAX_NAME: usize = 32;

pub fn is_reserved(id: i64) -> bool {
    id < 0 || RESERVED.iter().any(|(lo, hi)| (*lo..=*hi).contains(&id))
}

/// The first id at or after `from`, up to `max`, that is neither reserved
/// nor `taken`.
pub fn next_free<E>(
    from: i64,
    max: i64,
    taken: impl FnMut(i64) -> Result<bool, E>,
) -> Result<Option<i64>, E> {
    next_free_outside(&RESERVED, from, max, taken)
}

fn next_free_outside<E>(
    blocks: &[(i64, i64)],
    from: i64,
    max: i64,
    mut taken: impl FnMut(i64) -> Result<bool, E>,
) -> Result<Option<i64>, E> {
    let mut id = from;
    while id <= max {
        if let Some((_, hi)) = blocks.iter().find(|(lo, hi)| (*lo..=*hi).contains(&id)) {
            match hi.checked_add(1) {
                Some(next) => id = next,
                None => return Ok(None),
            }
            continue;
        }
        if !taken(id)? {
            return Ok(Some(id));
        }
        id += 1;
    }
    Ok(None)
}

/// A POSIX name derived from a userName or display name: the local part
/// (before `@`), lower case, only `[a-z0-9_-]`, starting with a letter or
/// `_`, at most [`MAX_NAME`] characters.
pub fn derive_name(source: &str) -> String {
    let local = source.split('@').next().unwrap_or(source);
    let mut name: String = local
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == ' ' || c == '.' { '_' } else { c })
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        name.insert(0, '_');
    }
    if name == "_" {
        name = "_user".into();
    }
    name.truncate(MAX_NAME);
    name
}

/// `base` with a numeric suffix that keeps it within [`MAX_NAME`]:
/// `alice2`, `alice3`, ...
pub fn with_suffix(base: &str, n: u64) -> String {
    let suffix = n.to_string();
    let keep = MAX_NAME.saturating_sub(suffix.len()).min(base.len());
    let mut cut = keep;
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &base[..cut])
}

/// Checks a name given as an override.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_first = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_');
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if name.is_empty() || name.len() > MAX_NAME || !ok_first || !ok_rest {
        // Debug form: a control character in the name is shown escaped,
        // never written raw to a terminal or log.
        return Err(format!(
            "{name:?} is not a valid POSIX name: use 1 to {MAX_NAME} of a-z, 0-9, '_' and '-', starting with a letter or '_'"
        ));
    }
    Ok(())
}

/// Checks a home directory or shell given as an override: an absolute
/// path with no `:` (the passwd field separator) and no control characters.
pub fn check_path(what: &str, path: &str) -> Result<(), String> {
    let control = path.chars().find(|c| c.is_control());
    if !path.starts_with('/') || path.contains(':') || control.is_some() || path.len() > 4096 {
        // The control character by code point: a line break shown escaped
        // is easy to miss.
        let holds = control
            .map(|c| format!(" (it holds U+{:04X})", u32::from(c)))
            .unwrap_or_default();
        return Err(format!(
            "{what} {path:?} must be an absolute path without ':' or control characters{holds}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(derive_name("Jane.Doe@Example.com"), "jane_doe");
        assert_eq!(derive_name("42bob@x"), "_42bob");
        assert_eq!(derive_name("Émile Zola"), "mile_zola");
        assert_eq!(derive_name("@@"), "_user");
        assert_eq!(derive_name(&"a".repeat(50)).len(), 32);
        assert_eq!(
            with_suffix(&"b".repeat(32), 12),
            format!("{}12", "b".repeat(30))
        );
        assert!(check_name("jdoe").is_ok());
        assert!(
            check_name("JDoe").is_err() && check_name("1x").is_err() && check_name("").is_err()
        );
        assert!(check_path("home", "/home/x").is_ok());
        assert!(check_path("home", "home/x").is_err() && check_path("shell", "/bin/a:b").is_err());
    }

    #[test]
    fn allocation_skips_reserved_and_taken() {
        let free = |from, max, taken: fn(i64) -> bool| {
            next_free::<()>(from, max, |id| Ok(taken(id)))
                .ok()
                .flatten()
        };
        assert_eq!(free(59_999, 70_000, |_| false), Some(59_999));
        assert_eq!(free(60_000, 70_000, |_| false), Some(65_536));
        assert_eq!(free(100_000, 100_002, |id| id < 100_002), Some(100_002));
        assert_eq!(free(100_000, 100_001, |_| true), None);
        assert!(
            is_reserved(0) && is_reserved(65_534) && is_reserved(1_000_000) && is_reserved(1 << 31)
        );
        assert!(!is_reserved(100_000) && !is_reserved(1_879_048_192));
    }
}
