//! Running a plan on this host: the walk of its DAG, one measuring step at a time, recording each
//! result as it lands. The steps themselves are in `cell_step`, `server_step` and `group`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use tokio::sync::mpsc::UnboundedSender;

use super::rounds::Rounds;
use crate::fingerprint::ResolvedCell;
use crate::host::HostFacts;
use crate::manifest::Manifests;
use crate::notice::Notice;
use crate::plan::{Decision, PlanGraph, PlannedCell, Step, Work};
use crate::process::{StopSignal, Tracker, stop_leftovers};
use crate::run::dispatch::{Event, Observer};
use crate::run::drive::drive;
use crate::run::error::RunError;
use crate::run::executor::{Executor, RunOptions, RunSummary};
use crate::run::executor_error::ExecutorError;
use crate::run::outcome::unrun_record;
use crate::run::progress::Progress;
use crate::run::server::Server;
use crate::run::stop_after::Streaks;
use crate::store::{CellRecord, Status, Store, StoreError};
use crate::toolbox::LaunchContext;

pub(crate) struct LocalExecutor<'a> {
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
    pub(super) client: reqwest::Client,
    /// Per server group (its index in the work), the running server or why it did not start.
    pub(super) servers: HashMap<usize, Result<Server, RunError>>,
    /// The server group of each server cell.
    pub(super) server_of: HashMap<usize, usize>,
    /// Cells this pass recorded already (a load group records several in one step).
    pub(super) recorded: HashSet<usize>,
    pub(super) rounds: Rounds,
    /// Each toolbox's failed cells in a row, for `stop-after`.
    pub(super) streaks: Streaks,
    /// The last reading of the foreign load before a step: when, the CPUs, the share.
    pub(super) last_load: Option<(std::time::Instant, u32, f64)>,
}

impl Walk {
    pub(super) fn note(&self, notice: Notice) {
        let _ = self.events.send(Event::Note(notice));
    }

    /// Waits until the dispatcher has handled every event sent so far: the reports and the
    /// page of the cells before are written before the next measurement starts, not during it.
    pub(super) async fn settled(&self) {
        let (done, handled) = tokio::sync::oneshot::channel();
        if self.events.send(Event::Settled(done)).is_ok() {
            let _ = handled.await;
        }
    }

    pub(super) fn stopping(&self) -> bool {
        *self.stop.borrow() > 0
    }

    /// Whether the cell is measured in this pass of the walk.
    pub(super) fn measures(&self, planned: &PlannedCell) -> bool {
        matches!(planned.decision, Decision::Run(_)) && self.rounds.needs(&planned.cell)
    }
}

impl Executor for LocalExecutor<'_> {
    fn run(
        &self,
        planned: &[PlannedCell],
        work: &[Work],
        observer: &mut dyn Observer,
    ) -> Result<RunSummary, ExecutorError> {
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
    ) -> Result<RunSummary, ExecutorError> {
        let rounds = Rounds::new(planned, self.store, self.manifests);
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
                let _ =
                    events.send(Event::Note(Notice::info(format!("stopped what an earlier run left running: {line}"))));
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
                streaks: Streaks::new(self.options.stop_after),
                last_load: None,
            };
            self.walk(planned, work, &mut walk).await?;
            walk.summary.partly = walk.rounds.unfinished();
            for line in walk.streaks.summary() {
                walk.note(line);
            }
            Ok(walk.summary)
        })
    }

    /// Walks the graph once per round (see [`Rounds`]): round 1 of every cell, then round 2 of
    /// the cells that have more.
    async fn walk(&self, planned: &[PlannedCell], work: &[Work], walk: &mut Walk) -> Result<(), ExecutorError> {
        let plan = PlanGraph::build(planned, work);
        for pass in 1..=walk.rounds.passes(planned) {
            walk.rounds.pass = pass;
            if pass > 1 {
                // Adaptive cells whose comparison with the baseline is decided are done.
                for record in walk.rounds.settle_pairs() {
                    self.store.write(&record)?;
                    walk.summary.ok += 1;
                    let line = format!("decided  {}  ({})", record.cell, record.rounds_stop.as_deref().unwrap_or(""));
                    let _ = walk.events.send(Event::Recorded { line, record: Box::new(record) });
                }
                // Adaptive rounds stop cells early: a pass with nothing left to measure ends it.
                if !planned.iter().any(|cell| walk.measures(cell)) {
                    break;
                }
            }
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
                    walk.note(Notice::warning(problem.clone()));
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
                // Why it does not run, where the run is watched (`plan` says it too).
                walk.note(Notice::info(format!("blocked  {}: {}", cell.id, reasons.join("; "))));
                self.record_blocked(cell, reasons, walk)?;
            }
            // Its load group recorded it already, or an earlier round failed.
            Decision::Run(_) if walk.recorded.contains(&index) || !walk.measures(&planned[index]) => {}
            Decision::Run(_) if walk.stopping() => walk.summary.interrupted = true,
            Decision::Run(_) if walk.streaks.is_stopped(&cell.toolbox) => {
                self.record_skipped(cell, walk)?;
                walk.recorded.insert(index);
            }
            Decision::Run(_) => {
                let status = match walk.server_of.get(&index) {
                    Some(&position) => self.serve_step(position, index, planned, work, walk).await?,
                    None => self.run_cell(cell, walk).await?,
                };
                if status.is_none() {
                    walk.summary.interrupted = true;
                    walk.note(Notice::info(format!("interrupted {}: no result recorded", cell.id)));
                }
                walk.recorded.insert(index);
            }
        }
        Ok(())
    }

    /// A cell its toolbox's failure streak skips: recorded as not run with the reason (unless
    /// a result of it is there, which stays), so that the next plan runs it.
    fn record_skipped(&self, cell: &ResolvedCell, walk: &mut Walk) -> Result<(), StoreError> {
        let Some(reason) = walk.streaks.skip(&cell.toolbox) else { return Ok(()) };
        walk.summary.skipped += 1;
        let mut record = unrun_record(cell, self.host, Status::Skipped, reason);
        record.slurm.clone_from(&self.options.job);
        let line = crate::run::outcome::finished_line(&cell.id, &record, crate::run::outcome::describe_metrics);
        if matches!(self.store.head(&cell.hash), Ok(None)) {
            self.store.write(&record)?;
        }
        let _ = walk.events.send(Event::Recorded { line, record: Box::new(record) });
        Ok(())
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
            let limit = self
                .manifests
                .experiment(&joined.record.experiment)
                .and_then(|experiment| experiment.stop_after.as_ref().map(|limit| limit.value));
            let reason = joined.record.failure.as_ref().map_or("", |failure| failure.reason.as_str());
            let toolbox = &joined.record.fingerprint.toolbox.name;
            if let Some(line) = walk.streaks.finished(toolbox, limit, joined.record.status, reason) {
                walk.note(line);
            }
        }
        let line = format!("{line}{}", joined.label);
        let _ = walk.events.send(Event::Recorded { line, record: Box::new(joined.record) });
        Ok(())
    }
}
