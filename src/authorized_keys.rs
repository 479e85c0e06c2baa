//! Reading the node-side caches: the sshkey map that
//! `roster authorized-keys` serves to sshd, guarded by the node's own
//! accounts (`node_guard`). No network, no database.

use std::path::Path;

/// The keys `roster authorized-keys` may serve `user`: none when the node
/// guard refuses the user (a local account's name, or no cached passwd
/// entry with a UID and GID of 1000 or more that no local account has),
/// else the user's keys from the sshkey map. The refusal says why.
pub fn keys_for_login(
    sshkey_cache: &Path,
    passwd_cache: &Path,
    local: &crate::node_guard::LocalAccounts,
    user: &str,
) -> Result<Vec<String>, String> {
    let passwd = std::fs::read_to_string(passwd_cache).unwrap_or_default();
    let entry = passwd
        .lines()
        .find(|l| l.split(':').next() == Some(user))
        .ok_or_else(|| format!("{user} has no entry in {}", passwd_cache.display()))?;
    if let Some(why) = local.refuse_passwd_line(entry) {
        return Err(why);
    }
    Ok(authorized_keys(sshkey_cache, user))
}

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
        let passwd = dir.with_extension("passwd");
        let entries = "alice:x:100000:100000::/home/alice:/bin/bash\nbob:x:0:0::/root:/bin/bash\n";
        assert!(std::fs::write(&passwd, entries).is_ok());
        let local = crate::node_guard::LocalAccounts::parse("", "");
        assert_eq!(
            keys_for_login(&dir, &passwd, &local, "alice").map(|k| k.len()),
            Ok(2)
        );
        assert!(
            keys_for_login(&dir, &passwd, &local, "bob").is_err(),
            "UID 0"
        );
        assert!(
            keys_for_login(&dir, &passwd, &local, "carol").is_err(),
            "no passwd entry"
        );
        let local = crate::node_guard::LocalAccounts::parse("alice:x:1000:1000::/:/bin/sh\n", "");
        assert!(
            keys_for_login(&dir, &passwd, &local, "alice").is_err(),
            "a local account"
        );
        let _ = std::fs::remove_file(&dir);
        let _ = std::fs::remove_file(&passwd);
    }
}
