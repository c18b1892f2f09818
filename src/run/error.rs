//! What goes wrong in `run/` before a cell's own program has a say: its launch, its server's
//! start, the files its requests read. The message becomes the cell's failure reason.

use crate::toolbox::LaunchError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub(crate) enum RunError {
    #[error("{}", .0.reason())]
    #[diagnostic(code(bakeoff::run::launch))]
    Launch(#[from] LaunchError),
    #[error("no free loopback port: {reason}")]
    #[diagnostic(code(bakeoff::run::no_port))]
    NoPort { reason: String },
    #[error("cannot start `{program}`: {reason}")]
    #[diagnostic(code(bakeoff::run::cannot_start))]
    CannotStart { program: String, reason: String },
    /// `tail` is the server's last lines, on one line.
    #[error("llama-server exited ({status}) before it was ready: {tail}")]
    #[diagnostic(code(bakeoff::run::server_exited))]
    ServerExited { status: String, tail: String },
    #[error("llama-server was not ready after {seconds} s: {tail}")]
    #[diagnostic(code(bakeoff::run::server_not_ready))]
    ServerNotReady { seconds: u64, tail: String },
    /// It started, on another backend than its toolbox declares (`ran_on` says what).
    #[error("{reason}")]
    #[diagnostic(code(bakeoff::run::wrong_backend))]
    WrongBackend { reason: String, ran_on: Option<Box<crate::store::RanOn>> },
    #[error("its llama-server was never started")]
    #[diagnostic(code(bakeoff::run::server_never_started))]
    ServerNeverStarted,
    /// A file a request reads (`prompt-file`, `system-file`).
    #[error("cannot read `{path}`: {reason}")]
    #[diagnostic(code(bakeoff::run::unreadable_input))]
    CannotRead { path: String, reason: String },
}
