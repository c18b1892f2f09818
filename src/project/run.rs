//! A run of a project's experiments: lock the store, resolve and plan, schedule, walk the
//! plan's graph with the local executor, and keep the reports up to date.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use super::pipeline::Project;
use super::reporter::{Reporter, shown};
use crate::Error;
use crate::plan::{Decision, History, PlannedCell, Selection, schedule, tested_models};
use crate::report::ExpectedCell;
use crate::run::{Executor, LaunchContext, LocalExecutor, Observer, RunOptions, RunSummary, acquire};
use crate::store::CellRecord;

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Manifest files or experiment names (every experiment when empty).
    pub targets: Vec<String>,
    pub selection: Selection,
    /// Between SIGTERM and SIGKILL when a cell times out or is interrupted.
    pub grace: Duration,
    pub progress_bars: bool,
    /// One llama-bench process for cells that differ only in per-test parameters.
    pub load_groups: bool,
}

/// What a run did: its summary, and lines for people (the reports it wrote).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub summary: RunSummary,
    pub notes: Vec<String>,
}

impl Project {
    /// Runs what `request` selects that has no result yet. Two runs on one store take turns.
    pub fn run(&self, request: &RunRequest) -> Result<RunOutcome, Error> {
        let loaded = self.load(&request.targets)?;
        let host = self.host()?;
        // Two runs on one store take turns; the plan is made once the lock is held, so the
        // second run sees the first one's results.
        let _lock = acquire(self.store.root())
            .map_err(|source| Error::Io { what: format!("cannot lock `{}`", self.store.root().display()), source })?;
        let (cells, toolboxes) = self.resolve_with_toolboxes(&loaded, &host)?;
        // The report covers every cell, also those `--only` leaves out of this run.
        let expected: Vec<ExpectedCell> = cells.iter().map(ExpectedCell::of).collect();
        let (planned, history) = self.plan_with_history(cells, &request.selection)?;
        let estimates = estimates(self, &planned, &history);
        // The plan read the whole store only when some cell had no result.
        let records = if history.is_empty() { self.records() } else { history };
        // Models with no result on this host yet run first.
        let tested = tested_models(&records, &planned, &host.id);
        let mut observer = ReportObserver {
            reporter: Reporter::new(&loaded, self.lock()?, expected, records),
            store: &self.store,
            finished: BTreeSet::new(),
        };
        let mut context = LaunchContext {
            mounts: self.roots.roots.clone(),
            images: toolboxes.into_iter().filter_map(|(name, state)| Some((name, state.image_id?))).collect(),
        };
        context.mounts.push(self.root.canonicalize().unwrap_or_else(|_| self.root.clone()));
        let executor = LocalExecutor {
            manifests: &loaded.manifests,
            host: &host,
            store: &self.store,
            context,
            options: RunOptions { grace: request.grace, progress_bars: request.progress_bars, estimates },
        };
        let work = schedule(&planned, &tested, request.load_groups);
        let summary = executor.run(&planned, &work, &mut observer)?;
        // Also when nothing ran: a report from an older bakeoff, or none yet, is brought up to date.
        let mut notes: Vec<String> =
            super::merge::keep_reports_mergeable(&self.root, &self.store).into_iter().collect();
        for experiment in &loaded.selected {
            if !observer.finished.contains(experiment) {
                notes.extend(observer.finished(experiment));
            }
        }
        Ok(RunOutcome { summary, notes })
    }
}

/// The reporter as the run's observer: the report is rewritten as records land (not more often
/// than its writing time allows) and written once its experiment is done.
struct ReportObserver<'a> {
    reporter: Reporter<'a>,
    store: &'a crate::store::Store,
    /// Experiments whose report this run wrote at their end.
    finished: BTreeSet<String>,
}

impl Observer for ReportObserver<'_> {
    fn recorded(&mut self, record: &CellRecord) -> Vec<String> {
        self.reporter.add(record);
        match self.reporter.write_soon(self.store, &record.experiment) {
            Ok(()) => Vec::new(),
            Err(error) => vec![format!("warning: cannot write the report of `{}`: {error}", record.experiment)],
        }
    }

    fn finished(&mut self, experiment: &str) -> Vec<String> {
        self.finished.insert(experiment.to_owned());
        match self.reporter.write(self.store, experiment) {
            Ok(path) => vec![format!("report: {}", shown(&path).display())],
            Err(error) => vec![format!("warning: cannot write the report of `{experiment}`: {error}")],
        }
    }
}

/// How long each cell to run took last time: its own earlier result (a forced or retried
/// cell), else the nearest earlier result of its experiment and workload.
fn estimates(project: &Project, planned: &[PlannedCell], records: &[CellRecord]) -> HashMap<String, u64> {
    let history = History::new(records, planned.iter().map(|cell| cell.cell.hash.as_str()));
    planned
        .iter()
        .filter(|cell| matches!(cell.decision, Decision::Run(_)))
        .filter_map(|planned| {
            let duration = match project.store.read(&planned.cell.hash) {
                Ok(Some(own)) => own.timings.duration_ms,
                _ => history.nearest(&planned.cell)?.0.timings.duration_ms,
            };
            (duration > 0).then(|| (planned.cell.hash.clone(), duration))
        })
        .collect()
}
