//! The pipeline every command shares, owned by the library: load manifests, probe the host,
//! inspect toolboxes and hash inputs, check the lock, expand and resolve cells, decide them
//! against the store; write the reports. Running what is to run is `run_project.rs`'s, above
//! both this room and the executors in `run/`.

mod compare;
mod gc;
mod init;
mod lock;
mod merge;
mod models;
mod page;
mod pipeline;
mod reporter;
mod run_request;
mod storage;
mod toolboxes;
mod why;

pub use compare::{COMPARE_FORMAT, Compared, Pairing, note_unhashed};
pub use init::{InitOutcome, Written, init};
pub use lock::LockUpdate;
pub use merge::keep_reports_mergeable;
pub use models::Listed;
pub use page::PageWriter;
pub use pipeline::{Loaded, Project, Settings};
pub use reporter::{Reporter, shown};
pub use run_request::{Executor, RunRequest};
pub use toolboxes::{Verdict, named};
pub use why::Why;
