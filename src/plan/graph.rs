//! The plan as a petgraph DAG: probe host, hash inputs, inspect toolboxes → cells → reports.

use std::collections::BTreeMap;
use std::fmt::Write;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use super::decide::{Decision, PlannedCell};

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    ProbeHost,
    HashModel(String),
    InspectToolbox(String),
    /// Index into the planned cells.
    Cell(usize),
    Report(String),
}

#[derive(Debug)]
pub struct PlanGraph {
    pub graph: DiGraph<Step, ()>,
}

impl PlanGraph {
    pub fn build(cells: &[PlannedCell]) -> Self {
        let mut graph = DiGraph::new();
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
        for (index, planned) in cells.iter().enumerate() {
            let node = graph.add_node(Step::Cell(index));
            graph.add_edge(probe, node, ());
            if let Some(model) = &planned.cell.model {
                graph.add_edge(models[model.as_str()], node, ());
            }
            graph.add_edge(toolboxes[planned.cell.toolbox.as_str()], node, ());
            let experiment = planned.cell.cell.experiment.as_str();
            let report =
                *reports.entry(experiment).or_insert_with(|| graph.add_node(Step::Report(experiment.to_owned())));
            graph.add_edge(node, report, ());
        }
        Self { graph }
    }

    /// Steps in an order that respects every edge.
    pub fn order(&self) -> Vec<NodeIndex> {
        petgraph::algo::toposort(&self.graph, None).expect("the plan graph has no cycles by construction")
    }

    /// Graphviz DOT, one node per step, labelled for people.
    pub fn to_dot(&self, cells: &[PlannedCell]) -> String {
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

    /// How many cells depend on the step at `index`.
    pub fn dependents(&self, index: NodeIndex) -> usize {
        self.graph.neighbors_directed(index, Direction::Outgoing).count()
    }
}

pub fn status_word(decision: &Decision) -> &'static str {
    match decision {
        Decision::Cached => "cached",
        Decision::Run(_) => "will run",
        Decision::Blocked { .. } => "blocked",
        Decision::FailedBefore { .. } => "failed before",
    }
}
