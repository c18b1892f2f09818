//! Pivot tables: one metric, rows and columns from the experiment's dimensions, ratios against
//! the baseline and the best configuration.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::grid::{Grid, HOST, Point, WORKLOAD};
use crate::metric::{MetricName, Phase, USAGE};
use crate::store::{MetricValue, Status};

pub(crate) use crate::manifest::Better;

/// What the report was asked for: a `table` line of the `report` block, or the defaults.
#[derive(Debug, Clone, Default)]
pub(super) struct TableRequest {
    pub(super) rows: Option<String>,
    pub(super) columns: Option<String>,
    pub(super) metric: Option<String>,
    pub(super) better: Option<Better>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub metric: String,
    pub unit: String,
    pub better: Option<Better>,
    /// The dimensions that name a row: the `rows` dimension, then the others that vary.
    pub keys: Vec<String>,
    /// The dimension spread over the columns; `None` for a single column of values.
    pub column_dimension: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub baseline: BTreeMap<String, String>,
    /// The best measured configuration on each host.
    pub best: Vec<Best>,
    /// A chart of the table, when it has values: its file name beside the report.
    pub chart: Option<Chart>,
    /// Why the chart this table would have could not be drawn: said where it would have been.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_refused: Option<String>,
    /// The smallest and largest value of any table of the same metric family (`ttft_ms`,
    /// `ttft_ms_first`, `ttft_ms_warm`, …), so that a family is shown in one unit throughout.
    #[serde(skip)]
    pub family_extent: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub key: Vec<String>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Entry {
    Ok {
        mean: f64,
        /// What `±` shows: the half-width of the 95% confidence interval over rounds, or the
        /// standard deviation of one run's repetitions.
        spread: Option<f64>,
        samples: usize,
        /// Rounds the value is the mean of (1 without `rounds`).
        rounds: usize,
        /// Round numbers flagged as outliers.
        outliers: Vec<usize>,
        /// Rounds recorded and asked for, when the cell has fewer than the experiment asks
        /// (a run interrupted between rounds): its value is not yet what the others are.
        #[serde(skip_serializing_if = "Option::is_none")]
        partial: Option<(usize, usize)>,
        /// Against the baseline cell with the same other values, when both were measured.
        ratio: Option<f64>,
        /// Whether the ratio is a real difference (Welch's t-test over the rounds).
        significance: Option<Significance>,
        baseline: bool,
    },
    Failed,
    TimedOut,
    Blocked,
    /// Its toolbox failed `stop-after` cells in a row: skipped in that run.
    Skipped,
    /// The cell ran, but did not give this metric.
    NoMetric,
    NotRun,
    /// The matrix has no such cell (an `exclude`), or it belongs to another workload.
    Absent,
}

impl Entry {
    /// The status of a cell that has no value to show: its word in tables and charts.
    pub fn unmeasured_status(&self) -> Option<Status> {
        match self {
            Self::Failed => Some(Status::Failed),
            Self::TimedOut => Some(Status::TimedOut),
            Self::Blocked => Some(Status::Blocked),
            Self::Skipped => Some(Status::Skipped),
            _ => None,
        }
    }
}

/// Whether two measurements differ beyond chance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Significance {
    /// Welch's t-test over the rounds: p < 0.05.
    Significant {
        p: f64,
    },
    NotSignificant {
        p: f64,
    },
    /// One of the two has a single round: there is no spread to test against.
    NotEnoughRounds,
}

impl Significance {
    /// Welch's t-test of `value` against `reference`, over their rounds.
    pub fn of(value: &MetricValue, reference: &MetricValue) -> Self {
        let tested = value.round_values().zip(reference.round_values()).and_then(|(a, b)| crate::stats::welch(a, b));
        match tested {
            Some(welch) if welch.significant() => Self::Significant { p: welch.p },
            Some(welch) => Self::NotSignificant { p: welch.p },
            None => Self::NotEnoughRounds,
        }
    }

    pub fn significant(self) -> bool {
        matches!(self, Self::Significant { .. })
    }

