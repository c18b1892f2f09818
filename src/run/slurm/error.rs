//! What goes wrong talking to Slurm's clients. A run that cannot start on the cluster ends with
//! it (`Error::Slurm`, with this variant's code and help: only finding the clients and the
//! nodes, before anything is submitted, ends a run); a client that fails while jobs run is a
//! warning and is asked again.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum SlurmError {
    #[error(
        "`{client}` is not on PATH: `--executor slurm` needs Slurm's clients (sbatch, squeue, sinfo, scontrol, \
         scancel) on the machine that runs bakeoff"
    )]
    #[diagnostic(
        code(bakeoff::slurm::client_missing),
        help(
            "nothing was submitted; `sinfo` and `squeue` should answer on this machine (`SLURM_CONF` names the cluster)"
        )
    )]
    ClientMissing { client: String },
    #[error("cannot run `{command}`: {reason}")]
    #[diagnostic(
        code(bakeoff::slurm::cannot_run),
        help(
            "nothing was submitted; `sinfo` and `squeue` should answer on this machine (`SLURM_CONF` names the cluster)"
        )
    )]
    CannotRun { command: String, reason: String },
    #[error("`{client}` did not answer within {seconds} s")]
    #[diagnostic(
        code(bakeoff::slurm::no_answer),
        help(
            "nothing was submitted; `sinfo` and `squeue` should answer on this machine (`SLURM_CONF` names the cluster)"
        )
    )]
    NoAnswer { client: String, seconds: u64 },
    /// A client ended badly; `message` is what it printed, its lines joined.
    #[error("`{client}` failed ({how}): {message}")]
    #[diagnostic(
        code(bakeoff::slurm::failed),
        help(
            "nothing was submitted; `sinfo` and `squeue` should answer on this machine (`SLURM_CONF` names the cluster)"
        )
    )]
    Failed { client: String, how: String, message: String },
    #[error("{}", match .partition {
        Some(partition) => format!("Slurm has no partition `{partition}`, or it has no nodes (`sinfo`)"),
        None => "Slurm has no default partition with nodes (`sinfo`); name one with `--partition`".to_owned(),
    })]
    #[diagnostic(
        code(bakeoff::slurm::no_nodes),
        help(
            "nothing was submitted; `sinfo` and `squeue` should answer on this machine (`SLURM_CONF` names the cluster)"
        )
    )]
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
