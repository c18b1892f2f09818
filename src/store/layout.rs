//! The names under `results/` that are the store's: its folders, the words that mark bakeoff's
//! reports, and what git is told to ignore. A leaf, so that the manifest can ask which
//! experiment names the store reserves without depending on the store.

/// The folders of `results/` that are the store's own; an experiment's report folder takes
/// its name, so no experiment may be called one of them.
pub const RESERVED: [&str; 3] = [CELLS, LOGS, SLURM];
pub(super) const CELLS: &str = "cells";
pub(super) const LOGS: &str = "logs";
pub(super) const SLURM: &str = "slurm";

/// The file an experiment's report is, in `results/<experiment>/`: GitHub shows it as the
/// folder's page.
pub const REPORT_FILE: &str = "README.md";

/// Words every file `bakeoff report` writes carries, so that bakeoff can tell its own reports
/// and charts from files a person put beside them.
pub const REPORT_MARKER: &str = "Written by `bakeoff report`";

/// Why `name` cannot name an experiment because of the store's layout.
pub fn reserved_reason(name: &str) -> Option<String> {
    RESERVED.contains(&name).then(|| match name {
        SLURM => format!("`results/{name}/` holds the Slurm executor's job logs (and is ignored by git)"),
        _ => format!("`results/{name}/` holds the result store"),
    })
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn the_stores_folders_are_reserved_with_their_reason() {
        assert!(super::reserved_reason("slurm").unwrap().contains("Slurm executor's job logs"));
        assert!(super::reserved_reason("cells").unwrap().contains("holds the result store"));
        assert_eq!(super::reserved_reason("quickstart"), None);
    }
}
