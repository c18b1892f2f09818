//! Supervising one child: its own process group, output streamed to the cell's log and kept
//! in memory, a timeout (SIGTERM to the group, a grace period, SIGKILL), and interruption.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use super::command::{Detached, Launch, PID_ANNOUNCEMENT};
use super::energy::EnergyMeter;
use super::gpu_memory::{GpuPeaks, GpuWatch};
use super::memory::{PeakMemory, SAMPLE_EARLY, SAMPLE_EVERY, Tree};
use super::process::{process_start, signal_until_gone};
use super::tracker::{Started, Tracker};

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
    /// Stopped because the user pressed Ctrl-C (or bakeoff got SIGTERM).
    Interrupted,
}

impl std::fmt::Display for Exit {
    /// `exit code 3`, `killed by signal 11 (SIGSEGV)`, `timed out`, `interrupted`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(code) => write!(formatter, "exit code {code}"),
            Self::Signal(signal) => write!(formatter, "killed by signal {}", signal_name(*signal)),
            Self::TimedOut => formatter.write_str("timed out"),
            Self::Interrupted => formatter.write_str("interrupted"),
        }
    }
}

#[derive(Debug)]
pub(crate) struct ChildResult {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    /// stdout and stderr interleaved as they arrived: what the log file holds.
    pub combined: Vec<u8>,
    pub duration: Duration,
    /// The high-water mark of the cell's process tree (see `memory`); `None` for a short
    /// question (no log) or a process gone before it was read.
    pub peak_rss_bytes: Option<u64>,
    /// Joules the host's counters say the cell used, or why they cannot; `None` for a short
    /// question.
    pub energy: Option<Result<f64, String>>,
    /// The GPU memory in use at its largest while the cell ran, where there are counters.
    pub gpu: GpuPeaks,
}

/// Stop requests: 0 = none, 1 = stop gracefully, 2 or more = kill at once.
pub(super) type StopSignal = watch::Receiver<u32>;

/// Runs `launch` to completion, writing its output to `log`; what it starts is written down
/// in `tracker` while it runs.
pub(crate) async fn supervise(
    launch: &Launch,
    log: Option<&Path>,
    timeout: Duration,
    grace: Duration,
    mut stop: StopSignal,
    tracker: Option<&Arc<Tracker>>,
) -> std::io::Result<ChildResult> {
    let started = Instant::now();
    // Cells (which have a log) are measured; short questions to other programs are not. The
    // energy counters are read before the child starts: all it uses comes after.
    let energy = log.is_some().then(EnergyMeter::start);
    let gpu = log.is_some().then(GpuWatch::start);
    let mut spawned = spawn(launch, log, tracker)?;
    let mut meters = energy.map(|energy| (PeakMemory::new(spawned.tree()), energy));
    let exit = tokio::select! {
        status = wait_sampling(&mut spawned.child, meters.as_mut()) => status_exit(status?),
        () = tokio::time::sleep(timeout) => {
            terminate(&mut spawned, grace, &mut stop).await?;
            Exit::TimedOut
        }
        () = wait_for_stop(&mut stop) => {
            terminate(&mut spawned, grace, &mut stop).await?;
            Exit::Interrupted
        }
    };
    spawned.clean_up(grace).await;
    let stdout = (&mut spawned.stdout).await.unwrap_or_default();
    let _ = (&mut spawned.stderr).await;
    let combined = std::mem::take(&mut *spawned.combined.lock().expect("output lock"));
    let (peak_rss_bytes, energy) = match meters {
        Some((memory, mut energy)) => (memory.peak(), Some(energy.joules())),
        None => (None, None),
    };
    let gpu = gpu.map(GpuWatch::finish).unwrap_or_default();
    Ok(ChildResult { exit, stdout, combined, duration: started.elapsed(), peak_rss_bytes, energy, gpu })
}

