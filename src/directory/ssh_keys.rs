//! SSH public keys (docs/scim.md, "SUNK User Provisioning"): each key
//! parsed and checked with the RustCrypto `ssh-key` crate; ed25519, ECDSA,
//! FIDO `sk-` keys and RSA of at least 2048 bits are accepted; option
//! prefixes, other types and bad encodings are refused, naming the key;
//! duplicates are dropped.

use ssh_key::PublicKey;
use ssh_key::public::KeyData;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

const KNOWN_TYPES: [&str; 8] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
];

/// Checks one key line and returns it in canonical form
/// (`type base64 comment`).
pub fn check_key(line: &str) -> Result<String, String> {
    let line = line.trim();
    let first = line.split_whitespace().next().unwrap_or("");
    if !KNOWN_TYPES.contains(&first)
        && line
            .split_whitespace()
            .skip(1)
            .any(|t| KNOWN_TYPES.contains(&t))
    {
        return Err(
            "has options before the key type; give the key alone, as `type base64 comment`".into(),
        );
    }
    let key = PublicKey::from_openssh(line).map_err(|e| {
        if KNOWN_TYPES.contains(&first) {
            format!("is not a valid {first} key ({e})")
        } else {
            format!(
                "has an unknown or missing key type \"{}\"",
                first.chars().take(40).collect::<String>()
            )
        }
    })?;
    match key.key_data() {
        KeyData::Ed25519(_)
        | KeyData::Ecdsa(_)
        | KeyData::SkEd25519(_)
        | KeyData::SkEcdsaSha2NistP256(_) => {}
        KeyData::Rsa(rsa) => {
            let bytes = rsa.n.as_positive_bytes().unwrap_or(&[]);
            let bits = bytes.len() * 8
                - bytes
                    .first()
                    .map(|b| b.leading_zeros() as usize)
                    .unwrap_or(8);
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "is an RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"
                ));
            }
        }
        _ => {
            return Err(format!(
                "is of type {}, which is not accepted (use ed25519, ECDSA or RSA)",
                key.algorithm()
            ));
        }
    }
    let mut key = key;
    let comment = safe_comment(key.comment()).to_string();
    key.set_comment(comment);
    key.to_openssh()
        .map_err(|e| format!("cannot be encoded ({e})"))
}

/// Longest comment kept.
const MAX_COMMENT: usize = 100;

/// The comment if it is plain text (letters, digits, spaces and `@._+=-`),
/// short, and names no key type; else nothing. A comment is free text to
/// OpenSSH but not to what reads the maps: `x, ssh-rsa AAAA… y` smuggled
/// a second (weak) key past the checks into readers that split on commas,
/// and control characters reached the map files.
fn safe_comment(comment: &str) -> &str {
    let plain = comment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '@' | '.' | '_' | '+' | '=' | '-'));
    let names_a_key = comment
        .split_whitespace()
        .any(|w| KNOWN_TYPES.contains(&w) || w.starts_with("AAAA"));
    if plain && !names_a_key && comment.len() <= MAX_COMMENT {
        comment.trim()
    } else {
        ""
    }
}

/// The keys of a text with one key per line, as an administrator or a
/// person pastes them: blank lines and `#` comments are skipped.
pub fn key_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The SSH keys stored on a user's document (the CoreWeave extension's
/// `sunkSshKeys`), as stored: checked or not.
pub fn stored_keys(doc: &crate::scim::resource::Document) -> Vec<String> {
    doc.get(crate::scim::schema::COREWEAVE_USER_SCHEMA)
        .and_then(|e| e.get("sunkSshKeys"))
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What is wrong with each line of a pasted text that is not a key, by
/// line number (from 1): a person fixes them all at once.
pub fn line_errors(text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|(n, l)| check_key(l).err().map(|why| format!("line {n}: {why}")))
        .collect()
}

/// Checks a list of keys: canonical forms, duplicates (same key, whatever
/// the comment) dropped. The error names the key by its position.
pub fn check_keys(keys: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::with_capacity(keys.len());
    let mut seen = std::collections::HashSet::new();
    for (i, k) in keys.iter().enumerate() {
        let canonical = check_key(k).map_err(|why| {
            let shown: String = k.chars().take(60).collect();
            format!("sunkSshKeys[{i}] (\"{shown}…\") {why}")
        })?;
        let body: String = canonical
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        if seen.insert(body) {
            out.push(canonical);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILenAM0cpltQu8JJx1at/k7/jQ1anEQtqdbwlpgG6zjr k1@example";

    #[test]
    fn every_bad_line_is_named_by_its_number() {
        let text = format!("# mine\n{ED}\n\nssh-rsa nope\nhello\n");
        let errors = line_errors(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("line 4: "), "{errors:?}");
        assert!(errors[1].starts_with("line 5: "), "{errors:?}");
        assert!(line_errors(ED).is_empty());
    }

    #[test]
    fn accepts_and_canonicalises() {
        assert_eq!(check_key(&format!("  {ED}  ")).ok().as_deref(), Some(ED));
        let dup = vec![ED.to_string(), ED.replace("k1@example", "other comment")];
        assert_eq!(check_keys(&dup).map(|v| v.len()), Ok(1));
    }

    #[test]
    fn comments_carry_no_second_key_and_no_control_characters() {
        let body = ED.rsplit_once(' ').map(|(b, _)| b).unwrap_or(ED);
        for comment in [
            "x, ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC y",
            "a ssh-rsa b",
            "bell\u{7}",
            "esc\u{1b}[31m",
            "quote\"d",
            "comma,separated",
        ] {
            let line = format!("{body} {comment}");
            assert_eq!(check_key(&line).ok().as_deref(), Some(body), "{comment:?}");
        }
        let kept = format!("{body} Jane Doe laptop-2024@example.org");
        assert_eq!(check_key(&kept).ok(), Some(kept));
    }

    #[test]
    fn refuses_options_unknown_types_and_bad_encoding() {
        let e = check_key(&format!("command=\"/bin/sh\" {ED}"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("options"), "{e}");
        let e = check_key("ssh-foo AAAA x").err().unwrap_or_default();
        assert!(e.contains("unknown"), "{e}");
        let e = check_key("ssh-ed25519 AAAAnotbase64!! x")
            .err()
            .unwrap_or_default();
        assert!(e.contains("not a valid ssh-ed25519"), "{e}");
        let e = check_keys(&[ED.to_string(), "garbage".into()])
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("sunkSshKeys[1]"), "{e}");
    }
}
