//! `bakeoff run`: run every cell that has no result yet, recording each as it finishes.

use std::time::Duration;

use super::plan::selection;
use super::{ExecutorKind, RunArgs};
use crate::Error;
use crate::notice::Notice;
use crate::project::{Executor, Project, RunRequest};
use crate::store::SlurmJob;

pub(super) fn run(project: &Project, args: &RunArgs) -> Result<(), Error> {
    run_then(project, args, true)
}

/// [`run`], printing the summary line on stdout (as data) or on stderr (when another output
/// follows on stdout, as with `bakeoff reproduce`).
pub(super) fn run_then(project: &Project, args: &RunArgs, summary_on_stdout: bool) -> Result<(), Error> {
    let executor = match (args.executor.executor, &args.executor.partition) {
        (ExecutorKind::Local, Some(_)) => {
            return Err(Error::Usage { message: "`--partition` is for `--executor slurm`".to_owned() });
        }
        (ExecutorKind::Local, None) => Executor::Local,
        (ExecutorKind::Slurm, partition) => Executor::Slurm { partition: partition.clone() },
    };
    let job = if args.slurm_job {
        let job = SlurmJob::from_env().ok_or_else(|| Error::Usage {
            message: "`--slurm-job` is for bakeoff inside a Slurm batch job: SLURM_JOB_ID is not set".to_owned(),
        })?;
        Some(job)
    } else {
        None
    };
    if let Some(facts) = &project.host_facts {
        // Planning for another machine is what `--host-facts` is for; a run measures this one.
        let notice = Notice::warning(format!(
            "`--host-facts {}` describes another machine, but the cells run here: this machine's measurements are \
             recorded under those facts and that host's id.\n  help: use `--host-facts` with `plan` to see what \
             would run there, and run `bakeoff run` on that machine to measure it",
            facts.display()
        ));
        crate::console::errln!("{notice}");
    }
    let mut selection = selection(&args.selection)?;
    selection.keys.clone_from(&args.only_keys);
    let request = RunRequest {
        targets: args.targets.targets.clone(),
        selection,
        grace: Duration::from_secs(args.executor.grace),
        progress_bars: !args.executor.no_progress,
        load_groups: !args.no_load_groups,
        executor,
        job,
        stop_after: args.executor.stop_after,
    };
    let outcome = project.run(&request)?;
    for note in &outcome.notes {
        crate::console::errln!("{note}");
    }
    let summary = outcome.summary;
    crate::console::errln!("{}", summary.time);
    if summary_on_stdout {
        // The run's exit code says how it went; a reader that left early does not change it.
        crate::cli::write_out_keeping_going(&format!("{summary}\n"));
    } else {
        crate::console::errln!("{summary}");
    }
    if summary.interrupted {
        return Err(Error::Interrupted { signal: summary.signal.unwrap_or(libc::SIGINT) });
    }
    if summary.failed > 0 {
        return Err(Error::CellsFailed { count: summary.failed, logs: project.store.logs_dir().display().to_string() });
    }
    Ok(())
}
