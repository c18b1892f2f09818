//! Running a plan on this host: the walk of its DAG, one measuring step at a time, recording each
//! result as it lands.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::watch;

use super::client::Exchange;
use super::dispatch::{Event, Observer, dispatch};
use super::launch::{LaunchContext, launch};
use super::leftovers::stop_leftovers;
use super::memory::PeakMemory;
use super::metrics::{bench_metrics, command_metrics};
use super::progress::Progress;
use super::rounds::Rounds;
use super::server::Server;
use super::supervisor::{ChildResult, Exit, StopSignal, signal_name, supervise};
use super::tracker::Tracker;
use crate::fingerprint::ResolvedCell;
use crate::host::HostFacts;
use crate::manifest::Manifests;
use crate::plan::{Decision, PlanGraph, PlannedCell, ServerGroup, Step, Work};
use crate::store::{CellRecord, Failure, MetricValue, Status, Store, StoreError};

const LOG_TAIL_LINES: usize = 20;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Between SIGTERM and SIGKILL when a cell times out or is interrupted.
    pub grace: Duration,
    pub progress_bars: bool,
    /// Expected milliseconds per cell hash, from earlier results of the same or similar cells.
    pub estimates: std::collections::HashMap<String, u64>,
    /// The Slurm job this run is (`run --slurm-job`): its records say so, and what it starts
    /// is listed in a file of this host's own, as nodes share the store.
    pub job: Option<crate::store::SlurmJob>,
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
    /// The signal that interrupted the run (SIGINT or SIGTERM), when one did.
    pub signal: Option<i32>,
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

pub struct LocalExecutor<'a> {
    pub manifests: &'a Manifests,
    pub host: &'a HostFacts,
    pub store: &'a Store,
    pub context: LaunchContext,
    pub options: RunOptions,
}

/// Where a run is: what the walk of the plan's graph keeps from one step to the next.
pub(super) struct Walk {
    pub(super) events: UnboundedSender<Event>,
    pub(super) stop: StopSignal,
    pub(super) tracker: Arc<Tracker>,
    pub(super) summary: RunSummary,
    client: reqwest::Client,
    /// Per server group (its index in the work), the running server or why it did not start.
    servers: HashMap<usize, Result<Server, String>>,
    /// The server group of each server cell.
    server_of: HashMap<usize, usize>,
    /// Cells this pass recorded already (a load group records several in one step).
    pub(super) recorded: HashSet<usize>,
    pub(super) rounds: Rounds,
}

impl Walk {
    pub(super) fn note(&self, line: String) {
        let _ = self.events.send(Event::Note(line));
    }

    pub(super) fn stopping(&self) -> bool {
        *self.stop.borrow() > 0
    }

    /// Whether the cell is measured in this pass of the walk.
    pub(super) fn measures(&self, planned: &PlannedCell) -> bool {
        matches!(planned.decision, Decision::Run(_)) && self.rounds.needs(&planned.cell)
    }
}

/// Where a plan's measuring steps run: given the planned cells and the units of work in run
/// order, record every result in the store and tell `observer`. The local executor runs them on
/// this machine; a cluster's executor plugs in here.
pub trait Executor {
    fn run(
        &self,
        planned: &[PlannedCell],
        work: &[Work],
        observer: &mut dyn Observer,
    ) -> Result<RunSummary, crate::Error>;
}

impl Executor for LocalExecutor<'_> {
    fn run(
        &self,
        planned: &[PlannedCell],
        work: &[Work],
        observer: &mut dyn Observer,
    ) -> Result<RunSummary, crate::Error> {
        self.run_here(planned, work, observer)
    }
}

