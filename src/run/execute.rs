//! Running the planned cells one at a time on this host, recording each result as it lands.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::launch::{Mounts, launch};
use super::metrics::{bench_metrics, command_metrics};
use super::progress::Progress;
use super::supervisor::{ChildResult, Exit, StopSignal, signal_name, supervise};
use crate::fingerprint::ResolvedCell;
use crate::host::HostFacts;
use crate::manifest::Manifests;
use crate::plan::{Decision, PlannedCell};
use crate::store::{CellRecord, Failure, MetricValue, Status, Store, StoreError};

/// Seconds a cell may take when its experiment sets no `timeout`.
pub const DEFAULT_TIMEOUT: u64 = 3600;
const LOG_TAIL_LINES: usize = 20;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Between SIGTERM and SIGKILL when a cell times out or is interrupted.
    pub grace: Duration,
    pub progress_bars: bool,
    /// Expected milliseconds per cell hash, from earlier results of the same or similar cells.
    pub estimates: std::collections::HashMap<String, u64>,
}

/// What a run did, for the summary line and the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub cells: usize,
    pub ok: usize,
    pub failed: usize,
    pub cached: usize,
    pub blocked: usize,
    pub failed_before: usize,
    /// Server workloads, which this version plans but does not run yet.
    pub skipped: usize,
    pub interrupted: bool,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} {}: {} ran ({} ok, {} failed), {} cached, {} blocked",
            self.cells,
            if self.cells == 1 { "cell" } else { "cells" },
            self.ok + self.failed,
            self.ok,
            self.failed,
            self.cached,
            self.blocked
        )?;
        if self.failed_before > 0 {
            write!(formatter, ", {} failed before", self.failed_before)?;
        }
        if self.skipped > 0 {
            write!(formatter, ", {} not run (server workloads come in a later version)", self.skipped)?;
        }
        if self.interrupted {
            formatter.write_str(", interrupted")?;
        }
        Ok(())
    }
}

pub struct Executor<'a> {
    pub manifests: &'a Manifests,
    pub host: &'a HostFacts,
    pub store: &'a Store,
    pub mounts: Mounts,
    pub options: RunOptions,
}

