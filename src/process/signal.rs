//! Signals: sending them to a process, its group or its tree, stopping with SIGTERM, a grace
//! period, then SIGKILL, the names a person knows them by, and hearing Ctrl-C and SIGTERM.

use std::time::{Duration, Instant};

use super::pids::process_group;

/// Ctrl-C and SIGTERM sent to bakeoff, heard from the moment this is made (until then, either
/// would end the process outright).
pub(crate) struct Interrupts {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Interrupts {
    /// Registers the handlers; needs a running tokio runtime.
    pub(crate) fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }

    /// The next of them to come: `SIGINT` or `SIGTERM`.
    pub(crate) async fn next(&mut self) -> i32 {
        tokio::select! {
            _ = self.interrupt.recv() => libc::SIGINT,
            _ = self.terminate.recv() => libc::SIGTERM,
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

pub(super) fn kill(pid: i32, signal: i32) {
    if pid != 0 && pid != -1 {
        // SAFETY: kill(2) only sends a signal; no memory is shared.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Signals `pid`, and the process group it leads if it leads one (a command in a container is
/// started as a group leader, and its helpers go with it).
pub(super) fn signal_process_tree(pid: i32, signal: i32) {
    let target = if process_group(pid) == Some(pid) { -pid } else { pid };
    // SAFETY: kill(2) only sends a signal; callers checked that the pid is still the one
    // announced (by its start time).
    unsafe {
        libc::kill(target, signal);
    }
}

pub(crate) fn kill_group(group: i32, signal: i32) {
    if group > 0 {
        // SAFETY: kill(2) with a negative pid signals the process group; no memory is shared.
        unsafe {
            libc::kill(-group, signal);
        }
    }
}

/// `SIGKILL`-style names for the signals a benchmark typically dies of.
pub(crate) fn signal_name(signal: i32) -> String {
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
