//! The plan as a petgraph DAG: what `bakeoff run` walks and `plan --dot` draws. Probing the
//! host, hashing models and inspecting toolboxes come first (a cell's fingerprint needs them,
//! so they are done while planning); then the measuring steps in the schedule's order — a
//! cell, a llama-bench load group and the cells it records, a server's start, its cells and
//! its stop — and each experiment's report once its cells are done. A quality candidate comes
//! after the reference whose base logits it reads.

use std::collections::BTreeMap;
use std::fmt::Write;

use petgraph::graph::{DiGraph, NodeIndex};

use super::decide::{Decision, PlannedCell};
use super::schedule::Work;

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    ProbeHost,
    HashModel(String),
    InspectToolbox(String),
    /// Index into the planned cells.
    Cell(usize),
    /// One llama-bench process for the cells of this unit of work (index into the work).
    LoadGroup(usize),
    StartServer(usize),
    StopServer(usize),
    Report(String),
}

#[derive(Debug)]
pub(crate) struct PlanGraph {
    pub graph: DiGraph<Step, ()>,
    /// The order among steps that are ready at the same time: the schedule's.
    priorities: BTreeMap<NodeIndex, (usize, usize)>,
}

impl PlanGraph {
    pub(crate) fn build(cells: &[PlannedCell], work: &[Work]) -> Self {
        let mut graph = DiGraph::new();
        let mut priorities = BTreeMap::new();
        let probe = graph.add_node(Step::ProbeHost);
        let mut models: BTreeMap<&str, NodeIndex> = BTreeMap::new();
        let mut toolboxes: BTreeMap<&str, NodeIndex> = BTreeMap::new();
        let mut reports: BTreeMap<&str, NodeIndex> = BTreeMap::new();
        for planned in cells {
            if let Some(model) = &planned.cell.model {
                models.entry(model).or_insert_with(|| graph.add_node(Step::HashModel(model.clone())));
            }
            let toolbox = planned.cell.toolbox.as_str();
            toolboxes.entry(toolbox).or_insert_with(|| graph.add_node(Step::InspectToolbox(toolbox.to_owned())));
        }
        let inputs = |graph: &mut DiGraph<Step, ()>, cell: usize, node: NodeIndex| {
            let planned = &cells[cell].cell;
            graph.add_edge(probe, node, ());
            if let Some(model) = &planned.model {
                graph.add_edge(models[model.as_str()], node, ());
            }
            graph.add_edge(toolboxes[planned.toolbox.as_str()], node, ());
        };
        let mut cell_nodes: BTreeMap<usize, NodeIndex> = BTreeMap::new();
        // Cells that do not run (cached, blocked, failed before) are settled first.
        for (index, planned) in cells.iter().enumerate() {
            if !matches!(planned.decision, Decision::Run(_)) {
                let node = graph.add_node(Step::Cell(index));
                inputs(&mut graph, index, node);
                priorities.insert(node, (0, index));
                cell_nodes.insert(index, node);
            }
        }
        for (position, unit) in work.iter().enumerate() {
            let rank = position + 1;
            match unit {
                Work::Cell(index) => {
                    let node = graph.add_node(Step::Cell(*index));
                    inputs(&mut graph, *index, node);
                    priorities.insert(node, (rank, 0));
                    cell_nodes.insert(*index, node);
                }
                Work::Quality(group) => {
                    for (order, &index) in group.iter().enumerate() {
                        let node = graph.add_node(Step::Cell(index));
                        inputs(&mut graph, index, node);
                        priorities.insert(node, (rank, order));
                        cell_nodes.insert(index, node);
                    }
                }
                Work::LoadGroup(group) => {
                    let load = graph.add_node(Step::LoadGroup(position));
                    priorities.insert(load, (rank, 0));
                    // One model and toolbox for the group: its cells differ in per-test values only.
                    inputs(&mut graph, group.cells[0], load);
                    for (order, &index) in group.cells.iter().enumerate() {
                        // A cell the group could not record runs alone, right after it.
                        let node = graph.add_node(Step::Cell(index));
                        graph.add_edge(load, node, ());
                        priorities.insert(node, (rank, order + 1));
                        cell_nodes.insert(index, node);
                    }
                }
                Work::Server(group) => {
                    let start = graph.add_node(Step::StartServer(position));
                    let stop = graph.add_node(Step::StopServer(position));
                    priorities.insert(start, (rank, 0));
                    priorities.insert(stop, (rank, group.cells.len() + 1));
                    inputs(&mut graph, group.cells[0], start);
                    for (order, &index) in group.cells.iter().enumerate() {
                        let node = graph.add_node(Step::Cell(index));
                        graph.add_edge(start, node, ());
                        graph.add_edge(node, stop, ());
                        priorities.insert(node, (rank, order + 1));
                        cell_nodes.insert(index, node);
                    }
                }
            }
        }
        // A quality candidate reads the base logits its reference writes.
        for (index, node) in &cell_nodes {
            let Some(base) = cells[*index].cell.base.as_ref().filter(|base| !base.writes) else { continue };
            let writer = cell_nodes.iter().find(|(other, _)| {
                cells[**other].cell.hash == base.reference
                    && cells[**other].cell.base.as_ref().is_some_and(|base| base.writes)
            });
            if let Some((_, writer)) = writer {
                graph.add_edge(*writer, *node, ());
            }
        }
        for (index, node) in &cell_nodes {
            let experiment = cells[*index].cell.cell.experiment.as_str();
            let report = *reports.entry(experiment).or_insert_with(|| {
                let report = graph.add_node(Step::Report(experiment.to_owned()));
                priorities.insert(report, (usize::MAX, 0));
                report
            });
            graph.add_edge(*node, report, ());
        }
        Self { graph, priorities }
    }

