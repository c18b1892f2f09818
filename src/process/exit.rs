//! How a child ended: its exit code, the signal that killed it, or the time limit or a stop
//! request that ended it.

use super::signal::signal_name;

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

pub(crate) fn status_exit(status: std::process::ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => Exit::Code(-1),
    }
}
