//! The order a run measures in, and what shares a process. Untested models come first (a
//! model with no result on this host yet is what a user waits for), then the manifests'
//! order; cells that differ only in llama-bench's per-test parameters share one llama-bench
//! process (a load group); server cells share one llama-server per distinct toolbox and
//! command line, across experiments.

use std::collections::BTreeSet;

use super::decide::{Decision, PlannedCell};
use super::load_group::{LoadGroup, groups, split};
use crate::matrix::WorkloadKind;
use crate::store::{CellRecord, Status};

/// One unit of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Work {
    /// A bench or command cell in its own process (index into the planned cells).
    Cell(usize),
    /// Bench cells one llama-bench process runs.
    LoadGroup(LoadGroup),
    /// Server cells one llama-server serves, in order.
    Server(ServerGroup),
    /// Quality cells of one reference: the reference (when it runs) and the candidates that
    /// read its base, each its own process, kept together so that one Slurm job runs them in
    /// order.
    Quality(Vec<usize>),
}

impl Work {
    /// The planned cells this unit runs.
    pub(crate) fn cells(&self) -> &[usize] {
        match self {
            Self::Cell(cell) => std::slice::from_ref(cell),
            Self::LoadGroup(group) => &group.cells,
            Self::Server(group) => &group.cells,
            Self::Quality(cells) => cells,
        }
    }
}

/// A distinct (toolbox, llama-server argv) and the cells it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerGroup {
    pub toolbox: String,
    pub argv: Vec<String>,
    pub cells: Vec<usize>,
}

/// The models with an ok result on the host `host_id`: in `records`, or cached in the plan.
pub(crate) fn tested_models(records: &[CellRecord], planned: &[PlannedCell], host_id: &str) -> BTreeSet<String> {
    let recorded = records
        .iter()
        .filter(|record| record.status == Status::Ok && record.host.id == host_id)
        .filter_map(|record| record.axes.get("model").cloned());
    let cached = planned
        .iter()
        .filter(|planned| planned.decision == Decision::Cached)
        .filter_map(|planned| planned.cell.model.clone());
    recorded.chain(cached).collect()
}

