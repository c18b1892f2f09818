//! Names that act as axes though no matrix declares them: a report table's `rows="workload"`,
//! `columns="host"`, and `--only workload=NAME`.

/// Each cell's workload (`bench`, a server workload's name, `command`).
pub const WORKLOAD: &str = "workload";
/// The machine a record was measured on (its label), when results of several hosts are shown.
pub const HOST: &str = "host";

/// Whether `name` is one of the pseudo-axes.
pub fn is_pseudo_axis(name: &str) -> bool {
    name == WORKLOAD || name == HOST
}