    pub fn words(self) -> String {
        match self {
            Self::Significant { p } => format!("significant (p {})", p_value(p)),
            Self::NotSignificant { p } => format!("not significant (p {})", p_value(p)),
            Self::NotEnoughRounds => "not enough rounds".to_owned(),
        }
    }
}

/// `= 0.031`, `< 0.001`.
pub(super) fn p_value(p: f64) -> String {
    if p < 0.001 { "< 0.001".to_owned() } else { format!("= {p:.3}") }
}

/// The top configuration of one group of a table (a workload on a host, at one value of each
/// condition axis) against its runner-up, and whether the data tell them apart. A "best" is
/// named only when they do; otherwise the report says the two are indistinguishable, with
/// their figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Best {
    /// Set when the table spans several workloads: they are different tasks, not
    /// configurations to choose between, so each has its best.
    pub workload: Option<String>,
    pub host: Option<String>,
    /// The condition values the configurations were compared at (`depth=4096`): see
    /// [`crate::manifest::condition_axes`].
    pub at: Vec<String>,
    /// The values that vary in the table, as `axis=value` in dimension order.
    pub configuration: Vec<String>,
    pub mean: f64,
    /// The spread the verdict weighed (see [`Evidence`]).
    pub spread: Option<f64>,
    pub ratio: Option<f64>,
    /// The next configuration by mean.
    pub runner_up: Contender,
    pub evidence: Evidence,
    /// Whether the difference to the runner-up is beyond noise, so the best is named.
    pub clear: bool,
}

/// A configuration a best was weighed against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contender {
    pub configuration: Vec<String>,
    pub mean: f64,
    pub spread: Option<f64>,
}

/// What tells the top configuration from the runner-up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "test", rename_all = "kebab-case")]
pub enum Evidence {
    /// Both were measured in rounds: Welch's t-test over them (clear when p < 0.05); the
    /// spreads are the 95% confidence intervals of the means.
    Welch { p: f64 },
    /// Without rounds: whether mean ± standard deviation of the samples overlap (clear when
    /// they do not). Weaker than a test, but a difference inside one run's own scatter is not
    /// a difference.
    Spreads { overlap: bool },
    /// Neither has a spread (one sample each): nothing to tell a difference from noise by.
    NoSpread,
}

impl Evidence {
    /// The verdict on `top` against `second`: Welch's test when both have rounds, else
    /// their samples' spreads; with the spread of each that was weighed.
    fn weigh(top: &MetricValue, second: &MetricValue) -> (Self, Option<f64>, Option<f64>) {
        let rounds = top.round_values().zip(second.round_values()).and_then(|(a, b)| crate::stats::welch(a, b));
        if let Some(welch) = rounds {
            return (Self::Welch { p: welch.p }, top.spread(), second.spread());
        }
        let (a, b) = (sample_spread(top), sample_spread(second));
        if a.is_none() && b.is_none() {
            return (Self::NoSpread, None, None);
        }
        let reach = a.unwrap_or(0.0) + b.unwrap_or(0.0);
        (Self::Spreads { overlap: (top.mean - second.mean).abs() <= reach }, a, b)
    }

    /// Whether this evidence tells the two apart.
    pub fn clear(self) -> bool {
        match self {
            Self::Welch { p } => p < crate::stats::SIGNIFICANCE,
            Self::Spreads { overlap } => !overlap,
            Self::NoSpread => false,
        }
    }
}

