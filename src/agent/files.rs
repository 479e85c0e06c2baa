//! Writing cache files the way libnss-cache and sshd must see them: whole,
//! never half-written.

use std::io::Write;
use std::path::Path;

use super::AgentError;

/// Replaces `path` with `content` atomically: a temporary file in the same
/// directory, fsync, rename over the old one, fsync of the directory.
pub fn atomic_write(path: &Path, content: &[u8]) -> Result<(), AgentError> {
    replace(path, content, true)
}

/// Replaces `path` with `content` atomically, and with `durable`, on disk
/// before this returns (a file that can be made again, such as the kept
/// snapshot, skips the two syncs: after a crash it is whole or unreadable).
pub fn replace(path: &Path, content: &[u8], durable: bool) -> Result<(), AgentError> {
    let err = |what: &str, e: std::io::Error| {
        AgentError::Files(format!("{what} {}: {e}", path.display()))
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("cache");
    let tmp = dir.join(format!(".{name}.roster-tmp"));
    let mut f =
        std::fs::File::create(&tmp).map_err(|e| err("cannot create a temporary file beside", e))?;
    f.write_all(content).map_err(|e| err("cannot write", e))?;
    if durable {
        f.sync_all().map_err(|e| err("cannot sync", e))?;
    }
    drop(f);
    // Readable by every user: NSS lookups run as anyone, and sshd's key
    // command as nobody. (shadow.cache holds only "*" passwords.)
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| err("cannot set permissions on", e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err("cannot replace", e))?;
    if durable && let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The user names of a passwd map.
pub fn passwd_names(passwd: &str) -> Vec<String> {
    passwd
        .lines()
        .filter_map(|l| l.split(':').next())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}
