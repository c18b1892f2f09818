//! The result store: `results/cells/…json` records, one per cell hash.

mod disk;
mod gc;
mod journal;
mod layout;
mod record;
mod run_lock;

pub use disk::{Store, StoreError};
#[cfg(test)]
pub(crate) use disk::{parse, parse_head};
pub use gc::{GcPlan, Referenced, Removal};
pub(crate) use journal::now_unix_ms;
pub use journal::{Entry, Happened, Journal, read_journal};
pub(crate) use layout::GITIGNORE;
pub use layout::{REPORT_FILE, REPORT_MARKER};
pub use record::{
    CellRecord, Failure, MetricValue, RECORD_FORMAT, RanOn, RecordHead, Round, RoundStats, SlurmJob, Status, Timings,
    over_rounds,
};
pub(crate) use run_lock::{RunLock, acquire};
