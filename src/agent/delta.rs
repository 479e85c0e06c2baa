//! The snapshot an agent last applied, kept beside its state file, and
//! the deltas (`226 IM Used`) that bring it up to date: a change costs the
//! node the size of the change, not of the cluster.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api_v1::{Maps, Snapshot, SnapshotDelta};
use crate::nss_delta::{self, LineSum};

/// Where the last applied snapshot is kept: beside the state file.
pub fn kept_path(state_file: &Path) -> PathBuf {
    state_file.with_extension("snapshot.json")
}

/// The last snapshot applied, as the server sent it (before the node
/// guard), with its entity tag: the base of the next delta.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    pub etag: String,
    pub snapshot: Snapshot,
    /// The [`LineSum`] of each map, once made: a delta is then checked at
    /// the cost of its lines, not of the maps.
    #[serde(skip)]
    pub sums: Option<[LineSum; 4]>,
    /// When this process last wrote it to its file.
    #[serde(skip)]
    pub saved_at: Option<Instant>,
}

/// How often a running agent writes the kept snapshot at most. Writing it
/// costs the size of the cluster (2 MB of JSON at 10,000 users), which a
/// change should not; the copy in memory is the base of the next delta.
/// After a crash the file is older than the state, the two disagree, and
/// the next fetch is the whole snapshot (or a 304).
pub const SAVE_EVERY: Duration = Duration::from_secs(30);

impl Kept {
    pub fn new(etag: String, snapshot: Snapshot, sums: Option<[LineSum; 4]>) -> Kept {
        Kept {
            etag,
            snapshot,
            sums,
            saved_at: None,
        }
    }

    /// Writes it when this process has not yet, when `now` says so (a
    /// whole snapshot), or when the last write is [`SAVE_EVERY`] old; else
    /// carries the time of the last write over from `before`.
    pub fn save_if_due(
        &mut self,
        state_file: &Path,
        before: Option<&Kept>,
        now: bool,
    ) -> Result<(), super::AgentError> {
        let last = before.and_then(|k| k.saved_at);
        if now || last.is_none_or(|t| t.elapsed() >= SAVE_EVERY) {
            save(state_file, self)?;
            self.saved_at = Some(Instant::now());
        } else {
            self.saved_at = last;
        }
        Ok(())
    }
}

/// The kept snapshot, if there is a readable one.
pub fn load(state_file: &Path) -> Option<Kept> {
    let text = std::fs::read(kept_path(state_file)).ok()?;
    serde_json::from_slice(&text).ok()
}

fn save(state_file: &Path, kept: &Kept) -> Result<(), super::AgentError> {
    let text = serde_json::to_vec(kept).map_err(|e| super::AgentError::Files(e.to_string()))?;
    // Lost in a crash, it is fetched again: no sync per change.
    super::files::replace(&kept_path(state_file), &text, false)
}

fn map_mut<'a>(maps: &'a mut Maps, name: &str) -> Option<&'a mut String> {
    match name {
        "passwd" => Some(&mut maps.passwd),
        "group" => Some(&mut maps.group),
        "shadow" => Some(&mut maps.shadow),
        "sshkey" => Some(&mut maps.sshkey),
        _ => None,
    }
}

/// `kept` with `delta` applied, and the sums of its maps; each map
/// checked against its entity tag. An error says why (then the agent
/// fetches the whole snapshot).
pub fn apply(kept: &Kept, delta: &SnapshotDelta) -> Result<(Snapshot, [LineSum; 4]), String> {
    if delta.maps.len() != nss_delta::MAPS.len() {
        return Err(format!(
            "the delta has {} maps, not {}",
            delta.maps.len(),
            nss_delta::MAPS.len()
        ));
    }
    let mut next = kept.snapshot.clone();
    let mut sums = [LineSum::default(); 4];
    for (i, (name, d)) in nss_delta::MAPS.iter().zip(&delta.maps).enumerate() {
        let Some(body) = map_mut(&mut next.maps, name) else {
            continue;
        };
        // Made once (after a whole snapshot, or a start), then kept.
        let old_sum = kept
            .sums
            .and_then(|s| s.get(i).copied())
            .unwrap_or_else(|| nss_delta::sum_of(body));
        let (new, sum) =
            nss_delta::apply_summed(name, body, old_sum, d).map_err(|e| e.to_string())?;
        *body = new;
        if let Some(s) = sums.get_mut(i) {
            *s = sum;
        }
    }
    next.accounts.retain(|a| {
        !delta.accounts_removed.contains(&a.name)
            && !delta.accounts.iter().any(|n| n.name == a.name)
    });
    next.accounts.extend(delta.accounts.iter().cloned());
    next.accounts.sort_by(|a, b| a.name.cmp(&b.name));
    next.seq = delta.seq;
    next.modified = delta.modified.clone();
    next.removal_approved_through = delta.removal_approved_through;
    Ok((next, sums))
}