/// The standard deviation of a metric's samples (all rounds' together), or the one recorded
/// when there are no samples to compute it from.
fn sample_spread(value: &MetricValue) -> Option<f64> {
    crate::stats::stddev(&value.samples).or(value.stddev).filter(|spread| spread.is_finite() && *spread > 0.0)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chart {
    pub file: String,
    pub kind: ChartKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChartKind {
    Bar,
    Line,
}

/// The metrics to tabulate when the report names none: every metric the results have, less
/// token counts, and less a server metric's mean over all requests when its cold (`_first`)
/// and warm (`_warm`) values are there; per-turn, per-request and percentile values go to
/// breakdowns.
pub(super) fn default_metrics(grid: &Grid<'_>) -> Vec<String> {
    let mut names = BTreeSet::new();
    for record in grid.points.iter().filter_map(|point| point.record) {
        for (name, value) in &record.metrics {
            // Quality figures have a view of their own, beside the speed they cost.
            let quality =
                crate::metric::Family::named(name).is_some_and(|family| family.kind == crate::metric::Kind::Quality);
            if value.unit != "tokens" && !quality {
                names.insert(name.clone());
            }
        }
    }
    let first = |name: &str| MetricName::new(name, Phase::First).to_string();
    let mut chosen: Vec<String> =
        names.iter().filter(|name| !names.contains(&first(name)) && !in_breakdown(name)).cloned().collect();
    // What the cells measured leads; what their runs used follows, in the usage list's order.
    chosen.sort_by_key(|name| USAGE.iter().position(|usage| usage == name));
    chosen
}

/// Which dimensions go where in a table.
struct Layout {
    rows: usize,
    columns: Option<usize>,
    /// The dimensions that name a row: `rows`, then the others that vary.
    keys: Vec<usize>,
    varying: Vec<usize>,
}

impl Layout {
    /// The dimensions the request names; where it names none, the first two that vary.
    fn new(grid: &Grid<'_>, request: &TableRequest, included: &[&Point<'_>]) -> Self {
        let varying = grid.varying(included);
        let host = grid.host_dimension();
        let named = |name: &Option<String>| name.as_deref().and_then(|name| grid.dimension(name));
        let mut columns = named(&request.columns);
        // A context sweep is read along its axis (t/s against depth), whatever the axis order.
        let sweep = (request.rows.is_none() && request.columns.is_none())
            .then(|| {
                varying.iter().copied().find(|&dimension| SWEEPS.contains(&grid.dimensions[dimension].name.as_str()))
            })
            .flatten();
        let rows = named(&request.rows)
            .or(sweep)
            .or_else(|| varying.iter().copied().find(|&dimension| Some(dimension) != columns && dimension != host))
            .or_else(|| varying.first().copied().filter(|&dimension| Some(dimension) != columns))
            .unwrap_or(0);
        if request.rows.is_none() && request.columns.is_none() {
            columns = varying.iter().copied().find(|&dimension| dimension != rows && dimension != host);
        }
        let mut keys = vec![rows];
        keys.extend(varying.iter().copied().filter(|&dimension| dimension != rows && Some(dimension) != columns));
        Self { rows, columns, keys, varying }
    }

    fn key(&self, point: &Point<'_>) -> Vec<usize> {
        self.keys.iter().map(|&dimension| point.coords[dimension]).collect()
    }

    fn column(&self, point: &Point<'_>) -> usize {
        self.columns.map_or(0, |dimension| point.coords[dimension])
    }
}

/// Builds the table of `metric` as `request` pivots it.
pub(super) fn build(grid: &Grid<'_>, request: &TableRequest, metric: &str, baseline: &[(String, String)]) -> Table {
    let measured = |point: &&Point<'_>| value_of(point, metric).is_some();
    let workload = grid.dimension(WORKLOAD).expect("the grid has a workload dimension");
    // Cells of the workloads that give this metric; every cell while none has run.
    let workloads: BTreeSet<usize> = grid.points.iter().filter(measured).map(|point| point.coords[workload]).collect();
    let included: Vec<&Point<'_>> = grid
        .points
        .iter()
        .filter(|point| workloads.is_empty() || workloads.contains(&point.coords[workload]))
        .collect();
    let layout = Layout::new(grid, request, &included);
    let unit = grid
        .points
        .iter()
        .filter_map(|point| point.record?.metrics.get(metric))
        .map(|value| value.unit.clone())
        .next()
        .unwrap_or_default();
    // The baseline's dimension and value indices; `None` when it names a value not in the grid.
    let pins: Option<Vec<(usize, usize)>> = baseline
        .iter()
        .map(|(axis, value)| {
            let dimension = grid.dimension(axis)?;
            Some((dimension, grid.dimensions[dimension].values.iter().position(|known| known == value)?))
        })
        .collect();

    let row_keys: Vec<Vec<usize>> =
        included.iter().map(|point| layout.key(point)).collect::<BTreeSet<_>>().into_iter().collect();
    let column_values: Vec<usize> =
        included.iter().map(|point| layout.column(point)).collect::<BTreeSet<_>>().into_iter().collect();
    let cells: BTreeMap<(Vec<usize>, usize), &Point<'_>> =
        included.iter().map(|point| ((layout.key(point), layout.column(point)), *point)).collect();
    let rows = row_keys
        .iter()
        .map(|key| Row {
            key: layout
                .keys
                .iter()
                .zip(key)
                .map(|(&dimension, &value)| grid.dimensions[dimension].values[value].clone())
                .collect(),
            entries: column_values
                .iter()
                .map(|&column| {
                    cells
                        .get(&(key.clone(), column))
                        .map_or(Entry::Absent, |point| entry(grid, point, metric, pins.as_deref().unwrap_or_default()))
                })
                .collect(),
        })
        .collect();
    let better = request.better.or_else(|| Better::of(metric, &unit));
    let best = better.map(|better| best(grid, &layout, &included, metric, better, pins.as_deref().unwrap_or_default()));
    let chart_kind = if is_numeric_axis(grid, layout.rows, &row_keys) { ChartKind::Line } else { ChartKind::Bar };
    Table {
        metric: metric.to_owned(),
        unit,
        better,
        keys: layout.keys.iter().map(|&dimension| grid.dimensions[dimension].name.clone()).collect(),
        column_dimension: layout.columns.map(|dimension| grid.dimensions[dimension].name.clone()),
        columns: match layout.columns {
            Some(dimension) => {
                column_values.iter().map(|&value| grid.dimensions[dimension].values[value].clone()).collect()
            }
            None => vec![metric.to_owned()],
        },
        rows,
        baseline: baseline.iter().cloned().collect(),
        best: best.unwrap_or_default(),
        chart: Some(Chart { file: String::new(), kind: chart_kind }),
        chart_refused: None,
        family_extent: None,
    }
}

/// What the table shows for `point`: its value and ratio, or why there is none.
fn entry(grid: &Grid<'_>, point: &Point<'_>, metric: &str, pins: &[(usize, usize)]) -> Entry {
    let Some(record) = point.record else {
        return Entry::NotRun;
    };
    match record.status {
        Status::Failed => return Entry::Failed,
        Status::TimedOut => return Entry::TimedOut,
        Status::Blocked => return Entry::Blocked,
        Status::Skipped => return Entry::Skipped,
        Status::Ok => {}
    }
    let Some(value) = value_of(point, metric) else {
        return Entry::NoMetric;
    };
    let (ratio, baseline) = ratio(grid, point, metric, pins);
    let significance = (ratio.is_some() && !baseline)
        .then(|| baseline_of(grid, point, metric, pins).map(|reference| Significance::of(value, reference)))
        .flatten();
    Entry::Ok {
        mean: value.mean,
        spread: value.spread(),
        samples: value.samples.len(),
        rounds: value.round_count(),
        outliers: value.rounds.as_ref().map(|rounds| rounds.outliers.clone()).unwrap_or_default(),
        partial: partial_rounds(record),
        ratio,
        significance,
        baseline,
    }
}

/// Rounds recorded and asked for, when an ok record has fewer than its experiment asks.
pub(super) fn partial_rounds(record: &crate::store::CellRecord) -> Option<(usize, usize)> {
    let asked = usize::try_from(record.fingerprint.rounds).unwrap_or(usize::MAX);
    (record.status == Status::Ok && !record.is_complete()).then_some((record.rounds.len(), asked))
}

/// The baseline's value of `metric` for `point` (the same cell with the baseline's values).
fn baseline_of<'a>(
    grid: &Grid<'a>,
    point: &Point<'a>,
    metric: &str,
    pins: &[(usize, usize)],
) -> Option<&'a MetricValue> {
    let mut coords = point.coords.clone();
    for &(dimension, value) in pins {
        coords[dimension] = value;
    }
    grid.point(&coords).and_then(|reference| value_of(reference, metric))
}

