//! The result store: `results/cells/…json` records, one per cell hash.

mod disk;
mod gc;
mod layout;
mod record;

pub use disk::{Store, StoreError};
#[cfg(test)]
pub(crate) use disk::{parse, parse_head};
pub use gc::{GcPlan, Referenced, Removal};
pub(crate) use layout::GITIGNORE;
pub use layout::{REPORT_MARKER, RESERVED, reserved_reason};
pub use record::{
    CellRecord, Failure, MetricValue, RECORD_FORMAT, RanOn, RecordHead, Round, RoundStats, SlurmJob, Status, Timings,
    over_rounds,
};
