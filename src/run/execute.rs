//! Running the planned cells one at a time on this host, recording each result as it lands.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::launch::{LaunchContext, launch};
use super::leftovers::{Tracker, stop_leftovers};
use super::metrics::{bench_metrics, command_metrics};
use super::progress::Progress;
use super::supervisor::{ChildResult, Exit, StopSignal, signal_name, supervise, wait_for_stop};
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
    pub context: LaunchContext,
    pub options: RunOptions,
    /// Called with each record once it is in the store (the report is rewritten from it).
    pub on_record: &'a dyn Fn(&CellRecord),
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
            // Nothing a killed run left (a server holding its model, a container) may run
            // beside what this run measures.
            let running = self.store.running_path();
            for line in stop_leftovers(&running, self.options.grace).await {
                eprintln!("stopped what an earlier run left running: {line}");
            }
            let tracker = Arc::new(Tracker::new(running));
            let summary = self.run_all(planned, stop, &tracker).await;
            signals.abort();
            Ok(summary?)
        })
    }

    async fn run_all(
        &self,
        planned: &[PlannedCell],
        stop: StopSignal,
        tracker: &Arc<Tracker>,
    ) -> Result<RunSummary, StoreError> {
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
                        // Server workloads run after the others, grouped by server.
                        continue;
                    }
                    match self.run_cell(&cell.cell, &mut progress, stop.clone(), tracker).await? {
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
        if !summary.interrupted {
            self.run_server_cells(planned, &mut progress, &stop, &mut summary, tracker).await?;
        }
        progress.close();
        Ok(summary)
    }

    /// Server workloads: one llama-server per distinct (toolbox, server argv), started once,
    /// serving every cell that needs it, in plan order; a server that died is started again
    /// for the next cell.
    async fn run_server_cells(
        &self,
        planned: &[PlannedCell],
        progress: &mut Progress,
        stop: &StopSignal,
        summary: &mut RunSummary,
        tracker: &Arc<Tracker>,
    ) -> Result<(), StoreError> {
        let mut groups: Vec<(&str, &[String], Vec<&ResolvedCell>)> = Vec::new();
        for cell in planned.iter().filter(|cell| matches!(cell.decision, Decision::Run(_))) {
            let cell = &cell.cell;
            if matches!(cell.cell.workload.as_str(), "bench" | "command") {
                continue;
            }
            match groups.iter_mut().find(|(toolbox, argv, _)| *toolbox == cell.toolbox && *argv == cell.argv.as_slice())
            {
                Some((_, _, cells)) => cells.push(cell),
                None => groups.push((&cell.toolbox, &cell.argv, vec![cell])),
            }
        }
        // A fresh connection per request: llama-server may close idle keep-alive connections,
        // and a POST on a connection closed under it fails.
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client without TLS builds");
        for (toolbox_name, argv, cells) in groups {
            let toolbox = &self.manifests.toolboxes[toolbox_name];
            let experiment =
                self.manifests.experiment(&cells[0].cell.experiment).expect("planned cells name known experiments");
            let ready_timeout =
                Duration::from_secs(experiment.server.as_ref().and_then(|server| server.ready_timeout).unwrap_or(600));
            let mut server: Option<super::server::Server> = None;
            // A server that could not start fails the rest of its cells with the same reason
            // instead of being waited for once per cell.
            let mut start_failure: Option<String> = None;
            for cell in cells {
                if *stop.borrow() > 0 {
                    summary.interrupted = true;
                    break;
                }
                progress.start(&cell.id, "running");
                let mut record = CellRecord::new(cell, self.host, Status::Failed);
                record.timings.started_unix_ms = now_unix_ms();
                let started = std::time::Instant::now();
                if server.as_mut().is_some_and(|server| !server.is_running()) {
                    progress.note(&format!("llama-server for {} died; starting it again", cell.id));
                    if let Some(dead) = server.take() {
                        dead.stop(self.options.grace).await;
                    }
                }
                if server.is_none() && start_failure.is_none() {
                    let log = self.store.log_path(&format!("server-{}", &cell.hash));
                    let name = format!("server-{}", short_hash(&cell.hash));
                    let outcome = match launch(toolbox, argv, &self.context, &name) {
                        Ok(launched) => {
                            super::server::start(&launched, &log, ready_timeout, &client, Some(tracker)).await
                        }
                        Err(error) => Err(error.reason()),
                    };
                    match outcome {
                        Ok(ready) => {
                            progress.note(&format!(
                                "llama-server ready on port {} after {:.0} ms",
                                ready.port, ready.load_ms
                            ));
                            server = Some(ready);
                        }
                        Err(reason) => start_failure = Some(reason),
                    }
                }
                if let Some(reason) = &start_failure {
                    record.failure = Some(reason_only(reason.clone()));
                }
                if let Some(running) = server.as_mut()
                    && !self.serve_cell(&client, running, cell, experiment, &mut record, stop.clone()).await
                {
                    summary.interrupted = true;
                    progress.note(&format!("interrupted {}: no result recorded", cell.id));
                    break;
                }
                record.timings.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                progress.finish(&finished_line(&cell.id, &record, describe_server_metrics));
                self.record(&record)?;
                if record.status == Status::Ok { summary.ok += 1 } else { summary.failed += 1 }
            }
            if let Some(running) = server.take()
                && let Some(problem) = running.stop(self.options.grace).await
            {
                progress.note(&format!("warning: {problem}"));
            }
        }
        Ok(())
    }

    /// Sends a server cell's workload (its requests, `repeat` times, in order) and fills the
    /// record with per-request and aggregated metrics. `false` when a stop request ended it.
    async fn serve_cell(
        &self,
        client: &reqwest::Client,
        server: &mut super::server::Server,
        cell: &ResolvedCell,
        experiment: &crate::manifest::Experiment,
        record: &mut CellRecord,
        mut stop: StopSignal,
    ) -> bool {
        let Some(workload) = experiment.workloads.iter().find(|workload| workload.name.value == cell.cell.workload)
        else {
            return true;
        };
        let specs: Result<Vec<super::client::RequestSpec>, String> =
            workload.requests.iter().map(|request| self.request_spec(request)).collect();
        let specs = match specs {
            Ok(specs) => specs,
            Err(reason) => {
                record.failure = Some(reason_only(reason));
                return true;
            }
        };
        let mut exchanges = Vec::new();
        let total = specs.len() * usize::try_from(workload.repeat).unwrap_or(1);
        for index in 0..total {
            let spec = &specs[index % specs.len()];
            let exchanged = tokio::select! {
                exchanged = super::client::exchange(client, server.port, spec) => exchanged,
                () = wait_for_stop(&mut stop) => return false,
            };
            match exchanged {
                Ok(exchange) => exchanges.push(exchange),
                Err(reason) => {
                    let mut reason = format!("request {} of {total}: {reason}", index + 1);
                    if server.died_within(Duration::from_millis(500)).await {
                        reason = format!("{reason}; llama-server died: {}", server.output_tail());
                    }
                    record.failure = Some(reason_only(reason));
                    break;
                }
            }
        }
        record.metrics = super::serve_metrics::aggregate(&exchanges);
        record.metrics.insert(
            "server_load_ms".to_owned(),
            MetricValue { mean: server.load_ms, stddev: None, unit: "ms".to_owned(), samples: vec![server.load_ms] },
        );
        record.raw = exchanges
            .iter()
            .enumerate()
            .map(|(index, exchange)| {
                serde_json::json!({
                    "request": index + 1,
                    "ttft_ms": exchange.ttft_ms,
                    "e2e_ms": exchange.e2e_ms,
                    "timings": exchange.timings,
                    "usage": exchange.usage,
                })
            })
            .collect();
        if record.failure.is_none() {
            record.status = Status::Ok;
        }
        true
    }

    fn request_spec(&self, request: &crate::manifest::Request) -> Result<super::client::RequestSpec, String> {
        let read = |key: &str| -> Result<Option<String>, String> {
            match request.files.get(key) {
                Some(path) => {
                    let full = self.manifests.input_path(path.at, &path.value);
                    std::fs::read_to_string(&full)
                        .map(Some)
                        .map_err(|error| format!("cannot read `{}`: {error}", full.display()))
                }
                None => Ok(None),
            }
        };
        let prompt = match read("prompt-file")? {
            Some(text) => text,
            None => request.fields.get("prompt").cloned().unwrap_or_default(),
        };
        let system = read("system-file")?.or_else(|| request.fields.get("system").cloned());
        let fields = request
            .fields
            .iter()
            .filter(|(key, _)| *key != "prompt" && *key != "system")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(super::client::RequestSpec { api: request.api, prompt, system, fields })
    }

    fn record_blocked(&self, cell: &ResolvedCell, reasons: &[String]) -> Result<(), StoreError> {
        if self.store.head(&cell.hash)?.is_some() {
            return Ok(());
        }
        let mut record = CellRecord::new(cell, self.host, Status::Blocked);
        record.attempts = 0;
        // When it was found blocked: the report shows a host's newest result of each cell.
        record.timings.started_unix_ms = now_unix_ms();
        record.failure = Some(reason_only(reasons.join("; ")));
        self.record(&record)
    }

    fn record(&self, record: &CellRecord) -> Result<(), StoreError> {
        self.store.write(record)?;
        (self.on_record)(record);
        Ok(())
    }

    /// Runs one cell with its retries and writes its record. `None` when interrupted.
    async fn run_cell(
        &self,
        cell: &ResolvedCell,
        progress: &mut Progress,
        stop: StopSignal,
        tracker: &Arc<Tracker>,
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
        let launch = match launch(toolbox, &cell.argv, &self.context, short_hash(&cell.hash)) {
            Ok(launch) => launch,
            Err(error) => {
                record.failure = Some(reason_only(error.reason()));
                progress.finish(&finished_line(&cell.id, &record, describe_metrics));
                self.record(&record)?;
                return Ok(Some(Status::Failed));
            }
        };
        for attempt in 1..=attempts {
            let phase = if attempt == 1 { "running".to_owned() } else { format!("retrying ({attempt}/{attempts})") };
            progress.start(&cell.id, &phase);
            let log = self.store.log_path(&cell.hash);
            let result = match supervise(&launch, Some(&log), timeout, self.options.grace, stop.clone(), Some(tracker))
                .await
            {
                Ok(result) => result,
                Err(error) => {
                    record.failure = Some(reason_only(format!("cannot start `{}`: {error}", launch.program.display())));
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
        progress.finish(&finished_line(&cell.id, &record, describe_metrics));
        self.record(&record)?;
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

/// `ok       CELL  METRICS` or `failed   CELL: REASON`, as the progress output shows a result.
fn finished_line(cell: &str, record: &CellRecord, describe: fn(&BTreeMap<String, MetricValue>) -> String) -> String {
    match (&record.status, &record.failure) {
        (Status::Ok, _) => format!("ok       {cell}  {}", describe(&record.metrics)),
        (status, Some(failure)) => format!("{:<8} {cell}: {}", status.name(), failure.reason),
        (status, None) => format!("{:<8} {cell}", status.name()),
    }
}

/// The first 12 hex digits of a cell hash: enough to tell cells apart in a container name.
fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A failure that has a reason but no exit status or log of its own.
fn reason_only(reason: String) -> Failure {
    Failure { reason, exit_code: None, signal: None, log_tail: Vec::new() }
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

/// `ttft 2093 ms cold, 62 ms warm; cache_n 2040 warm; gen 30.9 t/s`: the server metrics a
/// person looks at first (all of them are in the record).
fn describe_server_metrics(metrics: &BTreeMap<String, MetricValue>) -> String {
    let value = |name: &str| metrics.get(name).map(|metric| metric.mean);
    let mut parts = Vec::new();
    match (value("ttft_ms_first"), value("ttft_ms_warm")) {
        (Some(cold), Some(warm)) => parts.push(format!("ttft {cold:.0} ms cold, {warm:.0} ms warm")),
        (Some(cold), None) => parts.push(format!("ttft {cold:.0} ms")),
        _ => {}
    }
    if let Some(cache) = value("cache_n_warm") {
        parts.push(format!("cache_n {cache:.0} warm"));
    }
    if let Some(generation) = value("gen_tps") {
        parts.push(format!("gen {generation:.1} t/s"));
    }
    parts.join("; ")
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
