//! `bakeoff run`: run every cell that has no result yet, recording each as it finishes.

use std::time::Duration;

use super::RunArgs;
use super::plan::selection;
use crate::Error;
use crate::project::{Project, RunRequest};

pub(super) fn run(project: &Project, args: &RunArgs) -> Result<(), Error> {
    run_then(project, args, true)
}

/// [`run`], printing the summary line on stdout (as data) or on stderr (when another output
/// follows on stdout, as with `bakeoff reproduce`).
pub(super) fn run_then(project: &Project, args: &RunArgs, summary_on_stdout: bool) -> Result<(), Error> {
    let request = RunRequest {
        targets: args.targets.targets.clone(),
        selection: selection(&args.selection)?,
        grace: Duration::from_secs(args.grace),
        progress_bars: !args.no_progress,
        load_groups: !args.no_load_groups,
    };
    let outcome = project.run(&request)?;
    for note in &outcome.notes {
        eprintln!("{note}");
    }
    let summary = outcome.summary;
    if summary_on_stdout {
        println!("{summary}");
    } else {
        eprintln!("{summary}");
    }
    if summary.interrupted {
        return Err(Error::Interrupted { signal: summary.signal.unwrap_or(libc::SIGINT) });
    }
    if summary.failed > 0 {
        return Err(Error::CellsFailed {
            count: summary.failed,
            logs: project.store.root().join("logs").display().to_string(),
        });
    }
    Ok(())
}