impl LocalExecutor<'_> {
    /// Runs the plan: walks its DAG (`work` says what shares a process and in which order),
    /// recording each result as it lands. Ctrl-C stops the step in flight (a second one kills
    /// it at once) and ends the run, keeping every result already recorded. The observer
    /// hears of every record and of every experiment whose cells are all done.
    fn run_here(
        &self,
        planned: &[PlannedCell],
        work: &[Work],
        observer: &mut dyn Observer,
    ) -> Result<RunSummary, crate::Error> {
        let rounds = Rounds::new(planned, self.store);
        // Estimates in the order the cells will run, a round at a time (an estimate is of a
        // whole cell: all its rounds).
        let mut estimates = Vec::new();
        for pass in 1..=rounds.passes(planned) {
            for &index in work.iter().flat_map(Work::cells) {
                let cell = &planned[index].cell;
                if matches!(planned[index].decision, Decision::Run(_)) && pass <= rounds.left(cell) {
                    let estimate = self.options.estimates.get(&cell.hash).copied();
                    estimates.push(estimate.map(|total| total / u64::from(cell.fingerprint.rounds.max(1))));
                }
            }
        }
        let progress = Progress::new(estimates, self.options.progress_bars);
        let stopping = "stopping: the cell in flight is being stopped; press Ctrl-C again to kill it at once";
        drive(progress, observer, stopping, |events, stop| async move {
            // Nothing a killed run left (a server holding its model, a container) may run
            // beside what this run measures.
            let running = match &self.options.job {
                None => self.store.running_path(),
                Some(_) => self.store.job_running_path(&self.host.id),
            };
            for line in stop_leftovers(&running, self.options.grace).await {
                let _ = events.send(Event::Note(format!("stopped what an earlier run left running: {line}")));
            }
            let mut walk = Walk {
                events,
                stop,
                tracker: Arc::new(Tracker::new(running)),
                summary: RunSummary { cells: planned.len(), ..RunSummary::default() },
                // A fresh connection per request: llama-server may close idle keep-alive
                // connections, and a POST on a connection closed under it fails.
                client: reqwest::Client::builder()
                    .no_proxy()
                    .pool_max_idle_per_host(0)
                    .build()
                    .expect("an HTTP client without TLS builds"),
                servers: HashMap::new(),
                server_of: work
                    .iter()
                    .enumerate()
                    .filter(|(_, unit)| matches!(unit, Work::Server(_)))
                    .flat_map(|(position, unit)| unit.cells().iter().map(move |&cell| (cell, position)))
                    .collect(),
                recorded: HashSet::new(),
                rounds,
            };
            self.walk(planned, work, &mut walk).await?;
            Ok(walk.summary)
        })
    }

    /// Walks the graph once per round (see [`Rounds`]): round 1 of every cell, then round 2 of
    /// the cells that have more.
    async fn walk(&self, planned: &[PlannedCell], work: &[Work], walk: &mut Walk) -> Result<(), crate::Error> {
        let plan = PlanGraph::build(planned, work);
        for pass in 1..=walk.rounds.passes(planned) {
            walk.rounds.pass = pass;
            walk.recorded.clear();
            self.walk_once(&plan, planned, work, walk).await?;
            if walk.summary.interrupted {
                break;
            }
        }
        Ok(())
    }

    /// Takes the graph's steps as they become ready, the most urgent first (the schedule's
    /// order), one at a time: measuring steps have the machine to themselves.
    async fn walk_once(
        &self,
        plan: &PlanGraph,
        planned: &[PlannedCell],
        work: &[Work],
        walk: &mut Walk,
    ) -> Result<(), StoreError> {
        let graph = &plan.graph;
        let mut waiting: HashMap<NodeIndex, usize> = graph
            .node_indices()
            .map(|node| (node, graph.neighbors_directed(node, Direction::Incoming).count()))
            .collect();
        let mut ready: BinaryHeap<Reverse<((usize, usize), NodeIndex)>> = waiting
            .iter()
            .filter(|(_, count)| **count == 0)
            .map(|(node, _)| Reverse((plan.priority(*node), *node)))
            .collect();
        while let Some(Reverse((_, node))) = ready.pop() {
            self.step(&graph[node], planned, work, walk).await?;
            if let Some(warning) = walk.tracker.take_warning() {
                walk.note(warning);
            }
            if walk.summary.interrupted {
                break;
            }
            for next in graph.neighbors_directed(node, Direction::Outgoing) {
                let count = waiting.get_mut(&next).expect("every node has a count");
                *count -= 1;
                if *count == 0 {
                    ready.push(Reverse((plan.priority(next), next)));
                }
            }
        }
        // An interrupted run leaves no server behind.
        for (_, server) in walk.servers.drain() {
            if let Ok(server) = server {
                server.stop(self.options.grace).await;
            }
        }
        Ok(())
    }

    async fn step(
        &self,
        step: &Step,
        planned: &[PlannedCell],
        work: &[Work],
        walk: &mut Walk,
    ) -> Result<(), StoreError> {
        match step {
            // Done while planning: a cell's fingerprint needs the host's facts, its models'
            // hashes and its toolbox's inspection, so the plan holds their results.
            Step::ProbeHost | Step::HashModel(_) | Step::InspectToolbox(_) => {}
            Step::Cell(index) => self.cell_step(*index, planned, work, walk).await?,
            Step::LoadGroup(position) => {
                if let Work::LoadGroup(group) = &work[*position]
                    && group.cells.iter().any(|&index| walk.measures(&planned[index]))
                {
                    self.run_group(group, planned, walk).await?;
                }
            }
            Step::StartServer(position) => {
                if let Work::Server(group) = &work[*position]
                    && group.cells.iter().any(|&index| walk.measures(&planned[index]))
                {
                    self.start_server(*position, group, planned, walk).await;
                }
            }
            Step::StopServer(position) => {
                if let Some(Ok(server)) = walk.servers.remove(position)
                    && let Some(problem) = server.stop(self.options.grace).await
                {
                    walk.note(format!("warning: {problem}"));
                }
            }
            Step::Report(experiment) => {
                let _ = walk.events.send(Event::Finished(experiment.clone()));
            }
        }
        Ok(())
    }

    async fn cell_step(
        &self,
        index: usize,
        planned: &[PlannedCell],
        work: &[Work],
        walk: &mut Walk,
    ) -> Result<(), StoreError> {
        let cell = &planned[index].cell;
        // Later passes measure more rounds; what is not measured was counted in the first.
        if walk.rounds.pass > 1 && !walk.measures(&planned[index]) {
            return Ok(());
        }
        match &planned[index].decision {
            Decision::Cached => walk.summary.cached += 1,
            Decision::FailedBefore { .. } => walk.summary.failed_before += 1,
            Decision::Blocked { reasons } => {
                walk.summary.blocked += 1;
                self.record_blocked(cell, reasons, walk)?;
            }
            // Its load group recorded it already, or an earlier round failed.
            Decision::Run(_) if walk.recorded.contains(&index) || !walk.measures(&planned[index]) => {}
            Decision::Run(_) if walk.stopping() => walk.summary.interrupted = true,
            Decision::Run(_) => {
                let status = match walk.server_of.get(&index) {
                    Some(&position) => self.serve_step(position, index, planned, work, walk).await?,
                    None => self.run_cell(cell, walk).await?,
                };
                if status.is_none() {
                    walk.summary.interrupted = true;
                    walk.note(format!("interrupted {}: no result recorded", cell.id));
                }
                walk.recorded.insert(index);
            }
        }
        Ok(())
    }

    /// Starts the llama-server of a server group (its log named after its first cell); a
    /// server that cannot start fails the group's cells with the reason, instead of being
    /// waited for once per cell.
    async fn start_server(&self, position: usize, group: &ServerGroup, planned: &[PlannedCell], walk: &mut Walk) {
        let first = &planned[group.cells[0]].cell;
        let toolbox = &self.manifests.toolboxes[&group.toolbox];
        // The longest wait any of its experiments allows.
        let ready_timeout = group
            .cells
            .iter()
            .filter_map(|&index| self.manifests.experiment(&planned[index].cell.cell.experiment))
            .filter_map(|experiment| experiment.server.as_ref()?.ready_timeout)
            .max()
            .unwrap_or(600);
        let log = self.store.server_log_path(&first.hash);
        let name = format!("server-{}", crate::units::prefix(&first.hash, 12));
        let outcome = match launch(toolbox, &group.argv, &self.context, &name) {
            Ok(launched) => {
                super::server::start(
                    &launched,
                    &log,
                    Duration::from_secs(ready_timeout),
                    &walk.client,
                    Some(&walk.tracker),
                )
                .await
            }
            Err(error) => Err(error.reason()),
        };
        if let Ok(ready) = &outcome {
            walk.note(format!("llama-server ready on port {} after {:.0} ms", ready.port, ready.load_ms));
        }
        walk.servers.insert(position, outcome);
    }

    /// One server cell on its group's server, started again first if it died. `None` when
    /// interrupted.
    async fn serve_step(
        &self,
        position: usize,
        index: usize,
        planned: &[PlannedCell],
        work: &[Work],
        walk: &mut Walk,
    ) -> Result<Option<Status>, StoreError> {
        let cell = &planned[index].cell;
        let _ = walk.events.send(Event::Started { what: cell.id.clone(), phase: "running".to_owned() });
        let experiment =
            self.manifests.experiment(&cell.cell.experiment).expect("planned cells name known experiments");
        let mut record = CellRecord::new(cell, self.host, Status::Failed);
        record.timings.started_unix_ms = now_unix_ms();
        let started = std::time::Instant::now();
        if let Some(Ok(server)) = walk.servers.get_mut(&position)
            && !server.is_running()
        {
            walk.note(format!("llama-server for {} died; starting it again", cell.id));
            if let Some(Ok(dead)) = walk.servers.remove(&position) {
                dead.stop(self.options.grace).await;
            }
            if let Work::Server(group) = &work[position] {
                self.start_server(position, group, planned, walk).await;
            }
        }
        let stop = walk.stop.clone();
        let concurrency = experiment
            .workloads
            .iter()
            .find(|workload| workload.name.value == cell.cell.workload)
            .map_or(1, |workload| workload.concurrency);
        if let Some(Ok(Server { slots: Some(slots), .. })) = walk.servers.get(&position)
            && concurrency > *slots
        {
            walk.note(format!(
                "warning: {} sends {concurrency} requests at once, but llama-server has {slots} slot(s) (`-np`): the \
                 rest wait in its queue, and their time to first token includes the wait",
                cell.id
            ));
        }
        match walk.servers.get_mut(&position) {
            Some(Ok(server)) => {
                if !self.serve_cell(&walk.client, server, cell, experiment, &mut record, stop).await {
                    return Ok(None);
                }
            }
            Some(Err(reason)) => record.failure = Some(reason_only(reason.clone())),
            None => record.failure = Some(reason_only("its llama-server was never started".to_owned())),
        }
        record.timings.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let line = finished_line(&cell.id, &record, describe_server_metrics);
        let status = record.status;
        self.record(record, &line, walk)?;
        Ok(Some(status))
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
        stop: StopSignal,
    ) -> bool {
        let Some(workload) = experiment.workloads.iter().find(|workload| workload.name.value == cell.cell.workload)
        else {
            return true;
        };
        let specs: Result<Vec<super::client::RequestSpec>, String> =
            workload.requests.iter().map(|request| self.request_spec(request, workload.cold)).collect();
        let specs = match specs {
            Ok(specs) => specs,
            Err(reason) => {
                record.failure = Some(reason_only(reason));
                return true;
            }
        };
        // The server's peak while this cell's requests ran: its mark reset now, read after.
        let mut memory = PeakMemory::new(server.tree());
        memory.restart();
        let mut energy = super::energy::EnergyMeter::start();
        let Some(sent) = super::workload::send(client, server.port, workload, &specs, stop).await else {
            return false;
        };
        memory.sample();
        let joules = energy.joules();
        if let Some((index, reason)) = &sent.failure {
            let mut reason = format!("request {} of {}: {reason}", index + 1, sent.outcomes.len());
            if server.died_within(Duration::from_millis(500)).await {
                reason = format!("{reason}; llama-server died: {}", server.output_tail());
            }
            record.failure = Some(reason_only(reason));
        }
        record.metrics = super::serve_metrics::per_turn(&sent.by_turn());
        let exchanges: Vec<Exchange> = sent.outcomes.iter().flatten().cloned().collect();
        record.metrics.extend(super::serve_metrics::aggregate(&exchanges));
        if workload.concurrency > 1 {
            record.metrics.extend(super::serve_metrics::under_load(&exchanges, sent.wall));
        }
        record.metrics.insert("server_load_ms".to_owned(), MetricValue::single(server.load_ms, "ms"));
        // Tokens the server worked on: processed prompt and generated (any of the three APIs).
        let tokens = exchanges
            .iter()
            .map(|exchange| exchange.processed_n().unwrap_or(0.0) + exchange.generated_n().unwrap_or(0.0))
            .sum();
        add_usage(record, memory.peak(), Some(joules), Some(tokens));
        record.raw = sent.raw();
        if record.failure.is_none() {
            record.status = Status::Ok;
        }
        true
    }

    fn request_spec(
        &self,
        request: &crate::manifest::Request,
        cold: bool,
    ) -> Result<super::client::RequestSpec, String> {
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
        Ok(super::client::RequestSpec { api: request.api, prompt, system, fields, cold, history: Vec::new() })
    }

    fn record_blocked(&self, cell: &ResolvedCell, reasons: &[String], walk: &Walk) -> Result<(), StoreError> {
        // A result, or a file that cannot be read as one, is left as it is.
        if !matches!(self.store.head(&cell.hash), Ok(None)) {
            return Ok(());
        }
        let mut record = unrun_record(cell, self.host, Status::Blocked, reasons.join("; "));
        record.slurm.clone_from(&self.options.job);
        self.store.write(&record)?;
        let _ = walk.events.send(Event::Landed(Box::new(record)));
        Ok(())
    }

    /// Writes a finished cell's record (joined to its earlier rounds), counts it once its last
    /// round is in, then tells the dispatcher (`line` says how it ended).
    pub(super) fn record(&self, mut record: CellRecord, line: &str, walk: &mut Walk) -> Result<(), StoreError> {
        record.slurm.clone_from(&self.options.job);
        let joined = walk.rounds.join(record);
        self.store.write(&joined.record)?;
        if joined.finished {
            match joined.record.status {
                Status::Ok => walk.summary.ok += 1,
                _ => walk.summary.failed += 1,
            }
        }
        let line = format!("{line}{}", joined.label);
        let _ = walk.events.send(Event::Recorded { line, record: Box::new(joined.record) });
        Ok(())
    }

    /// Runs one cell with its retries and writes its record. `None` when interrupted.
    pub(super) async fn run_cell(&self, cell: &ResolvedCell, walk: &mut Walk) -> Result<Option<Status>, StoreError> {
        let experiment =
            self.manifests.experiment(&cell.cell.experiment).expect("planned cells name known experiments");
        let toolbox = &self.manifests.toolboxes[&cell.toolbox];
        let timeout = experiment.timeout();
        let attempts = u64::from(experiment.attempts());
        let started = SystemTime::now();
        let mut record = CellRecord::new(cell, self.host, Status::Failed);
        record.timings.started_unix_ms = started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        let launch = match launch(toolbox, &cell.argv, &self.context, crate::units::prefix(&cell.hash, 12)) {
            Ok(launch) => launch,
            Err(error) => {
                record.failure = Some(reason_only(error.reason()));
                let line = finished_line(&cell.id, &record, describe_metrics);
                self.record(record, &line, walk)?;
                return Ok(Some(Status::Failed));
            }
        };
        for attempt in 1..=attempts {
            let phase = if attempt == 1 { "running".to_owned() } else { format!("retrying ({attempt}/{attempts})") };
            let _ = walk.events.send(Event::Started { what: cell.id.clone(), phase });
            let log = self.store.log_path(&cell.hash);
            let stop = walk.stop.clone();
            let result = match supervise(&launch, Some(&log), timeout, self.options.grace, stop, Some(&walk.tracker))
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
        let mut line = finished_line(&cell.id, &record, describe_metrics);
        let log = self.store.log_path(&cell.hash);
        if record.status != Status::Ok && log.is_file() {
            let _ = write!(line, " (log: {})", crate::units::shown_path(&log));
        }
        let status = record.status;
        self.record(record, &line, walk)?;
        Ok(Some(status))
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
                let bench = record.block() == crate::matrix::Block::Bench;
                let extracted = if bench {
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
                        let tokens = bench.then(|| bench_tokens(&record.raw));
                        add_usage(record, result.peak_rss_bytes, result.energy.clone(), tokens);
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
                // The tool's own words, not the end of the usage text it prints after them.
                let output = String::from_utf8_lossy(&result.combined);
                let reason = match super::error_line(&output) {
                    Some(line) => format!("exit code {code}: {}", crate::units::prefix(line, 300)),
                    None => format!("exit code {code}"),
                };
                record.failure = Some(failure(reason, Some(code), None));
            }
            Exit::Signal(signal) => {
                record.status = Status::Failed;
                let mut reason = format!("killed by signal {}", signal_name(signal));
                if signal == libc::SIGILL {
                    reason.push_str(SIGILL_HINT);
                }
                record.failure = Some(failure(reason, None, Some(signal)));
            }
            Exit::TimedOut | Exit::Interrupted => {
                record.status = Status::TimedOut;
                record.failure = Some(failure(format!("timed out after {} s", timeout.as_secs()), None, None));
            }
        }
    }
}

