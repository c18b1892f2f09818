//! One figure of a summary or a per-turn table: a mean, its spread and how many requests it is
//! of. Its own file, below both the summary and the breakdown, which each show figures.

use serde::Serialize;

use crate::store::MetricValue;

/// One value of the summary: a mean, its spread and how many requests it is of.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figure {
    pub mean: f64,
    /// The standard deviation over `count` requests; none for one.
    pub spread: Option<f64>,
    pub count: usize,
}

impl Figure {
    pub(super) fn of(value: &MetricValue) -> Self {
        Self { mean: value.mean, spread: value.stddev, count: value.samples.len().max(1) }
    }
}
