//! The result store: `results/cells/…json` records, one per cell hash.

mod record;
mod store;

pub use record::{CellRecord, Failure, MetricValue, RECORD_FORMAT, RecordHead, Status, Timings};
pub use store::{Store, StoreError};