/// `ok       CELL  METRICS` or `failed   CELL: REASON`, as the progress output shows a result.
pub(super) fn finished_line(
    cell: &str,
    record: &CellRecord,
    describe: fn(&BTreeMap<String, MetricValue>) -> String,
) -> String {
    match (&record.status, &record.failure) {
        (Status::Ok, _) => format!("ok       {cell}  {}", describe(&record.metrics)),
        (status, Some(failure)) => format!("{:<8} {cell}: {}", status.name(), failure.reason),
        (status, None) => format!("{:<8} {cell}", status.name()),
    }
}

/// What a cell's run used beside its own metrics: `peak_rss_bytes` when its processes could be
/// read; `energy_j` (and `tokens_per_j` when the cell's `tokens` are known) when the host has
/// energy counters, or the reason in the record's `unavailable`.
pub(super) fn add_usage(
    record: &mut CellRecord,
    peak: Option<u64>,
    energy: Option<Result<f64, String>>,
    tokens: Option<f64>,
) {
    if let Some(bytes) = peak {
        #[expect(clippy::cast_precision_loss, reason = "memory sizes are far below 2^52 bytes")]
        record.metrics.insert("peak_rss_bytes".to_owned(), MetricValue::single(bytes as f64, "bytes"));
    }
    match energy {
        Some(Ok(joules)) => {
            record.metrics.insert("energy_j".to_owned(), MetricValue::single(joules, "J"));
            if let Some(tokens) = tokens.filter(|_| joules > 0.0) {
                record.metrics.insert("tokens_per_j".to_owned(), MetricValue::single(tokens / joules, "tokens/J"));
            }
        }
        Some(Err(reason)) => {
            record.unavailable.insert("energy_j".to_owned(), reason);
        }
        None => {}
    }
}

