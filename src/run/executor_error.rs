//! What ends a run before its cells are done, as an executor returns it: a record the store
//! refused, Slurm's clients not answering, a file or the async runtime that cannot be had. The
//! top-level error keeps each one's variant and code.

use super::slurm::SlurmError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum ExecutorError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Slurm(#[from] SlurmError),
    #[error("{what}")]
    #[diagnostic(code(bakeoff::io))]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}
