//! The process layer: starting and supervising children (each in its own process group, with a
//! time limit, TERM → grace → KILL, reaped), the list of what a run started and the clean-up of
//! what a killed one left, and short questions to other programs. It knows nothing of the
//! pipeline: inspection, realisation, host probes and the run all go through it, and what
//! measures a child plugs in as a [`Sampler`].

mod ask;
mod command;
mod exit;
mod exit_usage;
mod leftovers;
mod output;
mod pids;
mod runtime;
mod sampler;
mod signal;
mod spawned;
mod supervisor;
mod tool_output;
mod tracker;
mod tree;

pub(crate) use ask::ask;
pub(crate) use command::{Detached, Launch, PID_ANNOUNCEMENT};
pub(crate) use exit::{Exit, status_exit};
pub(crate) use exit_usage::ExitUsage;
pub(crate) use leftovers::stop_leftovers;
pub(crate) use pids::{cpu_ticks, process_start};
pub(crate) use runtime::runtime;
pub(crate) use sampler::Sampler;
pub(crate) use signal::{Interrupts, kill_group, signal_name};
pub(crate) use spawned::{Spawned, spawn};
pub(crate) use supervisor::{ChildResult, StopSignal, capture, reap, remove_container, supervise, wait_for_stop};
pub(crate) use tool_output::{error_line, last_line};
pub(crate) use tracker::Tracker;
pub(crate) use tree::Tree;
