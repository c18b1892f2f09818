//! `bakeoff run`: run every cell that has no result yet, recording each as it finishes.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use super::plan::selection;
use super::report::{Reporter, shown};
use super::{Project, RunArgs};
use crate::Error;
use crate::plan::{Decision, History, PlannedCell, schedule, tested_models};
use crate::report::ExpectedCell;
use crate::run::{Executor, LaunchContext, Observer, RunOptions, acquire};
use crate::store::CellRecord;

pub(super) fn run(project: &Project, args: &RunArgs) -> Result<(), Error> {
    run_then(project, args, true)
}

/// [`run`], printing the summary line on stdout (as data) or on stderr (when another output
/// follows on stdout, as with `bakeoff reproduce`).
pub(super) fn run_then(project: &Project, args: &RunArgs, summary_on_stdout: bool) -> Result<(), Error> {
    let selection = selection(&args.selection)?;
    let loaded = project.load(&args.targets.targets)?;
    let host = project.host()?;
    // Two runs on one store take turns; the plan is made once the lock is held, so the
    // second run sees the first one's results.
    let _lock = acquire(project.store.root())
        .map_err(|source| Error::Io { what: format!("cannot lock `{}`", project.store.root().display()), source })?;
    let (cells, toolboxes) = project.resolve_with_toolboxes(&loaded, &host)?;
    // The report covers every cell, also those `--only` leaves out of this run.
    let expected: Vec<ExpectedCell> = cells.iter().map(ExpectedCell::of).collect();
    let (planned, history) = project.plan_with_history(cells, &selection)?;
    let estimates = estimates(project, &planned, &history);
    // The plan read the whole store only when some cell had no result.
    let records = if history.is_empty() { project.records() } else { history };
    // Models with no result on this host yet run first.
    let tested = tested_models(&records, &planned, &host.id);
    let mut observer = ReportObserver {
        reporter: Reporter::new(&loaded, project.lock()?, expected, records),
        store: &project.store,
        finished: BTreeSet::new(),
    };
    let mut context = LaunchContext {
        mounts: project.roots.roots.clone(),
        images: toolboxes.into_iter().filter_map(|(name, state)| Some((name, state.image_id?))).collect(),
    };
    context.mounts.push(project.root.canonicalize().unwrap_or_else(|_| project.root.clone()));
    let executor = Executor {
        manifests: &loaded.manifests,
        host: &host,
        store: &project.store,
        context,
        options: RunOptions { grace: Duration::from_secs(args.grace), progress_bars: !args.no_progress, estimates },
    };
    let work = schedule(&planned, &tested, !args.no_load_groups);
    let summary = executor.run(&planned, &work, &mut observer)?;
    // Also when nothing ran: a report from an older bakeoff, or none yet, is brought up to date.
    for experiment in &loaded.selected {
        if !observer.finished.contains(experiment) {
            for line in observer.finished(experiment) {
                eprintln!("{line}");
            }
        }
    }
    if summary_on_stdout {
        println!("{summary}");
    } else {
        eprintln!("{summary}");
    }
    if summary.interrupted {
        return Err(Error::Interrupted);
    }
    if summary.failed > 0 {
        return Err(Error::CellsFailed {
            count: summary.failed,
            logs: project.store.root().join("logs").display().to_string(),
        });
    }
    Ok(())
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
