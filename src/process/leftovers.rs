//! What a killed run left running (a llama-server still holding its model in a container, the
//! grandchildren of a cell's process group), stopped by the next run before it measures
//! anything, from the list the tracker kept.

use std::path::Path;
use std::time::Duration;

use super::pids::{boot_id, group_members, process_start};
use super::signal::{kill, signal_until_gone};
use super::supervisor::remove_container;
use super::tracker::{Running, Started};

/// Stops whatever the run that wrote `path` left running, and removes the list. Returns one
/// line per thing stopped. Call it only while holding the results lock, so that the list is
/// not that of a run still in progress.
pub(crate) async fn stop_leftovers(path: &Path, grace: Duration) -> Vec<String> {
    let Ok(text) = std::fs::read(path) else { return Vec::new() };
    let running: Running = match serde_json::from_slice(&text) {
        Ok(running) => running,
        Err(error) => {
            let _ = std::fs::remove_file(path);
            return vec![format!("ignored `{}`, which is not a list bakeoff can read: {error}", path.display())];
        }
    };
    let mut stopped = Vec::new();
    if running.boot_id == boot_id() {
        for started in &running.started {
            if let Some(line) = stop(started, grace).await {
                stopped.push(line);
            }
        }
    }
    let _ = std::fs::remove_file(path);
    stopped
}

async fn stop(started: &Started, grace: Duration) -> Option<String> {
    match started {
        Started::Group { group, start, what } => {
            // The group's pid stays taken while any member lives, so members found under it
            // are ours unless a new process with that pid (another start time) leads it.
            if process_start(*group).is_some_and(|found| found != *start) || group_members(*group).is_empty() {
                return None;
            }
            signal_until_gone(grace, || !group_members(*group).is_empty(), |signal| kill(-*group, signal)).await;
            Some(format!("process group {group} ({what})"))
        }
        Started::Process { pid, start, what } => {
            if process_start(*pid) != Some(*start) {
                return None;
            }
            signal_until_gone(grace, || process_start(*pid) == Some(*start), |signal| kill(*pid, signal)).await;
            Some(format!("process {pid} ({what})"))
        }
        Started::Container { podman, name, what } => {
            let removed = remove_container(podman, name, grace).await;
            removed.then(|| format!("container {name} ({what})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::tracker::Tracker;

    /// A group whose leader is gone but whose member lives is stopped; a pid that now belongs
    /// to another process (another start time) is left alone.
    #[test]
    fn stops_a_left_group_and_spares_a_reused_pid() {
        use std::os::unix::process::CommandExt;
        let runtime = crate::process::runtime().unwrap();
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(".running.json");
        let mut child = std::process::Command::new("sleep").arg("300").process_group(0).spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let start = process_start(pid).unwrap();
        let tracker = Tracker::new(path.clone());
        tracker.add(Started::Process { pid, start: start + 1, what: "not ours".to_owned() });
        tracker.add(Started::Group { group: pid, start, what: "sleep 300".to_owned() });
        drop(tracker);
        let stopped = runtime.block_on(stop_leftovers(&path, Duration::from_secs(2)));
        assert_eq!(stopped, [format!("process group {pid} (sleep 300)")]);
        assert!(child.wait().unwrap().code().is_none(), "sleep was killed by a signal");
        assert!(!path.exists());
    }
}
