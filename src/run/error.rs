//! What goes wrong in `run/` before a cell's own program has a say: its launch, its server's
//! start, the files its requests read. The message becomes the cell's failure reason.

use crate::process::Exit;
use crate::toolbox::LaunchError;

/// Each keeps its cause (`io::Error`, how the server ended) until it is shown.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum RunError {
    #[error("{}", .0.reason())]
    #[diagnostic(code(bakeoff::run::launch))]
    Launch(#[from] LaunchError),
    #[error("no free loopback port: {source}")]
    #[diagnostic(code(bakeoff::run::no_port))]
    NoPort {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start `{program}`: {source}")]
    #[diagnostic(code(bakeoff::run::cannot_start))]
    CannotStart {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// `tail` is the server's own error line, else its last lines, on one line. How it ended
    /// reads as every child's does (`killed by signal 9 (SIGKILL)`, `exit code 1`).
    #[error("llama-server ended ({exit}) before it was ready: {tail}")]
    #[diagnostic(code(bakeoff::run::server_exited))]
    ServerExited { exit: Exit, tail: String },
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
    #[error("cannot read `{path}`: {source}")]
    #[diagnostic(code(bakeoff::run::unreadable_input))]
    CannotRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
