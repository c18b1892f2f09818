//! Peak memory of what a cell ran: the resident set high-water mark (`VmHWM`) of each process
//! of its tree, added up. The tree is the command bakeoff started on the host, the command a
//! toolbox or distrobox container announced (those share the host's pid namespace), or what
//! conmon runs for a podman container, never the runner's own client (`toolbox run`, `podman
//! run`), whose memory is not the benchmark's.
//!
//! A process's high-water mark only grows, so sampling it every [`SAMPLE_EVERY`] misses nothing
//! but growth in the last moments before an exit. A server's mark is reset when a cell starts
//! (`clear_refs`), so its peak is that of the cell's requests, not of loading the model.

use std::collections::HashMap;
use std::time::Duration;

use crate::process::{Tree, process_start};

/// How often a running cell's processes are read: cheap (a few `/proc` files), and often
/// enough for memory that grows over seconds.
pub(super) const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How often in a cell's first seconds, while a container's processes are being found and a
/// short cell may already end.
pub(super) const SAMPLE_EARLY: Duration = Duration::from_millis(20);

/// The largest high-water mark seen of each process (by pid and start time) of a tree.
#[derive(Debug)]
pub(crate) struct PeakMemory {
    tree: Tree,
    seen: HashMap<(i32, u64), u64>,
}

impl PeakMemory {
    pub(crate) fn new(tree: Tree) -> Self {
        Self { tree, seen: HashMap::new() }
    }

    /// Reads the tree's processes now.
    pub(crate) fn sample(&mut self) {
        for pid in self.tree.processes() {
            let (Some(start), Some(mark)) = (process_start(pid), high_water_mark(pid)) else {
                continue;
            };
            let entry = self.seen.entry((pid, start)).or_default();
            *entry = (*entry).max(mark);
        }
    }

    /// Resets the high-water mark of every process of the tree to its present size (a server
    /// between two cells); later samples see only what happens from now on.
    pub(crate) fn restart(&mut self) {
        self.seen.clear();
        for pid in self.tree.processes() {
            // "5" resets the peak resident set size (proc(5), Linux 4.0 and later).
            let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        }
    }

    /// Bytes, when any process was read.
    pub(crate) fn peak(&self) -> Option<u64> {
        (!self.seen.is_empty()).then(|| self.seen.values().sum())
    }
}

/// `VmHWM` of `/proc/PID/status`, in bytes.
fn high_water_mark(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?;
    let kilobytes: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_tree_peak_adds_up_its_members() {
        // A shell that holds ~64 MiB in a child for a moment: written bytes, so that they are
        // resident (a zeroed bytearray is calloc'd and not, until touched).
        let mut child = std::process::Command::new("sh")
            .args(["-c", "python3 -c 'b = b\"x\" * (64 << 20); import time; time.sleep(0.6)'; sleep 0.2"])
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let mut memory = PeakMemory::new(Tree::Spawned(pid));
        // Regression: six samples 100 ms apart missed the allocation on a loaded machine (python
        // still starting); sampling until the shell is done does not.
        while child.try_wait().unwrap().is_none() {
            memory.sample();
            std::thread::sleep(Duration::from_millis(50));
        }
        let peak = memory.peak().unwrap();
        assert!(peak > 64 << 20, "{peak}");
        assert!(peak < 256 << 20, "{peak}");
        assert!(memory.seen.len() >= 2, "the shell and its child: {:?}", memory.seen);
    }
}
