//! The result store: `results/cells/…json` records, one per cell hash.

mod disk;
mod gc;
mod record;

pub(crate) use disk::GITIGNORE;
pub use disk::{REPORT_MARKER, RESERVED, Store, StoreError, reserved_reason};
#[cfg(test)]
pub(crate) use disk::{parse, parse_head};
pub use gc::{GcPlan, Referenced, Removal};
pub use record::{
    CellRecord, Failure, MetricValue, RECORD_FORMAT, RecordHead, Round, RoundStats, SlurmJob, Status, Timings,
    over_rounds, plain_depth_names,
};