/// `point`'s value over its baseline's (the same cell with the baseline's values), and
/// whether `point` is its own baseline.
fn ratio(grid: &Grid<'_>, point: &Point<'_>, metric: &str, pins: &[(usize, usize)]) -> (Option<f64>, bool) {
    if pins.is_empty() {
        return (None, false);
    }
    let mut coords = point.coords.clone();
    for &(dimension, value) in pins {
        coords[dimension] = value;
    }
    let value = value_of(point, metric);
    let reference = baseline_of(grid, point, metric, pins);
    (value.zip(reference).map(|(value, reference)| value.mean / reference.mean), coords == point.coords)
}

/// Whether a metric belongs in a breakdown (latency percentiles under load, a conversation's
/// turns) rather than a table of its own.
fn in_breakdown(metric: &str) -> bool {
    matches!(
        MetricName::parse(metric).phase,
        Phase::Turn(_) | Phase::TurnFirst(_) | Phase::TurnWarm(_) | Phase::Percentile(_) | Phase::Request(_)
    )
}

/// A group's measured configurations with their value of the table's metric.
type Contenders<'value, 'point> = Vec<(&'value MetricValue, &'point Point<'value>)>;

/// The top configuration of each workload on each host, at each value of the condition axes,
/// weighed against its runner-up. A group with a single configuration measured, or none that
/// varies, has nothing to choose between and gets no line.
fn best(
    grid: &Grid<'_>,
    layout: &Layout,
    included: &[&Point<'_>],
    metric: &str,
    better: Better,
    pins: &[(usize, usize)],
) -> Vec<Best> {
    let host = grid.host_dimension();
    let workload = grid.dimension(WORKLOAD).expect("the grid has a workload dimension");
    let conditions: Vec<usize> =
        layout.varying.iter().copied().filter(|&dimension| grid.dimensions[dimension].condition).collect();
    let choices: Vec<usize> = layout
        .varying
        .iter()
        .copied()
        .filter(|&dimension| dimension != host && dimension != workload && !conditions.contains(&dimension))
        .collect();
    if choices.is_empty() {
        return Vec::new();
    }
    // By workload, host and the condition values: the configurations measured there.
    let mut groups: BTreeMap<(usize, usize, Vec<usize>), Contenders<'_, '_>> = BTreeMap::new();
    for point in included {
        let Some(value) = value_of(point, metric).filter(|value| value.mean.is_finite()) else {
            continue;
        };
        let at = conditions.iter().map(|&dimension| point.coords[dimension]).collect();
        groups.entry((point.coords[workload], point.coords[host], at)).or_default().push((value, point));
    }
    let named = |dimensions: &[usize], point: &Point<'_>| -> Vec<String> {
        dimensions
            .iter()
            .map(|&dimension| format!("{}={}", grid.dimensions[dimension].name, grid.value(dimension, point)))
            .collect()
    };
    let several_hosts = layout.varying.contains(&host);
    let several_workloads = layout.varying.contains(&workload);
    groups
        .into_values()
        .filter_map(|mut contenders| {
            contenders.sort_by(|(a, _), (b, _)| match better {
                Better::Higher => b.mean.total_cmp(&a.mean),
                Better::Lower => a.mean.total_cmp(&b.mean),
            });
            let [(top, point), (second, second_point), ..] = contenders[..] else { return None };
            let (evidence, spread, second_spread) = Evidence::weigh(top, second);
            Some(Best {
                workload: several_workloads.then(|| grid.value(workload, point).to_owned()),
                host: several_hosts.then(|| grid.value(host, point).to_owned()),
                at: named(&conditions, point),
                configuration: named(&choices, point),
                mean: top.mean,
                spread,
                ratio: ratio(grid, point, metric, pins).0,
                runner_up: Contender {
                    configuration: named(&choices, second_point),
                    mean: second.mean,
                    spread: second_spread,
                },
                evidence,
                clear: evidence.clear(),
            })
        })
        .collect()
}

fn value_of<'a>(point: &Point<'a>, metric: &str) -> Option<&'a MetricValue> {
    let record = point.record.filter(|record| record.status == Status::Ok)?;
    record.metrics.get(metric)
}