/// The cells that will run, as units in run order. `tested` names the models that already
/// have an ok result on this host; `load_groups` off runs every bench cell alone.
pub(crate) fn schedule(cells: &[PlannedCell], tested: &BTreeSet<String>, load_groups: bool) -> Vec<Work> {
    let to_run: Vec<usize> =
        (0..cells.len()).filter(|&index| matches!(cells[index].decision, Decision::Run(_))).collect();
    let mut work: Vec<Work> = Vec::new();
    // Servers: one per (toolbox, argv), whichever experiment the cells come from.
    for &index in &to_run {
        let cell = &cells[index].cell;
        if !matches!(cell.cell.kind(), WorkloadKind::Server(_)) {
            continue;
        }
        let existing = work.iter_mut().find_map(|unit| match unit {
            Work::Server(group) if group.toolbox == cell.toolbox && group.argv == cell.argv => Some(group),
            _ => None,
        });
        match existing {
            Some(group) => group.cells.push(index),
            None => work.push(Work::Server(ServerGroup {
                toolbox: cell.toolbox.clone(),
                argv: cell.argv.clone(),
                cells: vec![index],
            })),
        }
    }
    // Bench cells: load groups per toolbox, the rest alone; command cells alone.
    let bench: Vec<usize> =
        to_run.iter().copied().filter(|&index| cells[index].cell.cell.kind() == WorkloadKind::Bench).collect();
    let splits: Vec<(usize, super::load_group::Split)> = bench
        .iter()
        .filter(|_| load_groups)
        .filter_map(|&index| Some((index, split(&cells[index].cell.argv)?)))
        .collect();
    let toolboxes: BTreeSet<&str> = bench.iter().map(|&index| cells[index].cell.toolbox.as_str()).collect();
    let mut grouped: BTreeSet<usize> = BTreeSet::new();
    for toolbox in toolboxes {
        let same: Vec<(usize, &super::load_group::Split)> = splits
            .iter()
            .filter(|(index, _)| cells[*index].cell.toolbox == toolbox)
            .map(|(index, split)| (*index, split))
            .collect();
        for group in groups(&same) {
            grouped.extend(group.cells.iter().copied());
            work.push(Work::LoadGroup(group));
        }
    }
    for &index in &to_run {
        let kind = cells[index].cell.cell.kind();
        if (kind == WorkloadKind::Bench && !grouped.contains(&index)) || kind == WorkloadKind::Command {
            work.push(Work::Cell(index));
        }
    }
    // Quality cells: per reference, the reference first.
    let mut quality: Vec<(String, Vec<usize>)> = Vec::new();
    for &index in &to_run {
        let Some(base) = &cells[index].cell.base else { continue };
        let writes = base.writes;
        match quality.iter_mut().find(|(reference, _)| *reference == base.reference) {
            Some((_, group)) if writes => group.insert(0, index),
            Some((_, group)) => group.push(index),
            None => quality.push((base.reference.clone(), vec![index])),
        }
    }
    work.extend(quality.into_iter().map(|(_, group)| Work::Quality(group)));
    // Untested models first, then the manifests' order (of each unit's first cell).
    let untested = |index: usize| cells[index].cell.model.as_ref().is_some_and(|model| !tested.contains(model));
    work.sort_by_key(|unit| {
        let first = unit.cells().iter().copied().min().unwrap_or(usize::MAX);
        (!unit.cells().iter().any(|&index| untested(index)), first)
    });
    work
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::ResolvedCell;
    use crate::matrix::Cell;
    use crate::plan::RunReason;

    fn planned(experiment: &str, workload: &str, model: &str, argv: &str) -> PlannedCell {
        let cell = Cell {
            experiment: experiment.to_owned(),
            axes: vec![("model".to_owned(), model.to_owned())],
            workload: workload.to_owned(),
            block: match workload {
                "bench" => crate::matrix::Block::Bench,
                "command" => crate::matrix::Block::Command,
                _ => crate::matrix::Block::Server,
            },
        };
        let fingerprint: crate::fingerprint::Fingerprint = serde_json::from_value(serde_json::json!({
            "argv": [], "axes": {}, "schema": 1,
            "host": { "cpu": "", "firmware": null, "gpus": [], "kernel": "", "memory_bytes": 0 },
            "toolbox": { "digest": null, "env": {}, "image": null, "llama_cpp": null, "name": "host", "runner": "host" },
            "workload": { "kind": "bench" }
        }))
        .unwrap();
        PlannedCell {
            cell: ResolvedCell {
                id: cell.id(),
                cell,
                argv: argv.split_whitespace().map(str::to_owned).collect(),
                fingerprint,
                hash: String::new(),
                toolbox: "host".to_owned(),
                model: Some(model.to_owned()),
                blocked: Vec::new(),
                drift: Vec::new(),
                notes: Vec::new(),
                unhashed: Vec::new(),
                base: None,
            },
            decision: Decision::Run(RunReason::New),
        }
    }

    /// A model with no result here runs before one that has results, whatever the manifest
    /// order; within each, the manifest's order.
    #[test]
    fn untested_models_come_first() {
        let cells = [
            planned("e", "bench", "old", "llama-bench -m old.gguf -p 8"),
            planned("e", "bench", "new", "llama-bench -m new.gguf -p 8"),
            planned("e", "command", "old", "echo old"),
        ];
        let tested = BTreeSet::from(["old".to_owned()]);
        assert_eq!(schedule(&cells, &tested, true), [Work::Cell(1), Work::Cell(0), Work::Cell(2)]);
        assert_eq!(schedule(&cells, &BTreeSet::new(), true), [Work::Cell(0), Work::Cell(1), Work::Cell(2)]);
    }

    /// Two experiments whose cells need the same server share it.
    #[test]
    fn one_server_per_command_line_across_experiments() {
        let cells = [
            planned("first", "chat", "m", "llama-server -m m.gguf -c 4096"),
            planned("second", "agent", "m", "llama-server -m m.gguf -c 4096"),
            planned("second", "agent", "m", "llama-server -m m.gguf -c 8192"),
        ];
        let work = schedule(&cells, &BTreeSet::new(), true);
        let servers: Vec<&[usize]> = work.iter().map(Work::cells).collect();
        assert_eq!(servers, [&[0, 1][..], &[2][..]]);
    }

    #[test]
    fn bench_cells_that_differ_in_threads_share_a_process() {
        let cells = [
            planned("e", "bench", "m", "llama-bench -m m.gguf -t 1 -p 8"),
            planned("e", "bench", "m", "llama-bench -m m.gguf -t 2 -p 8"),
            planned("e", "bench", "m", "llama-bench -m m.gguf -t 1,2 -p 8"),
        ];
        let work = schedule(&cells, &BTreeSet::new(), true);
        assert_eq!(work.len(), 2, "{work:?}");
        assert!(matches!(&work[0], Work::LoadGroup(group) if group.cells == [0, 1]));
        assert_eq!(work[1], Work::Cell(2));
        let alone = schedule(&cells, &BTreeSet::new(), false);
        assert_eq!(alone, [Work::Cell(0), Work::Cell(1), Work::Cell(2)]);
    }
}
