//! The result store: `results/cells/…json` records, one per cell hash.

mod disk;
mod record;

pub(crate) use disk::GITIGNORE;
pub use disk::{Store, StoreError};
#[cfg(test)]
pub(crate) use disk::{parse, parse_head};
pub use record::{
    CellRecord, Failure, MetricValue, RECORD_FORMAT, RecordHead, Round, RoundStats, SlurmJob, Status, Timings,
    over_rounds, plain_depth_names,
};