/// Tokens llama-bench processed and generated in its measured repetitions.
pub(super) fn bench_tokens(raw: &[serde_json::Value]) -> f64 {
    let number =
        |record: &serde_json::Value, key: &str| record.get(key).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    raw.iter()
        .map(|record| {
            #[expect(clippy::cast_precision_loss, reason = "repetition counts are small")]
            let repetitions = record
                .get("samples_ts")
                .and_then(serde_json::Value::as_array)
                .map_or(1.0, |samples| samples.len() as f64);
            (number(record, "n_prompt") + number(record, "n_gen")) * repetitions
        })
        .sum()
}

/// The record of a cell that did not run (blocked, or its job never submitted): no attempt,
/// the reason, and when it was found so (the report shows a host's newest result of a cell).
pub(super) fn unrun_record(cell: &ResolvedCell, host: &HostFacts, status: Status, reason: String) -> CellRecord {
    let mut record = CellRecord::new(cell, host, status);
    record.attempts = 0;
    record.timings.started_unix_ms = now_unix_ms();
    record.failure = Some(reason_only(reason));
    record
}

/// A failure that has a reason but no exit status or log of its own.
pub(super) fn reason_only(reason: String) -> Failure {
    Failure { reason, exit_code: None, signal: None, log_tail: Vec::new() }
}

