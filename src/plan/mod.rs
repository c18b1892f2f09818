//! The plan: which cells are cached, which run and why, which are blocked; as a DAG.

mod decide;
mod graph;
mod load_group;
mod render;
mod schedule;

pub use decide::{Decision, History, PlannedCell, RunReason, Selection, Summary, UnmatchedSelector, decide};
pub use graph::{PlanGraph, Step, status_word};
pub use load_group::LoadGroup;
pub use render::{HASH_SHOWN, describe_change, describe_changes, render_json, render_text};
pub use schedule::{ServerGroup, Work, schedule, tested_models};