impl Executor<'_> {
    /// Runs every cell the plan says will run; Ctrl-C stops the cell in flight (a second one
    /// kills it at once) and ends the run, keeping every result already recorded.
    pub fn run(&self, planned: &[PlannedCell]) -> Result<RunSummary, crate::Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| crate::Error::Io { what: "cannot start the async runtime".to_owned(), source })?;
        runtime.block_on(async {
            let (stop_sender, stop) = watch::channel(0u32);
            let signals = tokio::spawn(forward_signals(stop_sender));
            let summary = self.run_all(planned, stop).await;
            signals.abort();
            Ok(summary?)
        })
    }

    async fn run_all(&self, planned: &[PlannedCell], stop: StopSignal) -> Result<RunSummary, StoreError> {
        let mut summary = RunSummary { cells: planned.len(), ..RunSummary::default() };
        let estimates = planned
            .iter()
            .filter(|cell| matches!(cell.decision, Decision::Run(_)))
            .map(|cell| self.options.estimates.get(&cell.cell.hash).copied())
            .collect();
        let mut progress = Progress::new(estimates, self.options.progress_bars);
        for cell in planned {
            match &cell.decision {
                Decision::Cached => summary.cached += 1,
                Decision::FailedBefore { .. } => summary.failed_before += 1,
                Decision::Blocked { reasons } => {
                    summary.blocked += 1;
                    self.record_blocked(&cell.cell, reasons)?;
                }
                Decision::Run(_) => {
                    if *stop.borrow() > 0 {
                        summary.interrupted = true;
                        break;
                    }
                    if !matches!(cell.cell.cell.workload.as_str(), "bench" | "command") {
                        summary.skipped += 1;
                        progress
                            .finish(&format!("not run  {}: server workloads come in a later version", cell.cell.id));
                        continue;
                    }
                    match self.run_cell(&cell.cell, &mut progress, stop.clone()).await? {
                        Some(Status::Ok) => summary.ok += 1,
                        Some(_) => summary.failed += 1,
                        None => {
                            summary.interrupted = true;
                            progress.note(&format!("interrupted {}: no result recorded", cell.cell.id));
                            break;
                        }
                    }
                }
            }
        }
        progress.close();
        Ok(summary)
    }

    fn record_blocked(&self, cell: &ResolvedCell, reasons: &[String]) -> Result<(), StoreError> {
        if self.store.head(&cell.hash)?.is_some() {
            return Ok(());
        }
        let mut record = CellRecord::new(cell, self.host, Status::Blocked);
        record.attempts = 0;
        record.failure =
            Some(Failure { reason: reasons.join("; "), exit_code: None, signal: None, log_tail: Vec::new() });
        self.store.write(&record)
    }

    /// Runs one cell with its retries and writes its record. `None` when interrupted.
    async fn run_cell(
        &self,
        cell: &ResolvedCell,
        progress: &mut Progress,
        stop: StopSignal,
    ) -> Result<Option<Status>, StoreError> {
        let experiment =
            self.manifests.experiment(&cell.cell.experiment).expect("planned cells name known experiments");
        let toolbox = &self.manifests.toolboxes[&cell.toolbox];
        let timeout = Duration::from_secs(experiment.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |timeout| timeout.value));
        let attempts = 1 + experiment.retries.as_ref().map_or(0, |retries| retries.value);
        let started = SystemTime::now();
        let mut record = CellRecord::new(cell, self.host, Status::Failed);
        record.timings.started_unix_ms = started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        let launch = match launch(toolbox, &cell.argv, &self.mounts) {
            Ok(launch) => launch,
            Err(error) => {
                let reason = match &error {
                    super::launch::LaunchError::ProgramNotFound { help, .. } => format!("{error}: {help}"),
                    super::launch::LaunchError::Empty => error.to_string(),
                };
                record.failure = Some(Failure { reason, exit_code: None, signal: None, log_tail: Vec::new() });
                progress.finish(&format!("failed   {}: {}", cell.id, record.failure.as_ref().expect("set").reason));
                self.store.write(&record)?;
                return Ok(Some(Status::Failed));
            }
        };
        for attempt in 1..=attempts {
            let phase = if attempt == 1 { "running".to_owned() } else { format!("retrying ({attempt}/{attempts})") };
            progress.start(&cell.id, &phase);
            let log = self.store.log_path(&cell.hash);
            let result = match supervise(&launch, &log, timeout, self.options.grace, stop.clone()).await {
                Ok(result) => result,
                Err(error) => {
                    record.failure = Some(Failure {
                        reason: format!("cannot start `{}`: {error}", launch.program.display()),
                        exit_code: None,
                        signal: None,
                        log_tail: Vec::new(),
                    });
                    break;
                }
            };
            if result.exit == Exit::Interrupted {
                return Ok(None);
            }
            record.attempts = u32::try_from(attempt).unwrap_or(u32::MAX);
            record.timings.duration_ms = u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX);
            self.outcome(&mut record, &result, experiment, timeout);
            if record.status == Status::Ok {
                break;
            }
        }
        let line = match (&record.status, &record.failure) {
            (Status::Ok, _) => format!("ok       {}  {}", cell.id, describe_metrics(&record.metrics)),
            (status, Some(failure)) => format!("{:<8} {}: {}", status.name(), cell.id, failure.reason),
            (status, None) => format!("{:<8} {}", status.name(), cell.id),
        };
        progress.finish(&line);
        self.store.write(&record)?;
        Ok(Some(record.status))
    }

    /// Fills status, metrics and failure from how the child ended and what it printed.
    fn outcome(
        &self,
        record: &mut CellRecord,
        result: &ChildResult,
        experiment: &crate::manifest::Experiment,
        timeout: Duration,
    ) {
        let tail = log_tail(&result.combined);
        let failure = |reason: String, exit_code: Option<i32>, signal: Option<i32>| Failure {
            reason,
            exit_code,
            signal,
            log_tail: tail.clone(),
        };
        record.metrics = BTreeMap::new();
        record.raw = Vec::new();
        match result.exit {
            Exit::Code(0) => {
                let extracted = if record.workload == "bench" {
                    bench_metrics(&result.stdout).map(|(metrics, raw)| {
                        record.raw = raw;
                        metrics
                    })
                } else {
                    let specs = experiment.command.as_ref().map_or(&[][..], |command| &command.metrics[..]);
                    command_metrics(&result.combined, specs)
                };
                match extracted {
                    Ok(metrics) => {
                        record.metrics = metrics;
                        record.status = Status::Ok;
                        record.failure = None;
                    }
                    Err(reason) => {
                        record.status = Status::Failed;
                        record.failure = Some(failure(reason, Some(0), None));
                    }
                }
            }
            Exit::Code(code) => {
                record.status = Status::Failed;
                record.failure = Some(failure(format!("exit code {code}"), Some(code), None));
            }
            Exit::Signal(signal) => {
                record.status = Status::Failed;
                record.failure = Some(failure(format!("killed by signal {}", signal_name(signal)), None, Some(signal)));
            }
            Exit::TimedOut | Exit::Interrupted => {
                record.status = Status::TimedOut;
                record.failure = Some(failure(format!("timed out after {} s", timeout.as_secs()), None, None));
            }
        }
    }
}

/// `pp64 107.2 t/s, tg16 14.9 t/s`.
fn describe_metrics(metrics: &BTreeMap<String, MetricValue>) -> String {
    metrics
        .iter()
        .map(|(name, value)| {
            let unit = if value.unit.is_empty() { String::new() } else { format!(" {}", value.unit) };
            format!("{name} {:.1}{unit}", value.mean)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn log_tail(output: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].iter().map(|line| (*line).to_owned()).collect()
}

/// Ctrl-C and SIGTERM → stop requests: the first stops gracefully, the next kills at once.
async fn forward_signals(sender: watch::Sender<u32>) {
    let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
        return;
    };
    let Ok(mut interrupt) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) else {
        return;
    };
    loop {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        sender.send_modify(|count| *count += 1);
        if *sender.borrow() == 1 {
            eprintln!("stopping: the cell in flight is being stopped; press Ctrl-C again to kill it at once");
        }
    }
}
