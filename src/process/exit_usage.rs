//! What the kernel says a child used, read the moment it ends and before it is reaped: the
//! largest resident set of the child and of every descendant it waited for (`ru_maxrss`, the
//! kernel's own high-water mark, exact however short the process), and their CPU time.
//!
//! Sampling `/proc` misses a process that ends between two samples (a `sh -c` cell once
//! recorded 80 KB); the kernel's figure does not. It is read with `waitid(WNOWAIT)`, which
//! leaves the child for tokio to reap as before, from a blocking thread that the supervisor
//! waits on instead of polling tokio's `wait` first.

use std::time::Duration;

/// What a child and the descendants it waited for used, as its exit left it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ExitUsage {
    /// The largest resident set any one of them had, in bytes (not their sum: the kernel keeps
    /// a maximum over the waited-for descendants, process by process).
    pub(crate) largest_resident: u64,
    /// User and system CPU time, added up over them.
    pub(crate) cpu: Duration,
}

/// Blocks until child `pid` has ended, then reads its usage without reaping it. `None` when it
/// is not (or no longer) this process's child: someone else reaped it first.
pub(super) fn wait_without_reaping(pid: u32) -> Option<ExitUsage> {
    let pid = libc::id_t::from(pid);
    loop {
        // SAFETY: zeroed siginfo_t and rusage are valid values of these plain C structs.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: the raw waitid system call writes only into the two structs given, which
        // live until it returns; glibc's wrapper has no rusage argument, hence the syscall.
        let result = unsafe {
            libc::syscall(
                libc::SYS_waitid,
                libc::P_PID,
                pid,
                &raw mut info,
                libc::WEXITED | libc::WNOWAIT,
                &raw mut usage,
            )
        };
        if result == 0 {
            return Some(of(&usage));
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return None;
        }
    }
}

fn of(usage: &libc::rusage) -> ExitUsage {
    let time = |value: libc::timeval| {
        Duration::from_secs(u64::try_from(value.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(value.tv_usec).unwrap_or(0))
    };
    ExitUsage {
        // Linux counts `ru_maxrss` in kilobytes.
        largest_resident: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_ended_tells_its_largest_descendant_and_is_still_there_to_reap() {
        // The shell's child writes ~48 MiB and ends long before anyone could sample it.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "python3 -c 'b = b\"x\" * (48 << 20)'; true"])
            .spawn()
            .unwrap();
        let usage = wait_without_reaping(child.id()).unwrap();
        assert!(usage.largest_resident > 48 << 20, "{usage:?}");
        assert!(usage.largest_resident < 512 << 20, "{usage:?}");
        assert!(usage.cpu > Duration::ZERO, "{usage:?}");
        // Not reaped: its exit status is still there for its owner.
        assert!(child.wait().unwrap().success());
        // Reaped now: nothing to wait for.
        assert_eq!(wait_without_reaping(child.id()), None);
    }
}
