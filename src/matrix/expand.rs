//! Matrix expansion: the cartesian product of the axes, less `exclude`s, plus `include`s.

use super::cell::{Block, Cell};
use crate::glob::glob_match;
use crate::manifest::{Experiment, Filter};

/// The workloads each assignment of an experiment runs, in a fixed order.
pub(crate) fn workloads(experiment: &Experiment) -> Vec<String> {
    blocks(experiment).into_iter().map(|(name, _)| name).collect()
}

/// The workloads with the block each runs.
fn blocks(experiment: &Experiment) -> Vec<(String, Block)> {
    let mut names = Vec::new();
    if experiment.bench.is_some() {
        names.push(("bench".to_owned(), Block::Bench));
    }
    if experiment.command.is_some() {
        names.push(("command".to_owned(), Block::Command));
    }
    if experiment.quality.is_some() {
        names.push(("quality".to_owned(), Block::Quality));
    }
    if experiment.server.is_some() {
        names.extend(experiment.workloads.iter().map(|workload| (workload.name.value.clone(), Block::Server)));
    }
    names
}

/// Every cell of `experiment`, in a deterministic order: the first axis varies slowest,
/// then included assignments in the order they are written, each with every workload.
pub(crate) fn expand(experiment: &Experiment) -> Vec<Cell> {
    let axes: Vec<(&str, Vec<&str>)> = experiment
        .axes
        .iter()
        .map(|axis| (axis.name.value.as_str(), axis.values.iter().map(|value| value.value.value.as_str()).collect()))
        .collect();
    let mut assignments: Vec<Vec<&str>> = Vec::new();
    cartesian(&axes, &mut Vec::new(), &mut |assignment| {
        if !experiment.excludes.iter().any(|filter| excluded(filter, &axes, assignment)) {
            assignments.push(assignment.to_vec());
        }
    });
    for include in &experiment.includes {
        // Axes the include leaves out take each of their values.
        let constrained: Vec<(&str, Vec<&str>)> = axes
            .iter()
            .map(|(name, values)| {
                let pinned = include.conditions.iter().find(|(axis, _)| axis.value == *name);
                (*name, pinned.map_or_else(|| values.clone(), |(_, value)| vec![value.value.as_str()]))
            })
            .collect();
        cartesian(&constrained, &mut Vec::new(), &mut |assignment| {
            if !assignments.iter().any(|existing| existing == assignment) {
                assignments.push(assignment.to_vec());
            }
        });
    }
    let workloads = blocks(experiment);
    let mut cells = Vec::with_capacity(assignments.len() * workloads.len());
    for assignment in assignments {
        let values: Vec<(String, String)> =
            axes.iter().zip(&assignment).map(|((name, _), value)| ((*name).to_owned(), (*value).to_owned())).collect();
        for (workload, block) in &workloads {
            cells.push(Cell {
                experiment: experiment.name.value.clone(),
                axes: values.clone(),
                workload: workload.clone(),
                block: *block,
            });
        }
    }
    cells
}

fn cartesian<'a>(axes: &[(&'a str, Vec<&'a str>)], prefix: &mut Vec<&'a str>, visit: &mut impl FnMut(&[&'a str])) {
    let Some(((_, values), rest)) = axes.split_first() else {
        visit(prefix);
        return;
    };
    for value in values {
        prefix.push(value);
        cartesian(rest, prefix, visit);
        prefix.pop();
    }
}

fn excluded(filter: &Filter, axes: &[(&str, Vec<&str>)], assignment: &[&str]) -> bool {
    filter.conditions.iter().all(|(axis, pattern)| {
        axes.iter()
            .position(|(name, _)| *name == axis.value)
            .is_some_and(|index| glob_match(&pattern.value, assignment[index]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::load_text;
    use std::path::Path;

    fn experiment(body: &str) -> Experiment {
        let text = format!(
            "toolbox \"a\"\ntoolbox \"b\"\nmodel \"m1\" file=\"m1.gguf\"\nmodel \"m2\" file=\"m2.gguf\"\n\
             experiment \"e\" {{\n{body}\nbench {{ args \"-d\" \"{{depth}}\" }}\n}}"
        );
        let manifests = load_text(Path::new("/"), Path::new("/e.kdl"), &text).unwrap();
        manifests.experiment("e").unwrap().clone()
    }

    fn ids(experiment: &Experiment) -> Vec<String> {
        expand(experiment).iter().map(Cell::id).collect()
    }

    #[test]
    fn first_axis_varies_slowest() {
        let experiment = experiment("matrix { model \"m1\" \"m2\"\n toolbox \"a\"\n depth 0 512 }");
        assert_eq!(
            ids(&experiment),
            [
                "e/model=m1,toolbox=a,depth=0/bench",
                "e/model=m1,toolbox=a,depth=512/bench",
                "e/model=m2,toolbox=a,depth=0/bench",
                "e/model=m2,toolbox=a,depth=512/bench",
            ]
        );
    }

    #[test]
    fn excludes_take_globs_and_includes_add_cells() {
        let experiment = experiment(
            "matrix { model \"m1\" \"m2\"\n toolbox \"a\" \"b\"\n depth 0 }\n\
             exclude toolbox=\"b*\" model=\"m2\"\n\
             include model=\"m1\" depth=65536\n\
             include model=\"m1\" toolbox=\"a\" depth=0",
        );
        assert_eq!(
            ids(&experiment),
            [
                "e/model=m1,toolbox=a,depth=0/bench",
                "e/model=m1,toolbox=b,depth=0/bench",
                "e/model=m2,toolbox=a,depth=0/bench",
                "e/model=m1,toolbox=a,depth=65536/bench",
                "e/model=m1,toolbox=b,depth=65536/bench",
            ]
        );
    }

    /// The values an axis takes are those its cells have, an `include`'s too: a model named
    /// only in an `include` was never looked up nor hashed, and its cells were blocked with
    /// "model `m2` was not looked up".
    #[test]
    fn axis_values_are_those_the_cells_take() {
        let experiment = experiment(
            "matrix { model \"m1\"\n toolbox \"a\"\n depth 0 }\n\
             include model=\"m2\" toolbox=\"b\" depth=512\n\
             include model=\"m1\" depth=512",
        );
        for axis in ["model", "toolbox", "depth"] {
            let mut taken: Vec<&str> = Vec::new();
            let cells = expand(&experiment);
            for value in cells.iter().filter_map(|cell| cell.value(axis)) {
                if !taken.contains(&value) {
                    taken.push(value);
                }
            }
            assert_eq!(experiment.axis_values(axis), taken, "{axis}");
        }
        assert!(experiment.axis_values("threads").is_empty());
    }

    #[test]
    fn a_missing_toolbox_axis_means_the_host() {
        let experiment = experiment("matrix { model \"m1\"\n depth 1 }");
        assert_eq!(ids(&experiment), ["e/model=m1,depth=1,toolbox=host/bench"]);
    }
}
