//! A throwaway Slurm accounting stack (tests/slurm/stack.sh: munged,
//! MariaDB, slurmdbd), stopped on drop. Shared by the agent's test and the
//! load benchmark.

use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/slurm/stack.sh");

pub struct SlurmStack(pub PathBuf);

impl SlurmStack {
    /// Starts the stack under `dir`/slurm; the script's output on failure.
    pub fn start(dir: &Path) -> Result<SlurmStack, String> {
        let s = dir.join("slurm");
        let out = Command::new("bash")
            .arg(SCRIPT)
            .arg("start")
            .env("S", &s)
            .output()
            .map_err(|e| format!("cannot run {SCRIPT}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(SlurmStack(s))
    }

    pub fn conf(&self) -> PathBuf {
        self.0.join("slurm.conf")
    }

    /// `sacctmgr ARGS` against this stack; its standard output.
    pub fn sacctmgr(&self, args: &[&str]) -> String {
        let out = Command::new("sacctmgr")
            .args(args)
            .env("SLURM_CONF", self.conf())
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
    }
}

impl Drop for SlurmStack {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(SCRIPT)
            .arg("stop")
            .env("S", &self.0)
            .status();
    }
}
