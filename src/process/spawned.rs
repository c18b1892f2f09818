//! Starting a child: its own process group, dying with bakeoff, its output streaming to a log;
//! and cleaning up after it: what it left in its group, its container, or as a container.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::command::{Detached, Launch};
use super::output::{Announcement, pump};
use super::pids::process_start;
use super::signal::{kill_group, signal_process_tree, signal_until_gone};
use super::tracker::{Started, Tracker};
use super::tree::Tree;

/// A child started in its own process group, its output streaming to a log file.
pub(crate) struct Spawned {
    pub(crate) child: tokio::process::Child,
    pub(super) group: i32,
    /// stdout and stderr interleaved as they arrive.
    pub(crate) combined: Arc<Mutex<Vec<u8>>>,
    pub(super) stdout: tokio::task::JoinHandle<Vec<u8>>,
    pub(super) stderr: tokio::task::JoinHandle<Vec<u8>>,
    detached: Detached,
    /// The pid (and its start time) a command in a toolbox or distrobox container announced.
    announced: Arc<Mutex<Option<(i32, u64)>>>,
    tracker: Option<Arc<Tracker>>,
    /// What `tracker` was told about this child, to take back once it is cleaned up.
    tracked: Vec<Started>,
    what: String,
    child_program: std::path::PathBuf,
}

impl Spawned {
    /// Where the processes that do the child's work are.
    pub(crate) fn tree(&self) -> Tree {
        match &self.detached {
            Detached::No => Tree::Spawned(self.group),
            Detached::AnnouncedPid => Tree::Announced(Arc::clone(&self.announced)),
            Detached::Container(name) => Tree::Container { name: name.clone(), conmon: None },
        }
    }

    /// Sends `signal` to the child's process group and to the command it runs in a container.
    pub(crate) fn signal(&self, signal: i32) {
        kill_group(self.group, signal);
        if let Some((pid, start)) = *self.announced.lock().expect("announcement lock")
            && process_start(pid) == Some(start)
        {
            signal_process_tree(pid, signal);
        }
    }

    /// After the child ended: whatever it left in its group (helpers, a daemonised server) or
    /// in its container (a command whose toolbox client was killed) is stopped. Returns the
    /// container a killed `podman run` client left, for the supervisor to remove (removing it
    /// is a supervised child of its own).
    pub(super) async fn stop_what_is_left(&mut self, grace: Duration) -> Option<&str> {
        kill_group(self.group, libc::SIGKILL);
        let announced = *self.announced.lock().expect("announcement lock");
        if let Some((pid, start)) = announced
            && process_start(pid) == Some(start)
        {
            let send = |signal| signal_process_tree(pid, signal);
            signal_until_gone(grace, || process_start(pid) == Some(start), send).await;
        }
        // `podman run --rm` removes its container when it sees it exit; a client that was
        // killed first leaves it.
        let killed = self.killed();
        match &self.detached {
            Detached::Container(name) if killed => Some(name),
            _ => None,
        }
    }

    /// The podman (or other runner) that started the child.
    pub(super) fn program(&self) -> &Path {
        &self.child_program
    }

    /// Once all the child left is gone: the tracker forgets it.
    pub(super) fn forget(&mut self) {
        let announced = *self.announced.lock().expect("announcement lock");
        if let Some(tracker) = &self.tracker {
            for started in self.tracked.drain(..) {
                tracker.remove(&started);
            }
            let announced = announced.map(|(pid, start)| Started::Process { pid, start, what: self.what.clone() });
            if let Some(announced) = announced {
                tracker.remove(&announced);
            }
        }
    }

    fn killed(&mut self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.child.try_wait().ok().flatten().is_none_or(|status| status.signal().is_some())
    }
}

/// Starts `launch` in its own process group, dying with bakeoff, output appended to `log`.
pub(crate) fn spawn(launch: &Launch, log: Option<&Path>, tracker: Option<&Arc<Tracker>>) -> std::io::Result<Spawned> {
    let log_file = match log {
        Some(log) => {
            if let Some(parent) = log.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut file = std::fs::File::create(log)?;
            writeln!(file, "$ {}", launch.display())?;
            Some(file)
        }
        None => None,
    };
    let log_file = Arc::new(Mutex::new(log_file));
    let mut command = tokio::process::Command::new(&launch.program);
    command
        .args(&launch.args)
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(dir) = &launch.dir {
        command.current_dir(dir);
    }
    crate::storage::for_container_tool(&mut command, &launch.program);
    // SAFETY: the closure runs in the forked child before exec and only calls prctl, which is
    // async-signal-safe. It makes the kernel kill the child if bakeoff itself dies (even by
    // SIGKILL), so no benchmark is left running unsupervised.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let group = child.id().and_then(|pid| i32::try_from(pid).ok()).unwrap_or(0);
    let command = launch.command();
    let what = if command.chars().count() > 120 {
        format!("{}…", command.chars().take(120).collect::<String>())
    } else {
        command
    };
    let mut tracked = Vec::new();
    if let Some(tracker) = tracker {
        if let Some(start) = process_start(group) {
            tracked.push(Started::Group { group, start, what: what.clone() });
        }
        if let Detached::Container(name) = &launch.detached {
            tracked.push(Started::Container { podman: launch.program.clone(), name: name.clone(), what: what.clone() });
        }
        for started in &tracked {
            tracker.add(started.clone());
        }
    }
    let announced = Arc::new(Mutex::new(None));
    let announcement = (launch.detached == Detached::AnnouncedPid).then(|| Announcement {
        announced: Arc::clone(&announced),
        tracker: tracker.cloned(),
        what: what.clone(),
    });
    let combined = Arc::new(Mutex::new(Vec::new()));
    let stdout = tokio::spawn(pump(child.stdout.take(), Arc::clone(&combined), Arc::clone(&log_file), true, None));
    let stderr =
        tokio::spawn(pump(child.stderr.take(), Arc::clone(&combined), Arc::clone(&log_file), false, announcement));
    Ok(Spawned {
        child,
        group,
        combined,
        stdout,
        stderr,
        detached: launch.detached.clone(),
        announced,
        tracker: tracker.cloned(),
        tracked,
        what,
        child_program: launch.program.clone(),
    })
}
