//! Running a plan on a Slurm cluster. Each unit of work (a cell, a llama-bench load group, a
//! server group with its cells) becomes one `sbatch --exclusive` job that runs bakeoff itself
//! on the node over the shared checkout (`bakeoff run … --only-key K… --slurm-job`): the node
//! probes its own facts, inspects its own toolboxes, measures, and writes its records into the
//! one store. This side submits, polls `squeue`, follows each job's log
//! (`results/slurm/JOBID.jsonl`) into the progress output and the reports, turns a job that
//! ended badly into its cells' failures, resubmits as `retries` allow, and cancels its jobs on
//! Ctrl-C.
//!
//! `executor` holds the run's state and walks the work into jobs (`submit`); `follow` polls them
//! and reads their logs; `settle` turns a job that ended into its cells' results; `hold` keeps
//! `stop-after` across jobs; `ledger` remembers what was submitted, so a killed dispatcher's
//! jobs are stopped by the next run.

mod commands;
mod error;
mod executor;
mod follow;
mod hold;
mod job_log;
mod ledger;
mod settle;
mod submit;

pub(crate) use self::error::SlurmError;
pub(crate) use self::executor::SlurmExecutor;
pub(crate) use self::job_log::JobLog;
pub(crate) use self::ledger::stop_leftover_jobs;
