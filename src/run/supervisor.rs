//! Supervising one child: its own process group, output streamed to the cell's log and kept
//! in memory, a timeout (SIGTERM to the group, a grace period, SIGKILL), and interruption.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use super::launch::Launch;

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
    /// Stopped because the user pressed Ctrl-C (or bakeoff got SIGTERM).
    Interrupted,
}

#[derive(Debug)]
pub struct ChildResult {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    /// stdout and stderr interleaved as they arrived: what the log file holds.
    pub combined: Vec<u8>,
    pub duration: Duration,
}

/// Stop requests: 0 = none, 1 = stop gracefully, 2 or more = kill at once.
pub(super) type StopSignal = watch::Receiver<u32>;

/// Runs `launch` to completion, writing its output to `log`.
pub async fn supervise(
    launch: &Launch,
    log: &Path,
    timeout: Duration,
    grace: Duration,
    mut stop: StopSignal,
) -> std::io::Result<ChildResult> {
    let started = Instant::now();
    let Spawned { mut child, group, combined, stdout: stdout_reader, stderr: stderr_reader } = spawn(launch, log)?;
    let exit = tokio::select! {
        status = child.wait() => status_exit(status?),
        () = tokio::time::sleep(timeout) => {
            terminate(&mut child, group, grace, &mut stop).await?;
            Exit::TimedOut
        }
        () = wait_for_stop(&mut stop) => {
            terminate(&mut child, group, grace, &mut stop).await?;
            Exit::Interrupted
        }
    };
    // Whatever the child left in its group (helpers, a daemonised server) goes with it.
    kill_group(group, libc::SIGKILL);
    let stdout = stdout_reader.await.unwrap_or_default();
    let _ = stderr_reader.await;
    let combined = std::mem::take(&mut *combined.lock().expect("output lock"));
    Ok(ChildResult { exit, stdout, combined, duration: started.elapsed() })
}

/// A child started in its own process group, its output streaming to a log file.
pub(super) struct Spawned {
    pub(super) child: tokio::process::Child,
    pub(super) group: i32,
    /// stdout and stderr interleaved as they arrive.
    pub(super) combined: Arc<Mutex<Vec<u8>>>,
    pub(super) stdout: tokio::task::JoinHandle<Vec<u8>>,
    pub(super) stderr: tokio::task::JoinHandle<Vec<u8>>,
}

/// Starts `launch` in its own process group, dying with bakeoff, output appended to `log`.
pub(super) fn spawn(launch: &Launch, log: &Path) -> std::io::Result<Spawned> {
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let log_file = Arc::new(Mutex::new(std::fs::File::create(log)?));
    writeln!(log_file.lock().expect("log lock"), "$ {}", launch.display())?;
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
    let combined = Arc::new(Mutex::new(Vec::new()));
    let stdout = tokio::spawn(pump(child.stdout.take(), Arc::clone(&combined), Arc::clone(&log_file), true));
    let stderr = tokio::spawn(pump(child.stderr.take(), Arc::clone(&combined), Arc::clone(&log_file), false));
    Ok(Spawned { child, group, combined, stdout, stderr })
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
async fn terminate(
    child: &mut tokio::process::Child,
    group: i32,
    grace: Duration,
    stop: &mut StopSignal,
) -> std::io::Result<()> {
    kill_group(group, libc::SIGTERM);
    let already = *stop.borrow();
    tokio::select! {
        status = child.wait() => { status?; }
        () = tokio::time::sleep(grace) => {}
        () = async {
            loop {
                if stop.changed().await.is_err() { std::future::pending::<()>().await; }
                if *stop.borrow() > already.max(1) { break; }
            }
        } => {}
    }
    kill_group(group, libc::SIGKILL);
    child.wait().await?;
    Ok(())
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
/// `keep` (stdout, which llama-bench's JSON lines come on).
async fn pump(
    stream: Option<impl AsyncRead + Unpin>,
    combined: Arc<Mutex<Vec<u8>>>,
    log: Arc<Mutex<std::fs::File>>,
    keep: bool,
) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut stream) = stream else { return kept };
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        combined.lock().expect("output lock").extend_from_slice(chunk);
        // A full disk must not kill the measurement; the output is still kept in memory.
        let _ = log.lock().expect("log lock").write_all(chunk);
        if keep {
            kept.extend_from_slice(chunk);
        }
    }
    kept
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