/// Waits for the child, reading its tree's memory and the power sensors meanwhile.
async fn wait_sampling(
    child: &mut tokio::process::Child,
    meters: Option<&mut (PeakMemory, EnergyMeter)>,
) -> std::io::Result<std::process::ExitStatus> {
    // A short question to another program is not measured: nothing to wake up for.
    let Some((memory, energy)) = meters else { return child.wait().await };
    let started = Instant::now();
    loop {
        memory.sample();
        energy.sample();
        let pause = if started.elapsed() < Duration::from_secs(2) { SAMPLE_EARLY } else { SAMPLE_EVERY };
        tokio::select! {
            status = child.wait() => return status,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Runs `launch` within `timeout`, its output kept in memory only: for short questions to
/// other programs (a toolbox's llama.cpp build, podman's images and containers). Killed
/// (and its container removed) when the time is up.
pub(crate) async fn capture(launch: &Launch, timeout: Duration) -> std::io::Result<ChildResult> {
    let (_never, stop) = watch::channel(0u32);
    supervise(launch, None, timeout, Duration::from_secs(2), stop, None).await
}

/// A child started in its own process group, its output streaming to a log file.
pub(super) struct Spawned {
    pub(super) child: tokio::process::Child,
    pub(super) group: i32,
    /// stdout and stderr interleaved as they arrive.
    pub(super) combined: Arc<Mutex<Vec<u8>>>,
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
    pub(super) fn tree(&self) -> Tree {
        match &self.detached {
            Detached::No => Tree::Spawned(self.group),
            Detached::AnnouncedPid => Tree::Announced(Arc::clone(&self.announced)),
            Detached::Container(name) => Tree::Container { name: name.clone(), conmon: None },
        }
    }

    /// Sends `signal` to the child's process group and to the command it runs in a container.
    pub(super) fn signal(&self, signal: i32) {
        kill_group(self.group, signal);
        if let Some((pid, start)) = *self.announced.lock().expect("announcement lock")
            && process_start(pid) == Some(start)
        {
            signal_process_tree(pid, signal);
        }
    }

    /// After the child ended: whatever it left in its group (helpers, a daemonised server), in
    /// its container (a command whose toolbox client was killed) or as a container (a killed
    /// `podman run` client) is stopped, and the tracker forgets it.
    pub(super) async fn clean_up(&mut self, grace: Duration) {
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
        if let Detached::Container(name) = &self.detached
            && killed
        {
            // Boxed: removing a container is itself a supervised (podman) child.
            Box::pin(remove_container(&self.child_program, name, grace)).await;
        }
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
pub(super) fn spawn(launch: &Launch, log: Option<&Path>, tracker: Option<&Arc<Tracker>>) -> std::io::Result<Spawned> {
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

/// Where a pid announced on stderr goes.
struct Announcement {
    announced: Arc<Mutex<Option<(i32, u64)>>>,
    tracker: Option<Arc<Tracker>>,
    what: String,
}

impl Announcement {
    /// Takes the announcement line off the front of `buffer` once it is complete: `true` when
    /// the question is settled (the line was there, or the output does not start with it).
    fn take(&self, buffer: &mut Vec<u8>) -> bool {
        let prefix = PID_ANNOUNCEMENT.as_bytes();
        let compared = buffer.len().min(prefix.len());
        if buffer[..compared] != prefix[..compared] {
            return true;
        }
        let Some(end) = buffer.iter().position(|&byte| byte == b'\n') else {
            // Not complete yet, unless it is far longer than a pid.
            return buffer.len() > prefix.len() + 24;
        };
        let pid = std::str::from_utf8(&buffer[prefix.len()..end]).ok().and_then(|text| text.trim().parse::<i32>().ok());
        if let Some(pid) = pid
            && let Some(start) = process_start(pid)
        {
            // The pid is a host pid only where the container shares the host's pid namespace;
            // a pid that is not running here is not trusted.
            *self.announced.lock().expect("announcement lock") = Some((pid, start));
            if let Some(tracker) = &self.tracker {
                tracker.add(Started::Process { pid, start, what: self.what.clone() });
            }
        }
        buffer.drain(..=end);
        true
    }
}

pub(super) async fn wait_for_stop(stop: &mut StopSignal) {
    while *stop.borrow_and_update() == 0 {
        if stop.changed().await.is_err() {
            // The sender is gone: nobody can ask for a stop any more.
            std::future::pending::<()>().await;
        }
    }
}

/// SIGTERM to the group, then SIGKILL after `grace` (or at once on a second stop request).
async fn terminate(spawned: &mut Spawned, grace: Duration, stop: &mut StopSignal) -> std::io::Result<()> {
    spawned.signal(libc::SIGTERM);
    let already = *stop.borrow();
    tokio::select! {
        status = spawned.child.wait() => { status?; }
        () = tokio::time::sleep(grace) => {}
        () = async {
            loop {
                if stop.changed().await.is_err() { std::future::pending::<()>().await; }
                if *stop.borrow() > already.max(1) { break; }
            }
        } => {}
    }
    spawned.signal(libc::SIGKILL);
    spawned.child.wait().await?;
    Ok(())
}

/// Signals `pid`, and the process group it leads if it leads one (a command in a container is
/// started as a group leader, and its helpers go with it).
fn signal_process_tree(pid: i32, signal: i32) {
    let target = if super::process::process_group(pid) == Some(pid) { -pid } else { pid };
    // SAFETY: kill(2) only sends a signal; callers checked that the pid is still the one
    // announced (by its start time).
    unsafe {
        libc::kill(target, signal);
    }
}

pub(super) fn kill_group(group: i32, signal: i32) {
    if group > 0 {
        // SAFETY: kill(2) with a negative pid signals the process group; no memory is shared.
        unsafe {
            libc::kill(-group, signal);
        }
    }
}

fn status_exit(status: std::process::ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => Exit::Code(-1),
    }
}

/// Copies one output stream into the log and the combined buffer; returns it when
/// `keep` (stdout, which llama-bench's JSON lines come on). With an `announcement`, a pid
/// announced at the start of the stream is taken out of it.
async fn pump(
    stream: Option<impl AsyncRead + Unpin>,
    combined: Arc<Mutex<Vec<u8>>>,
    log: Arc<Mutex<Option<std::fs::File>>>,
    keep: bool,
    mut announcement: Option<Announcement>,
) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut stream) = stream else { return kept };
    let mut buffer = vec![0u8; 16 * 1024];
    let mut head = Vec::new();
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let mut chunk = &buffer[..read];
        if let Some(waiting) = &announcement {
            head.extend_from_slice(chunk);
            if !waiting.take(&mut head) {
                continue;
            }
            announcement = None;
            chunk = &head;
        }
        keep_bounded(&mut combined.lock().expect("output lock"), chunk);
        if let Some(log) = log.lock().expect("log lock").as_mut() {
            // A full disk must not kill the measurement; the output is still kept in memory.
            let _ = log.write_all(chunk);
        }
        if keep {
            kept.extend_from_slice(chunk);
        }
        if announcement.is_none() {
            head.clear();
        }
    }
    if !head.is_empty() {
        // The stream ended inside what looked like an announcement: it is output after all.
        combined.lock().expect("output lock").extend_from_slice(&head);
        if let Some(log) = log.lock().expect("log lock").as_mut() {
            let _ = log.write_all(&head);
        }
    }
    kept
}

/// Output kept in memory at most (the log file has all of it): a server that runs for hours
/// logs every request.
const COMBINED_LIMIT: usize = 64 << 20;
/// What is kept of the start of the output once it is cut (where llama.cpp names its devices).
const COMBINED_HEAD: usize = 4 << 20;

/// Appends `chunk` to `combined`; past [`COMBINED_LIMIT`], the middle goes (down to half the
/// limit, so that cutting is rare), keeping the start and the newest output.
fn keep_bounded(combined: &mut Vec<u8>, chunk: &[u8]) {
    combined.extend_from_slice(chunk);
    if combined.len() > COMBINED_LIMIT {
        let excess = combined.len() - COMBINED_LIMIT / 2;
        combined.drain(COMBINED_HEAD..COMBINED_HEAD + excess);
    }
}

/// `SIGKILL`-style names for the signals a benchmark typically dies of.
pub(super) fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    format!("{signal} ({name})")
}
/// Removes the podman container `name`, stopping it first (SIGTERM, `grace`, SIGKILL): `true`
/// when there was one. The supervisor owns it because stopping a detached container is how it
/// ends a podman cell; podman's other questions build on the supervisor, not the reverse.
pub(crate) async fn remove_container(podman: &Path, name: &str, grace: Duration) -> bool {
    let seconds = grace.as_secs().to_string();
    let args = ["rm", "--force", "--time", &seconds, name].map(str::to_owned).to_vec();
    let removal = Launch::plain(podman, args);
    // podman waits up to `grace` for the container to stop, then kills it.
    matches!(capture(&removal, grace + Duration::from_secs(60)).await, Ok(ChildResult { exit: Exit::Code(0), .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_in_memory_keeps_its_start_and_its_newest_bytes() {
        let mut combined = Vec::new();
        keep_bounded(&mut combined, b"device line\n");
        let chunk = vec![b'.'; 1 << 20];
        for _ in 0..70 {
            keep_bounded(&mut combined, &chunk);
        }
        keep_bounded(&mut combined, b"last line\n");
        assert!(combined.len() <= COMBINED_LIMIT);
        assert!(combined.starts_with(b"device line\n"));
        assert!(combined.ends_with(b"last line\n"));
    }
}
