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
    let busy_threshold = busy_threshold(args.executor.busy_threshold.as_deref())?;
    if args.executor.quiet_host && busy_threshold.is_none() {
        return Err(Error::Usage {
            message: "`--quiet-host` waits for the load to fall below `--busy-threshold`, which is `off`".to_owned(),
        });
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
        busy_threshold,
        quiet_host: args.executor.quiet_host.then(|| Duration::from_secs(args.executor.quiet_timeout)),
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

/// The busy-host threshold as a share of the CPUs: `--busy-threshold`, else
/// `BAKEOFF_BUSY_THRESHOLD`, else the default; `None` for `off`.
fn busy_threshold(flag: Option<&str>) -> Result<Option<f64>, Error> {
    let variable = std::env::var("BAKEOFF_BUSY_THRESHOLD").ok().filter(|value| !value.trim().is_empty());
    match (flag, &variable) {
        (Some(text), _) => parse_threshold(text, "`--busy-threshold`"),
        (None, Some(text)) => parse_threshold(text, "`BAKEOFF_BUSY_THRESHOLD`"),
        (None, None) => Ok(Some(crate::run::DEFAULT_BUSY_THRESHOLD)),
    }
}

/// `20`, `20%` or `off` (given as `from`) → 0.2, 0.2 or no threshold.
fn parse_threshold(text: &str, from: &str) -> Result<Option<f64>, Error> {
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let percent = trimmed.strip_suffix('%').unwrap_or(trimmed).trim().parse::<f64>().ok();
    match percent {
        Some(percent) if (0.0..=100.0).contains(&percent) => Ok(Some(percent / 100.0)),
        _ => Err(Error::Usage {
            message: format!("{from} is a percentage of the CPUs from 0 to 100 (`20`, `20%`) or `off`, not `{text}`"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_threshold;

    #[test]
    fn a_threshold_is_a_percentage_or_off() {
        let parse = |text| parse_threshold(text, "`--busy-threshold`").ok();
        assert_eq!(parse("20"), Some(Some(0.2)));
        assert_eq!(parse(" 7.5% "), Some(Some(0.075)));
        assert_eq!(parse("OFF"), Some(None));
        for wrong in ["150", "-1", "0.2x", "", "NaN"] {
            assert_eq!(parse(wrong), None, "{wrong}");
        }
    }
}
