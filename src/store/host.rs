//! Where a run is: host name, process liveness, the git revision, the clock.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// This machine's host name (`unknown` when it cannot be read).
pub(super) fn hostname() -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".into())
    })
    .clone()
}

/// Whether process `pid` of this host still runs. On Linux, `/proc/PID`
/// exists and is not a zombie; elsewhere (or without `/proc`) it cannot be
/// checked, and every process counts as alive (so no run is wrongly marked
/// interrupted).
pub(super) fn pid_alive(pid: i64) -> bool {
    if !cfg!(target_os = "linux") || !std::path::Path::new("/proc/self").exists() {
        return true;
    }
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: `Z` zombie, `X` dead.
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}

/// `git describe --always --dirty` in the working directory, once per
/// process; `None` outside a repository or without git.
pub fn git_describe() -> Option<String> {
    static DESCRIBE: OnceLock<Option<String>> = OnceLock::new();
    DESCRIBE
        .get_or_init(|| {
            let out = Command::new("git")
                .args(["describe", "--always", "--dirty"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()?;
            let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
            (out.status.success() && !text.is_empty()).then_some(text)
        })
        .clone()
}

/// Unix seconds, now.
pub(super) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
