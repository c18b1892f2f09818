//! What goes wrong talking to Slurm's clients. A run that cannot start on the cluster ends with
//! it (`Error::Slurm`); a client that fails while jobs run is a warning and is asked again.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub(crate) enum SlurmError {
    #[error(
        "`{client}` is not on PATH: `--executor slurm` needs Slurm's clients (sbatch, squeue, sinfo, scontrol, \
         scancel) on the machine that runs bakeoff"
    )]
    #[diagnostic(code(bakeoff::slurm::client_missing))]
    ClientMissing { client: String },
    #[error("cannot run `{command}`: {reason}")]
    #[diagnostic(code(bakeoff::slurm::cannot_run))]
    CannotRun { command: String, reason: String },
    #[error("`{client}` did not answer within {seconds} s")]
    #[diagnostic(code(bakeoff::slurm::no_answer))]
    NoAnswer { client: String, seconds: u64 },
    /// A client ended badly; `message` is what it printed, its lines joined.
    #[error("`{client}` failed ({how}): {message}")]
    #[diagnostic(code(bakeoff::slurm::failed))]
    Failed { client: String, how: String, message: String },
    #[error("{}", match .partition {
        Some(partition) => format!("Slurm has no partition `{partition}`, or it has no nodes (`sinfo`)"),
        None => "Slurm has no default partition with nodes (`sinfo`); name one with `--partition`".to_owned(),
    })]
    #[diagnostic(code(bakeoff::slurm::no_nodes))]
    NoNodes { partition: Option<String> },
}

impl SlurmError {
    /// What the client printed, where it printed anything (Slurm's own words are matched to
    /// tell a refusal from a failure).
    pub(super) fn message(&self) -> &str {
        match self {
            Self::Failed { message, .. } => message,
            _ => "",
        }
    }
}
