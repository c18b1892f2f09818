//! The local executor: the walk of a plan's DAG on this host and its steps (a cell, a server
//! group's server and workloads, a llama-bench load group), with interleaved rounds and
//! `stop-after`.

mod cell_step;
mod group;
mod local;
mod quiet;
mod rounds;
mod server_step;

pub(crate) use local::LocalExecutor;
