//! The top-level error and its documented exit codes.

use crate::host::HostFactsError;
use crate::lock::LockError;
use crate::manifest::LoadError;
use crate::run::{ExecutorError, SlurmError};
use crate::store::StoreError;

/// Exit codes, documented in README.md.
pub mod exit {
    pub const SUCCESS: i32 = 0;
    /// Something failed while working: I/O, a corrupt record, a run problem.
    pub const FAILURE: i32 = 1;
    /// The manifests or the command line are wrong; nothing was run.
    pub const INVALID: i32 = 2;
    /// An input differs from `bakeoff.lock`; nothing was run.
    pub const LOCK_MISMATCH: i32 = 3;
    /// The run finished, and some cells failed or timed out (their results are recorded).
    pub const CELLS_FAILED: i32 = 4;
    /// The run was interrupted by Ctrl-C (SIGINT); finished cells are recorded. Another signal
    /// gives 128 + its number (SIGTERM: 143).
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] LoadError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    HostFacts(#[from] HostFactsError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] LockError),
    #[error("{} input(s) differ from bakeoff.lock", .0.len())]
    #[diagnostic(
        code(bakeoff::lock::mismatch),
        help("nothing was run; accept the new inputs with `bakeoff lock`, or restore the locked files")
    )]
    LockMismatches(#[related] Vec<LockError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] StoreError),
    #[error("unknown experiment `{name}`")]
    #[diagnostic(code(bakeoff::project::unknown_experiment))]
    UnknownExperiment {
        name: String,
        #[help]
        help: String,
    },
    #[error("no experiments found under `{directory}`")]
    #[diagnostic(
        code(bakeoff::project::no_experiments),
        help("create `experiments/NAME.kdl`, name manifest files on the command line, or pass `-C DIR`")
    )]
    NoExperiments { directory: String },
    #[error("no model root is set")]
    #[diagnostic(
        code(bakeoff::project::no_model_roots),
        help("pass `--models DIR` (repeatable) or set BAKEOFF_MODELS=dir1:dir2")
    )]
    NoModelRoots,
    #[error("no cell matches `{query}`")]
    #[diagnostic(code(bakeoff::project::unknown_cell))]
    UnknownCell {
        query: String,
        #[help]
        help: String,
    },
    #[error("`{query}` matches {count} cells")]
    #[diagnostic(code(bakeoff::project::ambiguous_cell))]
    AmbiguousCell {
        query: String,
        count: usize,
        #[help]
        help: String,
    },
    #[error("no host with results is called `{name}`")]
    #[diagnostic(code(bakeoff::project::unknown_host))]
    UnknownHost {
        name: String,
        #[help]
        help: String,
    },
    #[error("nothing to compare: no two hosts have results of {experiments}")]
    #[diagnostic(
        code(bakeoff::compare::one_host),
        help(
            "run `bakeoff reproduce EXPERIMENT` on another machine with this checkout, then merge its results/ here (records of different hosts never share a file)"
        )
    )]
    NothingToCompare { experiments: String },
    #[error("unknown toolbox `{name}`")]
    #[diagnostic(code(bakeoff::project::unknown_toolbox))]
    UnknownToolbox {
        name: String,
        #[help]
        help: String,
    },
    #[error("{count} toolbox(es) could not be realised")]
    #[diagnostic(
        code(bakeoff::toolbox::not_realised),
        help("each failure is printed above with its reason; `bakeoff toolbox status` shows what is there")
    )]
    NotRealised { count: usize },
    #[error("`{text}` is not an `axis=value` selector")]
    #[diagnostic(code(bakeoff::cli::bad_selector), help("write e.g. `--only toolbox=llama-rocm-*`"))]
    BadSelector { text: String },
    #[error("{message}")]
    #[diagnostic(code(bakeoff::cli::usage))]
    Usage { message: String },
    /// The storage root cannot be used, or `storage "strict"` finds what lies outside it.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("{message}")]
    #[diagnostic(code(bakeoff::plan::unmatched_selector))]
    UnmatchedSelector {
        message: String,
        #[help]
        help: String,
    },
    /// Slurm's clients could not be asked before anything was submitted.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Slurm(#[from] SlurmError),
    #[error("{count} cell(s) failed")]
    #[diagnostic(
        code(bakeoff::run::cells_failed),
        help(
            "each failure is recorded with its reason and log tail; full logs are in `{logs}`; rerun them with `--retry-failed`"
        )
    )]
    CellsFailed { count: usize, logs: String },
    #[error("interrupted")]
    #[diagnostic(
        code(bakeoff::run::interrupted),
        help("finished cells are recorded; `bakeoff run` again runs the rest")
    )]
    Interrupted {
        /// The signal that stopped the run (SIGINT for Ctrl-C, SIGTERM).
        signal: i32,
    },
    /// The client a capture session ran exited with `code`; bakeoff exits with it too.
    #[error("the client `{program}` exited with {code}")]
    #[diagnostic(code(bakeoff::capture::client_failed), help("the trace holds the requests it made before it ended"))]
    ClientFailed { program: String, code: i32 },
    #[error("{what}")]
    #[diagnostic(code(bakeoff::io))]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Manifest(_)
            | Self::UnknownExperiment { .. }
            | Self::NoExperiments { .. }
            | Self::UnknownCell { .. }
            | Self::AmbiguousCell { .. }
            | Self::BadSelector { .. }
            | Self::UnmatchedSelector { .. }
            | Self::Usage { .. }
            | Self::Storage(_)
            | Self::UnknownHost { .. }
            | Self::UnknownToolbox { .. }
            | Self::NoModelRoots => exit::INVALID,
            Self::LockMismatches(_)
            | Self::Lock(LockError::ModelMismatch { .. } | LockError::ToolboxMismatch { .. }) => exit::LOCK_MISMATCH,
            Self::CellsFailed { .. } => exit::CELLS_FAILED,
            Self::ClientFailed { code, .. } => *code,
            // 128 + the signal, as a shell reports a process the signal killed.
            Self::Interrupted { signal } => 128 + signal,
            _ => exit::FAILURE,
        }
    }
}

/// An executor's failure keeps its stage's variant (and so its code and exit code).
impl From<ExecutorError> for Error {
    fn from(error: ExecutorError) -> Self {
        match error {
            ExecutorError::Store(error) => Self::Store(error),
            ExecutorError::Slurm(error) => Self::Slurm(error),
            ExecutorError::Io { what, source } => Self::Io { what, source },
        }
    }
}
