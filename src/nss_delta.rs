//! Deltas between two versions of a cluster's NSS maps, for both ends of
//! the cluster API: the server computes them, the agent applies them.
//!
//! Each map is a set of lines (entries) in one canonical order: passwd
//! and group by their numeric id, shadow and sshkey by name. A delta then
//! needs no positions: the keys of the entries gone or changed, and the
//! lines new or changed. The agent rebuilds the map from the lines it has
//! and checks the result against the map's entity tag, so a delta applied
//! to anything but its base is caught, never written (it then fetches the
//! whole snapshot).

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::api_v1::LinesDelta;

/// The four maps, in the order entity tags and deltas list them.
pub const MAPS: [&str; 4] = ["passwd", "group", "shadow", "sshkey"];

/// A map's entity tag, from its lines alone ([`LineSum`]): a server can
/// keep it up to date as entries change, at the cost of the change, and
/// an agent computes the same from the map it made.
pub fn etag(body: &str) -> String {
    sum_of(body).etag()
}

/// A digest of a multiset of lines: the sum, modulo 2^128, of the first
/// 128 bits of each line's SHA-256 (an additive multiset hash, as
/// Bellare and Micciancio's AdHash). Adding or taking away a line costs
/// one hash of that line, whatever the map's size; the order of the
/// lines does not count, which is right for a map whose order is
/// canonical (the same lines always make the same map).
///
/// It detects maps that differ by accident (a copy edited by hand, a
/// bug), which is what an entity tag is for here; the lines' authors
/// cannot use a collision to change anything but their own lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineSum(u128);

impl LineSum {
    fn digest(line: &str) -> u128 {
        let d = Sha256::digest(line.as_bytes());
        let mut first = [0u8; 16];
        for (to, from) in first.iter_mut().zip(d) {
            *to = from;
        }
        u128::from_be_bytes(first)
    }

    pub fn add(&mut self, line: &str) {
        self.0 = self.0.wrapping_add(Self::digest(line));
    }

    pub fn remove(&mut self, line: &str) {
        self.0 = self.0.wrapping_sub(Self::digest(line));
    }

    /// As a strong entity tag (RFC 9110 §8.8.3).
    pub fn etag(&self) -> String {
        format!("\"{:032x}\"", self.0)
    }
}

/// A strong entity tag of any text: the first 96 bits of its SHA-256.
pub fn text_etag(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "\"{}\"",
        digest
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// How a map's entries are identified and ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// passwd and group: `name:x:id:...`, ordered by id; keyed by
    /// `name:x:id` (a user's private group and a group may share a name,
    /// never a name and an id).
    ById,
    /// shadow and sshkey: `name:...`, one per user, ordered and keyed by
    /// name.
    ByName,
}

fn kind(map: &str) -> Kind {
    match map {
        "passwd" | "group" => Kind::ById,
        _ => Kind::ByName,
    }
}

/// The key that identifies a line's entry in its map.
pub fn entry_key<'a>(map: &str, line: &'a str) -> &'a str {
    let fields = match kind(map) {
        Kind::ById => 3,
        Kind::ByName => 1,
    };
    // The byte offset of the `fields`-th ':' (or the whole line).
    let mut end = line.len();
    let mut seen = 0;
    for (i, c) in line.char_indices() {
        if c == ':' {
            seen += 1;
            if seen == fields {
                end = i;
                break;
            }
        }
    }
    line.get(..end).unwrap_or(line)
}

/// The sort key of a line in the canonical order.
fn order_key<'a>(map: &str, line: &'a str) -> (i64, &'a str) {
    match kind(map) {
        Kind::ById => (
            line.split(':')
                .nth(2)
                .and_then(|id| id.parse().ok())
                .unwrap_or(i64::MAX),
            line,
        ),
        Kind::ByName => (0, entry_key(map, line)),
    }
}

/// Lines in the canonical order of `map`, each ending in a newline.
pub fn canonical<'a>(map: &str, lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut lines: Vec<&str> = lines.into_iter().filter(|l| !l.is_empty()).collect();
    lines.sort_by(|a, b| order_key(map, a).cmp(&order_key(map, b)));
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

fn is_canonical(map: &str, body: &str) -> bool {
    let mut lines = body.lines().map(|l| order_key(map, l));
    let Some(mut last) = lines.next() else {
        return true;
    };
    for k in lines {
        if k < last {
            return false;
        }
        last = k;
    }
    true
}

