//! The experiment's cells on each host as points of a grid: one dimension per axis, plus the
//! workload and the host, each with its values in the order the manifest declares them.

use std::collections::HashMap;

use super::select::{Chosen, ExpectedCell};
use crate::manifest::Experiment;
use crate::matrix::workloads;
use crate::store::CellRecord;

pub(super) use crate::manifest::pseudo_axis::{HOST, WORKLOAD};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dimension {
    pub(super) name: String,
    pub(super) values: Vec<String>,
    /// Whether its values are conditions of the measurement (a depth, a prompt length), not
    /// configurations to choose between: [`crate::manifest::condition_axes`].
    pub(super) condition: bool,
}

/// One cell on one host, with its record if it has one.
#[derive(Debug, Clone)]
pub(super) struct Point<'a> {
    /// The index of its value in each dimension.
    pub(super) coords: Vec<usize>,
    pub(super) cell: usize,
    pub(super) record: Option<&'a CellRecord>,
}

#[derive(Debug)]
pub(super) struct Grid<'a> {
    pub(super) dimensions: Vec<Dimension>,
    pub(super) points: Vec<Point<'a>>,
    index: HashMap<Vec<usize>, usize>,
}

impl<'a> Grid<'a> {
    pub(super) fn new(experiment: &Experiment, cells: &[ExpectedCell], chosen: &Chosen<'a>) -> Self {
        let conditions = crate::manifest::condition_axes(experiment);
        let mut dimensions: Vec<Dimension> = experiment
            .axes
            .iter()
            .map(|axis| Dimension {
                name: axis.name.value.clone(),
                // With the values `include` adds: a cell's value found nowhere was once put under
                // the first value's label.
                values: experiment.axis_values(&axis.name.value).into_iter().map(str::to_owned).collect(),
                condition: conditions.contains(&axis.name.value),
            })
            .collect();
        dimensions.push(Dimension { name: WORKLOAD.to_owned(), values: workloads(experiment), condition: false });
        // With no results yet there is no host; one unnamed host keeps every cell on the grid.
        let hosts = if chosen.hosts.is_empty() { vec![String::new()] } else { chosen.hosts.clone() };
        dimensions.push(Dimension { name: HOST.to_owned(), values: hosts, condition: false });
        let mut points = Vec::with_capacity(cells.len() * chosen.hosts.len().max(1));
        for (index, cell) in cells.iter().enumerate() {
            let mut coords: Vec<usize> = experiment
                .axes
                .iter()
                .zip(&dimensions)
                .map(|(axis, dimension)| {
                    let value = cell.axes.iter().find(|(name, _)| *name == axis.name.value).map(|(_, value)| value);
                    value.and_then(|value| dimension.values.iter().position(|known| known == value)).unwrap_or(0)
                })
                .collect();
            let workload = dimensions[dimensions.len() - 2].values.iter().position(|name| *name == cell.workload);
            coords.push(workload.unwrap_or(0));
            for host in 0..dimensions[dimensions.len() - 1].values.len() {
                let mut coords = coords.clone();
                coords.push(host);
                let record = chosen.records[index].get(host).copied().flatten();
                points.push(Point { coords, cell: index, record });
            }
        }
        let index = points.iter().enumerate().map(|(position, point)| (point.coords.clone(), position)).collect();
        Self { dimensions, points, index }
    }

    pub(super) fn dimension(&self, name: &str) -> Option<usize> {
        self.dimensions.iter().position(|dimension| dimension.name == name)
    }

    pub(super) fn host_dimension(&self) -> usize {
        self.dimensions.len() - 1
    }

    pub(super) fn point(&self, coords: &[usize]) -> Option<&Point<'a>> {
        self.index.get(coords).map(|&position| &self.points[position])
    }

    /// The dimensions in which `points` take more than one value, in dimension order.
    pub(super) fn varying(&self, points: &[&Point<'_>]) -> Vec<usize> {
        (0..self.dimensions.len())
            .filter(|&dimension| {
                let first = points.first().map(|point| point.coords[dimension]);
                points.iter().any(|point| Some(point.coords[dimension]) != first)
            })
            .collect()
    }

    pub(super) fn value(&self, dimension: usize, point: &Point<'_>) -> &str {
        &self.dimensions[dimension].values[point.coords[dimension]]
    }
}