/// Axes along which a metric is read as a curve: context depth and size.
pub(super) const SWEEPS: [&str; 2] = ["depth", "ctx"];

/// Whether the rows run along a numeric axis with enough values to draw a line through (two
/// for a context sweep, whose retention is the point; three for any other).
fn is_numeric_axis(grid: &Grid<'_>, rows: usize, keys: &[Vec<usize>]) -> bool {
    let name = &grid.dimensions[rows].name;
    let values: BTreeSet<usize> = keys.iter().map(|key| key[0]).collect();
    name != HOST
        && name != WORKLOAD
        && values.len() >= if SWEEPS.contains(&name.as_str()) { 2 } else { 3 }
        && values.iter().all(|&value| grid.dimensions[rows].values[value].parse::<f64>().is_ok_and(f64::is_finite))
}

/// Beyond these a chart is a wall of bars or a tangle of lines (and runs out of colours).
const MOST_BARS: usize = 160;
const MOST_SERIES: usize = 12;

impl Table {
    /// Why this table gets no chart, when it is too big for one to be read.
    pub(super) fn too_big_to_chart(&self) -> Option<String> {
        match self.chart.as_ref()?.kind {
            ChartKind::Bar => {
                let bars = self.rows.len() * self.columns.len();
                (bars > MOST_BARS).then(|| {
                    format!(
                        "{} rows × {} columns would be {bars} bars (at most {MOST_BARS})",
                        self.rows.len(),
                        self.columns.len()
                    )
                })
            }
            ChartKind::Line => {
                let lines: BTreeSet<(&[String], usize)> = self
                    .rows
                    .iter()
                    .flat_map(|row| {
                        row.entries
                            .iter()
                            .enumerate()
                            .filter(|(_, entry)| matches!(entry, Entry::Ok { .. }))
                            .map(|(column, _)| (&row.key[1..], column))
                    })
                    .collect();
                (lines.len() > MOST_SERIES)
                    .then(|| format!("it would have {} lines (at most {MOST_SERIES})", lines.len()))
            }
        }
    }

