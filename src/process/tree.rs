//! Where a child's processes are: the command bakeoff spawned and its descendants, the command
//! a toolbox or distrobox container announced (those share the host's pid namespace), or what
//! conmon runs for a podman container, never the runner's own client (`toolbox run`, `podman
//! run`), whose processes are not the command's.

use std::sync::{Arc, Mutex};

/// Where a child's processes are.
#[derive(Debug, Clone)]
pub(crate) enum Tree {
    /// The spawned process and its descendants (the host runner).
    Spawned(i32),
    /// The command a toolbox or distrobox container announced, once it has.
    Announced(Arc<Mutex<Option<(i32, u64)>>>),
    /// The podman container of this name: the descendants of its conmon.
    Container { name: String, conmon: Option<i32> },
}

impl Tree {
    /// The pids of the tree's processes now (a container's conmon is found once, then kept).
    pub(crate) fn processes(&mut self) -> Vec<i32> {
        match self {
            Self::Spawned(pid) => with_descendants(*pid),
            Self::Announced(announced) => {
                let pid = announced.lock().expect("announcement lock").map(|(pid, _)| pid);
                pid.map(with_descendants).unwrap_or_default()
            }
            Self::Container { name, conmon } => {
                // conmon itself is podman's monitor, not the container's work.
                let work = |pid: i32| with_descendants(pid).split_off(1);
                if let Some(pid) = *conmon {
                    let found = work(pid);
                    if !found.is_empty() {
                        return found;
                    }
                }
                // conmon forks to daemonise, and both copies have the container's name on
                // their command line: the one to follow is the one with the container under it.
                *conmon = conmons(name).into_iter().find(|&pid| !work(pid).is_empty());
                conmon.map(work).unwrap_or_default()
            }
        }
    }
}

/// `pid` and every process under it, from the kernel's per-thread `children` lists.
fn with_descendants(pid: i32) -> Vec<i32> {
    let mut found = vec![pid];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        next += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else { continue };
        for task in tasks.filter_map(Result::ok) {
            let Ok(children) = std::fs::read_to_string(task.path().join("children")) else { continue };
            found.extend(children.split_whitespace().filter_map(|child| child.parse::<i32>().ok()));
        }
        if found.len() > 10_000 {
            break;
        }
    }
    found
}

/// The conmon processes of the podman container `name` (their command line has `-n NAME`).
fn conmons(name: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let command = std::fs::read(entry.path().join("cmdline")).ok()?;
            let words: Vec<&[u8]> = command.split(|&byte| byte == 0).collect();
            let is_conmon = words.first().is_some_and(|program| program.ends_with(b"conmon"));
            let named =
                words.windows(2).any(|pair| (pair[0] == b"-n" || pair[0] == b"--name") && pair[1] == name.as_bytes());
            (is_conmon && named).then_some(pid)
        })
        .collect()
}
