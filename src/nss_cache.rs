//! Reading the node-side caches: the sshkey map that
//! `roster authorized-keys` serves to sshd. No network, no database.

use std::path::Path;

/// Keys of `user` in an nsscache sshkey map: lines `name:['k1', 'k2']`
/// (a Python list literal) or `name:key`. The name must match exactly;
/// a missing or unreadable file gives no keys.
pub fn authorized_keys(cache: &Path, user: &str) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(cache) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name != user {
            continue;
        }
        let rest = rest.trim();
        if let Some(list) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            for item in list.split(", ") {
                let item = item.trim();
                let key = item
                    .strip_prefix('\'')
                    .and_then(|i| i.strip_suffix('\''))
                    .or_else(|| item.strip_prefix('"').and_then(|i| i.strip_suffix('"')))
                    .unwrap_or(item);
                if !key.is_empty() {
                    out.push(key.to_string());
                }
            }
        } else if !rest.is_empty() {
            out.push(rest.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_and_exact_names() {
        let dir = std::env::temp_dir().join(format!("roster-sshkey-{}", std::process::id()));
        let text = "alice:['ssh-ed25519 AAAA a@b', 'ssh-rsa BBBB c']\nalicex:['ssh-ed25519 XXXX x']\nbob:ssh-ed25519 CCCC bob\n";
        assert!(std::fs::write(&dir, text).is_ok());
        assert_eq!(
            authorized_keys(&dir, "alice"),
            vec!["ssh-ed25519 AAAA a@b", "ssh-rsa BBBB c"]
        );
        assert_eq!(authorized_keys(&dir, "bob"), vec!["ssh-ed25519 CCCC bob"]);
        assert!(authorized_keys(&dir, "ali").is_empty());
        assert!(authorized_keys(&dir, "carol").is_empty());
        assert!(authorized_keys(Path::new("/nonexistent/sshkey.cache"), "alice").is_empty());
        let _ = std::fs::remove_file(&dir);
    }
}
