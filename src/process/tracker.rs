//! The run's list of what it starts outside bakeoff's own process (process groups, processes in
//! toolbox containers, podman containers), written down as it starts them, so that the next
//! run can stop what a killed one left.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::pids::boot_id;
use crate::notice::Notice;

const FORMAT: u32 = 1;

/// One thing the run started that could outlive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum Started {
    /// A process group bakeoff spawned; `start` is its leader's start time (clock ticks after
    /// boot), which tells it from a later process that got the same pid.
    Group { group: i32, start: u64, what: String },
    /// A process inside a toolbox or distrobox container, by its host pid.
    Process { pid: i32, start: u64, what: String },
    /// A named podman container.
    Container { podman: PathBuf, name: String, what: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Running {
    pub(super) format: u32,
    /// The kernel's boot id: after a reboot nothing is left and pids mean other processes.
    pub(super) boot_id: String,
    pub(super) started: Vec<Started>,
}

/// The run's list of what it started, kept in `results/.running.json` while the run lasts.
#[derive(Debug)]
pub(crate) struct Tracker {
    path: PathBuf,
    running: Mutex<Running>,
    /// Why the list could not be written, once, for the run to show (not on stderr directly:
    /// a progress bar may be drawn there).
    warning: Mutex<Option<Notice>>,
}

impl Tracker {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            running: Mutex::new(Running { format: FORMAT, boot_id: boot_id(), started: Vec::new() }),
            warning: Mutex::new(None),
        }
    }

    /// A problem writing the list since the last call, if any.
    pub(crate) fn take_warning(&self) -> Option<Notice> {
        self.warning.lock().expect("tracker lock").take()
    }

    pub(crate) fn add(&self, started: Started) {
        let mut running = self.running.lock().expect("tracker lock");
        running.started.push(started);
        self.save(&running);
    }

    pub(crate) fn remove(&self, started: &Started) {
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
            let warning = Notice::warning(format!(
                "cannot write `{}` ({error}): a killed run's leftovers would not be found",
                self.path.display()
            ));
            self.warning.lock().expect("tracker lock").get_or_insert(warning);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
