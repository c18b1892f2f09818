//! The metric vocabulary: every family a cell records (its unit, which way is better, the label
//! reports give it, and the kind of block that produces it), the phase grammar of server and
//! client metrics (`_first`, `_warm`, `_turnK`, `_pNN`, `_reqK`), llama-bench's test names
//! (`pp512`, `tg128@d4096`, `pp512+tg128`, `#2`), the usage metrics, and the names a block is
//! said to produce. Writers compose names here and readers parse them here; it imports nothing of
//! the pipeline.

mod bench;
mod family;
mod name;
pub(crate) mod names;
mod produced;
pub(crate) mod server;
mod usage;

pub(crate) use bench::SweptSizes;
pub(crate) use bench::{BenchName, plain_depth_names, plain_size_names};
pub use family::Better;
pub(crate) use family::{Family, Kind};
pub(crate) use name::{MetricName, Phase, describe};
pub(crate) use produced::{Condition, Produced};
pub(crate) use usage::{USAGE, is_usage};
