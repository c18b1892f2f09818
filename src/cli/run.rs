//! `bakeoff run`: run every cell that has no result yet, recording each as it finishes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use super::plan::selection;
use super::report::{Reporter, shown};
use super::{Project, RunArgs};
use crate::Error;
use crate::plan::{Decision, History, PlannedCell};
use crate::report::ExpectedCell;
use crate::run::{Executor, LaunchContext, RunOptions, acquire};
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
    let reporter = RefCell::new(Reporter::new(&loaded, project.lock()?, expected, records));
    let on_record = |record: &CellRecord| {
        let mut reporter = reporter.borrow_mut();
        reporter.add(record);
        if let Err(error) = reporter.write_soon(&project.store, &record.experiment) {
            eprintln!("warning: cannot write the report of `{}`: {error}", record.experiment);
        }
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
        on_record: &on_record,
    };
    let summary = executor.run(&planned)?;
    // Also when nothing ran: a report from an older bakeoff, or none yet, is brought up to date.
    for experiment in &loaded.selected {
        match reporter.borrow().write(&project.store, experiment) {
            Ok(path) => eprintln!("report: {}", shown(&path).display()),
            Err(error) => eprintln!("warning: cannot write the report of `{experiment}`: {error}"),
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
