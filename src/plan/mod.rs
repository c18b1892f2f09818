//! The plan: which cells are cached, which run and why, which are blocked; as a DAG.

mod bases;
mod decide;
mod graph;
mod load_group;
mod render;
mod schedule;
mod search;

pub(crate) use bases::settle_bases;
pub(crate) use decide::{Decision, History, PlannedCell, RunReason, Selection, decide};
pub(crate) use graph::{PlanGraph, Step, status_word};
pub(crate) use load_group::LoadGroup;
#[cfg(test)]
pub(crate) use render::describe_changes;
pub(crate) use render::{decision_words, describe_change, render_json, render_text};
pub(crate) use schedule::{ServerGroup, Work, schedule, tested_models};
pub(crate) use search::{SearchState, probe_of, settle_searches};