    /// Which of several ready steps goes first (lower first).
    pub(crate) fn priority(&self, node: NodeIndex) -> (usize, usize) {
        self.priorities.get(&node).copied().unwrap_or((0, 0))
    }

    /// Graphviz DOT, one node per step, labelled for people.
    pub(crate) fn to_dot(&self, cells: &[PlannedCell], work: &[Work]) -> String {
        let mut dot = String::from("digraph plan {\n    rankdir=LR;\n    node [shape=box];\n");
        for index in self.graph.node_indices() {
            let (label, style) = match &self.graph[index] {
                Step::ProbeHost => ("probe host".to_owned(), ""),
                Step::HashModel(model) => (format!("hash model {model}"), ""),
                Step::InspectToolbox(toolbox) => (format!("inspect toolbox {toolbox}"), ""),
                Step::Cell(cell) => {
                    let planned = &cells[*cell];
                    let style = match planned.decision {
                        Decision::Cached => ", style=dashed",
                        Decision::Run(_) => ", style=bold",
                        Decision::Blocked { .. } | Decision::FailedBefore { .. } => ", style=dotted",
                    };
                    (format!("{}\\n{}", planned.cell.id, status_word(&planned.decision)), style)
                }
                Step::LoadGroup(position) => {
                    let argv = match &work[*position] {
                        Work::LoadGroup(group) => group.argv.join(" "),
                        _ => String::new(),
                    };
                    (format!("llama-bench load group\\n{argv}"), ", shape=component")
                }
                Step::StartServer(position) => {
                    let argv = match &work[*position] {
                        Work::Server(group) => format!("{}: {}", group.toolbox, group.argv.join(" ")),
                        _ => String::new(),
                    };
                    (format!("start server\\n{argv}"), ", shape=invhouse")
                }
                Step::StopServer(_) => ("stop server".to_owned(), ", shape=house"),
                Step::Report(experiment) => (format!("report {experiment}"), ""),
            };
            let _ = writeln!(dot, "    n{} [label=\"{}\"{style}];", index.index(), label.replace('"', "\\\""));
        }
        for edge in self.graph.raw_edges() {
            let _ = writeln!(dot, "    n{} -> n{};", edge.source().index(), edge.target().index());
        }
        dot.push_str("}\n");
        dot
    }
}

pub(crate) fn status_word(decision: &Decision) -> &'static str {
    match decision {
        Decision::Cached => "cached",
        Decision::Run(_) => "will run",
        Decision::Blocked { .. } => "blocked",
        Decision::FailedBefore { .. } => "failed before",
    }
}
