//! `bakeoff check`: validate manifests, and say which metrics each block's cells record.

use serde::Serialize;

use super::CheckArgs;
use super::outln;
use crate::Error;
use crate::manifest::{BlockProduces, produces};
use crate::matrix::expand;
use crate::project::Project;

/// Bump when `check --json` changes shape.
const CHECK_FORMAT: u32 = 1;

#[derive(Debug, Serialize)]
struct Checked {
    format: u32,
    experiments: Vec<CheckedExperiment>,
    toolboxes: usize,
    models: usize,
    warnings: usize,
}

#[derive(Debug, Serialize)]
struct CheckedExperiment {
    name: String,
    cells: usize,
    /// Per block (`bench`, `command`, each server workload), the names its cells record.
    blocks: Vec<BlockProduces>,
}

pub(super) fn run(project: &Project, args: &CheckArgs) -> Result<(), Error> {
    let loaded = project.load(&args.targets.targets)?;
    for notice in project.check_storage(&loaded)? {
        crate::console::errln!("{notice}");
    }
    let manifests = &loaded.manifests;
    let experiments: Vec<CheckedExperiment> = loaded
        .experiments()
        .iter()
        .map(|experiment| CheckedExperiment {
            name: experiment.name.value.clone(),
            cells: expand(experiment).len(),
            blocks: produces(experiment),
        })
        .collect();
    let checked = Checked {
        format: CHECK_FORMAT,
        toolboxes: manifests.toolboxes.len(),
        models: manifests.models.len(),
        warnings: manifests.warnings.len(),
        experiments,
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&checked).expect("a check always serialises"));
        return Ok(());
    }
    outln!(
        "ok: {} experiment(s) with {} cell(s), {} toolbox(es), {} model(s), {} warning(s)",
        checked.experiments.len(),
        checked.experiments.iter().map(|experiment| experiment.cells).sum::<usize>(),
        checked.toolboxes,
        checked.models,
        checked.warnings
    );
    if args.produces {
        for experiment in &checked.experiments {
            for block in &experiment.blocks {
                print_block(&experiment.name, block);
            }
        }
    }
    Ok(())
}

/// `experiment `e`, workload `chat` (server):` and a name a line, with when it is recorded
/// where that is not always.
fn print_block(experiment: &str, block: &BlockProduces) {
    let what =
        if block.kind == "server" { format!("workload `{}` (server)", block.block) } else { block.kind.to_owned() };
    outln!();
    outln!("experiment `{experiment}`, {what}:");
    let width = block.metrics.iter().map(|metric| metric.name.len()).max().unwrap_or(0);
    for metric in &block.metrics {
        let mut notes = Vec::new();
        if metric.pattern {
            notes.push("K, N: any number");
        }
        notes.extend(metric.condition.map(crate::metric::Condition::words));
        if notes.is_empty() {
            outln!("  {}", metric.name);
        } else {
            outln!("  {:width$}  {}", metric.name, notes.join("; "));
        }
    }
}