/// Why a delta could not be applied: the agent fetches the snapshot.
#[derive(Debug, thiserror::Error)]
#[error(
    "the {map} delta does not apply to this node's copy (entity tag {got}, expected {expected})"
)]
pub struct Mismatch {
    pub map: String,
    pub got: String,
    pub expected: String,
}

/// Applies `delta` to map `old`: entries whose key is removed or that a
/// new line replaces are dropped, the new lines added, and the result,
/// in canonical order, checked against the delta's entity tag.
pub fn apply(map: &str, old: &str, delta: &LinesDelta) -> Result<String, Mismatch> {
    apply_summed(map, old, sum_of(old), delta).map(|(new, _)| new)
}

/// The [`LineSum`] of a map.
pub fn sum_of(body: &str) -> LineSum {
    let mut sum = LineSum::default();
    for line in body.lines().filter(|l| !l.is_empty()) {
        sum.add(line);
    }
    sum
}

/// [`apply`], given the sum of `old`'s lines (kept from the last time):
/// the result's sum is made from the lines that change alone, so that a
/// node checks a delta at the cost of the delta.
pub fn apply_summed(
    map: &str,
    old: &str,
    old_sum: LineSum,
    delta: &LinesDelta,
) -> Result<(String, LineSum), Mismatch> {
    if !is_canonical(map, old) {
        // A copy out of order (written by an older version): sorted first.
        return apply_summed(map, &canonical(map, old.lines()), old_sum, delta);
    }
    let mut sum = old_sum;
    let gone: HashSet<&str> = delta
        .removed
        .iter()
        .map(String::as_str)
        .chain(delta.lines.iter().map(|l| entry_key(map, l)))
        .collect();
    // `old` is in canonical order: the new lines, sorted, are merged
    // into what stays of it, without sorting the whole map again.
    let mut added: Vec<&str> = delta.lines.iter().map(String::as_str).collect();
    added.sort_by(|a, b| order_key(map, a).cmp(&order_key(map, b)));
    let mut added = added.into_iter().peekable();
    let mut new =
        String::with_capacity(old.len() + delta.lines.iter().map(|l| l.len() + 1).sum::<usize>());
    let mut push = |l: &str| {
        new.push_str(l);
        new.push('\n');
    };
    for a in &delta.lines {
        sum.add(a);
    }
    for l in old.lines().filter(|l| !l.is_empty()) {
        if gone.contains(entry_key(map, l)) {
            sum.remove(l);
            continue;
        }
        let key = order_key(map, l);
        while let Some(a) = added.next_if(|a| order_key(map, a) < key) {
            push(a);
        }
        push(l);
    }
    for a in added {
        push(a);
    }
    let got = sum.etag();
    if got != delta.etag {
        return Err(Mismatch {
            map: map.to_string(),
            got,
            expected: delta.etag.clone(),
        });
    }
    Ok((new, sum))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// What turns map `old` into map `new` (both canonical), compared
    /// whole: the reference the server's journal of changed entries
    /// (`map_model`) makes the same as. A changed entry is sent once, as
    /// its new line; a key is removed only when no line of `new` has it.
    fn diff(map: &str, old: &str, new: &str) -> LinesDelta {
        let old_lines: HashSet<&str> = old.lines().collect();
        let new_lines: HashSet<&str> = new.lines().collect();
        let kept_keys: HashSet<&str> = new.lines().map(|l| entry_key(map, l)).collect();
        let removed: BTreeSet<String> = old
            .lines()
            .filter(|l| !new_lines.contains(l))
            .map(|l| entry_key(map, l))
            .filter(|k| !kept_keys.contains(k))
            .map(str::to_string)
            .collect();
        LinesDelta {
            removed: removed.into_iter().collect(),
            lines: new
                .lines()
                .filter(|l| !old_lines.contains(l))
                .map(str::to_string)
                .collect(),
            etag: etag(new),
        }
    }

    #[test]
    fn keys_and_order() {
        assert_eq!(
            entry_key("passwd", "ada:x:1001:1001:Ada:/home/ada:/bin/bash"),
            "ada:x:1001"
        );
        assert_eq!(entry_key("group", "ml:x:2001:ada,bob"), "ml:x:2001");
        assert_eq!(entry_key("shadow", "ada:*:::::::"), "ada");
        assert_eq!(entry_key("sshkey", "ada:['ssh-ed25519 AAAA']"), "ada");
        assert_eq!(entry_key("shadow", "odd"), "odd");
        // By number, not by text: 999 before 1000.
        assert_eq!(
            canonical("passwd", ["b:x:1000:1:::", "a:x:999:1:::"]),
            "a:x:999:1:::\nb:x:1000:1:::\n"
        );
        // By name, not by line: "a" before "a-b" though '-' < ':'.
        assert_eq!(
            canonical("shadow", ["a-b:*:::::::", "a:*:::::::"]),
            "a:*:::::::\na-b:*:::::::\n"
        );
    }

    proptest::proptest! {
        /// Any two maps: the delta from one makes the other, and the
        /// lines it carries are at most those that differ.
        #[test]
        fn a_delta_makes_the_new_map(
            old in proptest::collection::btree_map(0i64..60, "[a-c]{1,3}", 0..30),
            new in proptest::collection::btree_map(0i64..60, "[a-c]{1,3}", 0..30),
        ) {
            let render = |m: &std::collections::BTreeMap<i64, String>| {
                canonical("passwd", m.iter().map(|(id, gecos)| format!("u{id}:x:{id}:{id}:{gecos}:/h:/s")).collect::<Vec<_>>().iter().map(String::as_str))
            };
            let (o, n) = (render(&old), render(&new));
            let d = diff("passwd", &o, &n);
            proptest::prop_assert_eq!(apply("passwd", &o, &d).ok(), Some(n.clone()));
            // The sum made from the changed lines alone is the new map's.
            let summed = apply_summed("passwd", &o, sum_of(&o), &d).ok().map(|(_, s)| s);
            proptest::prop_assert_eq!(summed, Some(sum_of(&n)));
            let changed = new.iter().filter(|(k, v)| old.get(*k) != Some(*v)).count();
            proptest::prop_assert_eq!(d.lines.len(), changed);
            let gone = old.keys().filter(|k| !new.contains_key(*k)).count();
            proptest::prop_assert_eq!(d.removed.len(), gone);
        }
    }

    proptest::proptest! {
        /// The tag kept up to date line by line is the tag of the map.
        #[test]
        fn a_line_sum_follows_its_map(
            start in proptest::collection::btree_set("[a-d]{1,4}", 0..20),
            gone in proptest::collection::btree_set("[a-d]{1,4}", 0..8),
            added in proptest::collection::btree_set("[e-f]{1,4}", 0..8),
        ) {
            let mut sum = LineSum::default();
            for l in &start {
                sum.add(l);
            }
            let mut now = start.clone();
            for l in gone.iter().filter(|l| start.contains(*l)) {
                sum.remove(l);
                now.remove(l);
            }
            for l in &added {
                sum.add(l);
                now.insert(l.clone());
            }
            let body: String = now.iter().map(|l| format!("{l}\n")).collect();
            proptest::prop_assert_eq!(sum.etag(), etag(&body));
            // A different set, a different tag.
            if now != start {
                let before: String = start.iter().map(|l| format!("{l}\n")).collect();
                proptest::prop_assert_ne!(etag(&before), etag(&body));
            }
        }
    }

    #[test]
    fn a_changed_entry_travels_once() {
        let old =
            "ada:x:1001:1001:Ada:/home/ada:/bin/bash\nbob:x:1002:1002:Bob:/home/bob:/bin/bash\n";
        let new =
            "ada:x:1001:1001:Ada L:/home/ada:/bin/zsh\ncy:x:1003:1003:Cy:/home/cy:/bin/bash\n";
        let d = diff("passwd", old, new);
        assert_eq!(d.removed, vec!["bob:x:1002".to_string()]);
        assert_eq!(d.lines.len(), 2);
        assert_eq!(apply("passwd", old, &d).ok().as_deref(), Some(new));
        // A copy in another order is put in order first.
        let reversed =
            "bob:x:1002:1002:Bob:/home/bob:/bin/bash\nada:x:1001:1001:Ada:/home/ada:/bin/bash\n";
        assert_eq!(apply("passwd", reversed, &d).ok().as_deref(), Some(new));
        // To anything but its base, it does not apply.
        assert!(apply("passwd", new, &diff("passwd", new, old)).is_ok());
        assert!(apply("passwd", "zed:x:5:5:::\n", &d).is_err());
    }
}