    /// Whether any entry has a value to draw.
    pub fn has_values(&self) -> bool {
        self.rows.iter().flat_map(|row| &row.entries).any(|entry| matches!(entry, Entry::Ok { .. }))
    }

    /// `tg16 (t/s, higher is better) by threads × model`: the table's title, also its chart's.
    pub(super) fn heading(&self, scale: &super::format::Scale) -> String {
        use std::fmt::Write as _;
        let mut heading = self.metric.clone();
        let mut qualifiers = Vec::new();
        if !scale.unit.is_empty() {
            qualifiers.push(scale.unit.clone());
        }
        if let Some(better) = self.better {
            qualifiers.push(format!("{} is better", better.word()));
        }
        if !qualifiers.is_empty() {
            let _ = write!(heading, " ({})", qualifiers.join(", "));
        }
        let mut by: Vec<String> = self.keys.first().cloned().into_iter().collect();
        by.extend(self.column_dimension.clone());
        if !by.is_empty() {
            let _ = write!(heading, " by {}", by.join(" × "));
        }
        heading
    }

    /// The one scale for this table's values, its chart's and its family's.
    pub(super) fn scale(&self) -> super::format::Scale {
        let extent = self.family_extent.into_iter().flat_map(|(smallest, largest)| [smallest, largest]);
        super::format::Scale::side_by_side(&self.unit, self.values().chain(extent))
    }

    /// The metric without its phase: `ttft_ms_turn2` → `ttft_ms`, `e2e_ms_p90` → `e2e_ms`.
    pub(super) fn family(&self) -> &str {
        MetricName::parse(&self.metric).base
    }

    /// The values of every measured entry, for choosing a scale.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.rows.iter().flat_map(|row| &row.entries).filter_map(|entry| match entry {
            Entry::Ok { mean, spread, .. } => Some(mean + spread.unwrap_or(0.0)),
            _ => None,
        })
    }
}
