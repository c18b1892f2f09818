//! What a run starts outside bakeoff's own process, written down as it starts it, so that the
//! next run can stop whatever a killed run left (a llama-server still holding its model in a
//! container, the grandchildren of a cell's process group) before it measures anything.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

const FORMAT: u32 = 1;

/// One thing the run started that could outlive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Started {
    /// A process group bakeoff spawned; `start` is its leader's start time (clock ticks after
    /// boot), which tells it from a later process that got the same pid.
    Group { group: i32, start: u64, what: String },
    /// A process inside a toolbox or distrobox container, by its host pid.
    Process { pid: i32, start: u64, what: String },
    /// A named podman container.
    Container { podman: PathBuf, name: String, what: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Running {
    format: u32,
    /// The kernel's boot id: after a reboot nothing is left and pids mean other processes.
    boot_id: String,
    started: Vec<Started>,
}

/// The run's list of what it started, kept in `results/.running.json` while the run lasts.
#[derive(Debug)]
pub struct Tracker {
    path: PathBuf,
    running: Mutex<Running>,
    /// Why the list could not be written, once, for the run to show (not on stderr directly:
    /// a progress bar may be drawn there).
    warning: Mutex<Option<String>>,
}

impl Tracker {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            running: Mutex::new(Running { format: FORMAT, boot_id: boot_id(), started: Vec::new() }),
            warning: Mutex::new(None),
        }
    }

    /// A problem writing the list since the last call, if any.
    pub fn take_warning(&self) -> Option<String> {
        self.warning.lock().expect("tracker lock").take()
    }

    pub fn add(&self, started: Started) {
        let mut running = self.running.lock().expect("tracker lock");
        running.started.push(started);
        self.save(&running);
    }

    pub fn remove(&self, started: &Started) {
        let mut running = self.running.lock().expect("tracker lock");
        if let Some(index) = running.started.iter().position(|entry| entry == started) {
            running.started.remove(index);
            self.save(&running);
        }
    }

    /// Written without fsync: the file must survive bakeoff being killed, which a rename
    /// gives; after a crash of the machine nothing it lists is running any more.
    fn save(&self, running: &Running) {
        let result = if running.started.is_empty() {
            match std::fs::remove_file(&self.path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            }
        } else {
            let text = serde_json::to_vec_pretty(running).expect("the running list always serialises");
            let temporary = self.path.with_extension(format!("{}.tmp", std::process::id()));
            std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, &self.path))
        };
        if let Err(error) = result {
            // Losing the list only costs the clean-up after a killed run, not this run.
            let warning = format!(
                "warning: cannot write `{}` ({error}): a killed run's leftovers would not be found",
                self.path.display()
            );
            self.warning.lock().expect("tracker lock").get_or_insert(warning);
        }
    }
}

/// Stops whatever the run that wrote `path` left running, and removes the list. Returns one
/// line per thing stopped. Call it only while holding the results lock, so that the list is
/// not that of a run still in progress.
pub async fn stop_leftovers(path: &Path, grace: Duration) -> Vec<String> {
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
            let removed = super::podman::remove_container(podman, name, grace).await;
            removed.then(|| format!("container {name} ({what})"))
        }
    }
}

/// SIGTERM, up to `grace` for it to go, then SIGKILL.
pub(super) async fn signal_until_gone(grace: Duration, alive: impl Fn() -> bool, send: impl Fn(i32)) {
    send(libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while alive() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if alive() {
        send(libc::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(2);
        while alive() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn kill(pid: i32, signal: i32) {
    if pid != 0 && pid != -1 {
        // SAFETY: kill(2) only sends a signal; no memory is shared.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// A process's start time in clock ticks after boot (`/proc/PID/stat` field 22), or `None`
/// when there is no such process (or it is a zombie, which is as good as gone).
pub(super) fn process_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields = stat_fields(&stat)?;
    // After `pid (comm)`: state is field 3, pgrp 5, starttime 22.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The process group of `pid`.
pub(super) fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat)?.get(2)?.parse().ok()
}

/// The fields after `pid (comm)`, whose comm may hold spaces and parentheses.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// The live (not zombie) processes in process group `group`.
fn group_members(group: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| process_group(*pid) == Some(group) && process_start(*pid).is_some())
        .collect()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|id| id.trim().to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_lines_whose_command_has_spaces_and_parentheses() {
        let stat = "4242 (llama server (x)) S 1 4240 4240 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        let fields = stat_fields(stat).unwrap();
        assert_eq!(fields[0], "S");
        assert_eq!(fields[2], "4240");
        assert_eq!(fields[19], "987654");
    }

    #[test]
    fn this_process_has_a_start_time_and_a_group() {
        let pid = i32::try_from(std::process::id()).unwrap();
        assert!(process_start(pid).is_some());
        // SAFETY: getpgrp(2) has no preconditions.
        assert_eq!(process_group(pid), Some(unsafe { libc::getpgrp() }));
    }

    /// The list is gone once the last entry is removed, and back while something runs.
    #[test]
    fn the_list_exists_only_while_something_runs() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(".running.json");
        let tracker = Tracker::new(path.clone());
        let container =
            Started::Container { podman: "podman".into(), name: "bakeoff-x".to_owned(), what: "cell".to_owned() };
        tracker.add(container.clone());
        let written: Running = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(written.started, std::slice::from_ref(&container));
        tracker.remove(&container);
        assert!(!path.exists());
    }

    /// A group whose leader is gone but whose member lives is stopped; a pid that now belongs
    /// to another process (another start time) is left alone.
    #[test]
    fn stops_a_left_group_and_spares_a_reused_pid() {
        use std::os::unix::process::CommandExt;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
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
