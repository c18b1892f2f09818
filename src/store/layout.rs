//! The names under `results/` that are the store's: its folders (in `reserved`, below the
//! manifest, which refuses them as experiment names), the words that mark bakeoff's reports,
//! and what git is told to ignore.

pub(super) use crate::reserved::{BASES, CELLS, LOGS, RESERVED, SLURM};

/// The file an experiment's report is, in `results/<experiment>/`: GitHub shows it as the
/// folder's page.
pub const REPORT_FILE: &str = "README.md";

/// Words every file `bakeoff report` writes carries, so that bakeoff can tell its own reports
/// and charts from files a person put beside them.
pub const REPORT_MARKER: &str = "Written by `bakeoff report`";

/// What `results/.gitignore` holds when bakeoff writes it: everything under `results/` that is
/// not a record, a report or a chart.
pub(crate) const GITIGNORE: &str = "\
# Written by bakeoff: what a run leaves beside its results. Records (cells/), reports and
# charts are checked in; these are not.
logs/
.lock
.running.json
.running-*.json
.*.tmp
";

/// What `results/slurm/.gitignore` holds: everything there is a cluster's scratch.
pub(super) const SLURM_GITIGNORE: &str = "# Slurm job logs and outputs, written by bakeoff: not results.\n*\n";

/// What `results/bases/.gitignore` holds: base logits are large, and made again where missing.
pub(super) const BASES_GITIGNORE: &str =
    "# Quality reference logits, written by bakeoff: hundreds of MB each, made again when missing.\n*\n";
