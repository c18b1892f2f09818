//! `bakeoff compare`: two hosts' results of an experiment side by side, and `bakeoff reproduce`:
//! run what this host has not measured yet, then compare it with the hosts that have.

use std::fmt::Write;

use super::{CompareArgs, ReproduceArgs, RunArgs, SelectionArgs, TargetArgs};
use super::{out, outln};
use crate::Error;
use crate::project::{COMPARE_FORMAT, Compared, Pairing, Project};
use crate::report;

pub(super) fn run(project: &Project, args: &CompareArgs) -> Result<(), Error> {
    let loaded = project.load(&args.targets.targets)?;
    let pairing = project.pairing(&loaded, &args.hosts)?;
    let compared = project.compare(&loaded, &pairing)?;
    if compared.is_empty() {
        return Err(Error::NothingToCompare { experiments: loaded.selected.join(", ") });
    }
    print(&compared, args.json);
    Ok(())
}

pub(super) fn reproduce(project: &Project, args: &ReproduceArgs) -> Result<(), Error> {
    let run_args = RunArgs {
        targets: TargetArgs { targets: args.experiments.clone() },
        selection: SelectionArgs {
            force: false,
            retry_failed: args.retry_failed,
            only: args.only.clone(),
            except: Vec::new(),
        },
        no_load_groups: false,
        executor: args.executor.clone(),
        only_keys: Vec::new(),
        slurm_job: false,
    };
    let outcome = super::run::run_then(project, &run_args, false);
    // Failed cells are results like any other and are compared; anything else ends here.
    if let Err(error) = &outcome
        && !matches!(error, Error::CellsFailed { .. })
    {
        return outcome;
    }
    // The run printed the manifests' warnings already.
    let loaded = project.load_quietly(&args.experiments)?;
    let this_host = project.host()?.identity();
    let compared = project.compare(&loaded, &Pairing::Involving { this_host })?;
    if compared.is_empty() {
        crate::console::errln!(
            "compare: no other host has results of {} yet; commit results/ and run `bakeoff reproduce` on another \
             machine, or merge its results/ here",
            loaded.selected.join(", ")
        );
    } else {
        print(&compared, args.json);
    }
    outcome
}

fn print(compared: &[Compared], json: bool) {
    if json {
        let value = serde_json::json!({ "format": COMPARE_FORMAT, "comparisons": compared });
        outln!("{}", serde_json::to_string_pretty(&value).expect("a comparison always serialises"));
        return;
    }
    let mut out = String::new();
    let mut last: Option<&str> = None;
    for compared in compared {
        if last != Some(compared.experiment.as_str()) {
            let _ = write!(out, "# {}\n\n", compared.experiment);
            last = Some(&compared.experiment);
        }
        out.push_str(&report::render_comparison(&compared.comparison));
    }
    out!("{}", out.trim_end_matches('\n'));
    outln!();
}
