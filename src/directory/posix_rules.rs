//! POSIX identities (design.md, "POSIX identity"): the rules for UIDs,
//! GIDs, usernames, group names, home directories and shells. Pure
//! functions; the directory applies them inside its write transactions.

/// UIDs and GIDs never assigned: system accounts, the nobody/nogroup and
/// systemd-reserved block, systemd-nspawn's container range, and values
/// that do not fit a signed 32-bit id.
pub const RESERVED: [(i64, i64); 4] = [
    (0, 999),
    (60_000, 65_535),
    (524_288, 1_879_048_191),
    (2_147_483_648, i64::MAX),
];

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
    mut taken: impl FnMut(i64) -> Result<bool, E>,
) -> Result<Option<i64>, E> {
    let mut id = from;
    while id <= max {
        if let Some((_, hi)) = RESERVED.iter().find(|(lo, hi)| (*lo..=*hi).contains(&id)) {
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
        return Err(format!(
            "\"{name}\" is not a valid POSIX name: use 1 to {MAX_NAME} of a-z, 0-9, '_' and '-', starting with a letter or '_'"
        ));
    }
    Ok(())
}

/// Checks a home directory or shell given as an override: an absolute
/// path with no `:` (the passwd field separator) and no control characters.
pub fn check_path(what: &str, path: &str) -> Result<(), String> {
    if !path.starts_with('/')
        || path.contains(':')
        || path.chars().any(char::is_control)
        || path.len() > 4096
    {
        return Err(format!(
            "{what} \"{path}\" must be an absolute path without ':' or control characters"
        ));
    }
    Ok(())
}

/// The lowest id an override may name: the start of the lower of the
/// org's ranges. Ids below it belong to the nodes themselves (system
/// accounts, and local users of a cluster that predates Roster).
pub const ID_FLOOR: i64 = if DEFAULT_UID_RANGE.0 < DEFAULT_GID_RANGE.0 {
    DEFAULT_UID_RANGE.0
} else {
    DEFAULT_GID_RANGE.0
};

/// Checks a UID or GID given as an override.
pub fn check_id(what: &str, id: i64) -> Result<(), String> {
    if is_reserved(id) {
        return Err(format!(
            "{what} {id} is reserved (0-999, 60000-65535, 524288-1879048191 and 2^31 and above are never assigned)"
        ));
    }
    if id < ID_FLOOR {
        return Err(format!(
            "{what} {id} is below the organization's ranges (UIDs {}-{}, GIDs {}-{}): ids below {ID_FLOOR} belong to the nodes' own accounts; choose one within the ranges",
            DEFAULT_UID_RANGE.0, DEFAULT_UID_RANGE.1, DEFAULT_GID_RANGE.0, DEFAULT_GID_RANGE.1
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