pub(super) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

/// `ttft 2093 ms cold, 62 ms warm; cache_n 2040 warm; gen 30.9 t/s`: the server metrics a
/// person looks at first (all of them are in the record).
pub(super) fn describe_server_metrics(metrics: &BTreeMap<String, MetricValue>) -> String {
    let value = |name: &str| metrics.get(name).map(|metric| metric.mean);
    let mut parts = Vec::new();
    match (value("ttft_ms_first"), value("ttft_ms_warm")) {
        (Some(cold), Some(warm)) => parts.push(format!(
            "ttft {} cold, {} warm",
            crate::units::format_quantity(cold, "ms"),
            crate::units::format_quantity(warm, "ms")
        )),
        (Some(cold), None) => parts.push(format!("ttft {}", crate::units::format_quantity(cold, "ms"))),
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

/// `pp64 107.2 t/s, tg16 14.9 t/s, peak_rss_bytes 346.2 MiB`: what was measured first, then
/// what the run used.
pub(super) fn describe_metrics(metrics: &BTreeMap<String, MetricValue>) -> String {
    let usage = |name: &str| crate::metric_name::USAGE.contains(&name);
    let measured = metrics.iter().filter(|(name, _)| !usage(name));
    let used = crate::metric_name::USAGE.iter().filter_map(|name| metrics.get_key_value(*name));
    measured
        .chain(used)
        .map(|(name, value)| format!("{name} {}", crate::units::format_quantity(value.mean, &value.unit)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What SIGILL means for llama.cpp, where it is met most: a virtual machine that advertises
/// AMX without enabling it, on which the repacked CPU kernels die.
const SIGILL_HINT: &str = ": the CPU refused an instruction this build uses (on a virtual machine that advertises AMX, \
                           llama.cpp's repacked kernels do: add `--repack 0` to llama-bench's args, `-nr` to \
                           llama-server's)";

pub(super) fn log_tail(output: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].iter().map(|line| (*line).to_owned()).collect()
}

/// Runs `work` on a runtime of its own beside the dispatcher, which owns `progress` and
/// `observer` and hears what `work` sends. Ctrl-C and SIGTERM become stop requests that `work`
/// watches (the first also shows `stopping`); the summary of an interrupted run names the
/// signal.
pub(super) fn drive<'a, Work, Running>(
    progress: Progress,
    observer: &mut dyn Observer,
    stopping: &'static str,
    work: Work,
) -> Result<RunSummary, crate::Error>
where
    Work: FnOnce(UnboundedSender<Event>, StopSignal) -> Running,
    Running: Future<Output = Result<RunSummary, crate::Error>> + 'a,
{
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let (stop_sender, stop) = watch::channel(0u32);
        let (events, receiver) = mpsc::unbounded_channel();
        let first_signal = Arc::new(AtomicI32::new(0));
        // The handlers are in place before anything starts: a signal that came before the
        // task first ran would otherwise kill bakeoff outright.
        let handlers = signal_handlers();
        let signals =
            tokio::spawn(forward_signals(handlers, stop_sender, events.clone(), Arc::clone(&first_signal), stopping));
        let done = events.clone();
        let working = async move {
            let result = work(events, stop).await;
            let _ = done.send(Event::Done);
            result
        };
        let (result, ()) = tokio::join!(working, dispatch(receiver, progress, observer));
        signals.abort();
        let mut summary = result?;
        if summary.interrupted {
            let signal = first_signal.load(Ordering::Relaxed);
            summary.signal = Some(if signal == 0 { libc::SIGINT } else { signal });
        }
        Ok(summary)
    })
}

type Handlers = Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>;

/// SIGINT and SIGTERM handlers, registered now.
fn signal_handlers() -> Handlers {
    use tokio::signal::unix::{SignalKind, signal};
    Some((signal(SignalKind::interrupt()).ok()?, signal(SignalKind::terminate()).ok()?))
}

/// Ctrl-C and SIGTERM → stop requests: the first stops gracefully, the next kills at once.
/// The first signal's number is kept in `first` (for the exit code).
async fn forward_signals(
    handlers: Handlers,
    sender: watch::Sender<u32>,
    events: UnboundedSender<Event>,
    first: Arc<AtomicI32>,
    stopping: &'static str,
) {
    let Some((mut interrupt, mut terminate)) = handlers else { return };
    loop {
        let signal = tokio::select! {
            _ = interrupt.recv() => libc::SIGINT,
            _ = terminate.recv() => libc::SIGTERM,
        };
        let _ = first.compare_exchange(0, signal, Ordering::Relaxed, Ordering::Relaxed);
        sender.send_modify(|count| *count += 1);
        if *sender.borrow() == 1 {
            let _ = events.send(Event::Note(stopping.to_owned()));
        }
    }
}
