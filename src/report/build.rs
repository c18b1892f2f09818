//! The report of one experiment, assembled from its cells and the store's records: what was
//! measured and where, the tables, the failures and the cells not yet run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::compare::{self, Comparison};
use super::grid::{Grid, Point};
use super::select::{ExpectedCell, choose};
use super::table::{self, Better, Table, TableRequest};
use crate::host::HostFacts;
use crate::lock::LockFile;
use crate::manifest::{Experiment, Manifests, Template};
use crate::notice::{Notice, Severity};
use crate::store::{CellRecord, Status};

/// Bump when the report's layout or its JSON changes incompatibly.
pub(crate) const REPORT_FORMAT: u32 = 1;

/// Log lines shown under a failed cell; the record keeps more, the log file all.
const LOG_LINES: usize = 6;

/// What a report is made from; nothing here touches a model or a toolbox.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub manifests: &'a Manifests,
    pub experiment: &'a Experiment,
    pub cells: &'a [ExpectedCell],
    /// The experiment's records in the store (others are ignored).
    pub records: &'a [CellRecord],
    pub lock: Option<&'a LockFile>,
    /// What llama-bench said of each model (by sha256) in any experiment's results.
    pub model_kinds: &'a BTreeMap<String, ModelKind>,
}

/// A model as llama-bench describes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ModelKind {
    /// `gemma3 270M Q4_K - Medium`.
    pub kind: String,
    pub parameters: Option<u64>,
}

impl ModelKind {
    /// What `record`'s llama-bench output says of its model, keyed by the model's sha256.
    pub fn of(record: &CellRecord) -> Option<(String, Self)> {
        let raw = record.raw.iter().find(|raw| raw.get("model_type").is_some())?;
        let kind = Self {
            kind: raw.get("model_type")?.as_str()?.to_owned(),
            parameters: raw.get("model_n_params").and_then(serde_json::Value::as_u64),
        };
        Some((model_hash(record)?, kind))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub format: u32,
    pub experiment: String,
    pub description: Option<String>,
    pub workloads: Vec<WorkloadSummary>,
    /// What each variant adds to the command line.
    pub variants: Vec<VariantSummary>,
    /// Cell outcomes on each host (one entry without a host while nothing has run).
    pub progress: Vec<Progress>,
    /// The first and last day a shown result was measured.
    pub measured: Option<(String, String)>,
    pub hosts: Vec<HostSummary>,
    pub toolboxes: Vec<ToolboxSummary>,
    pub models: Vec<ModelSummary>,
    /// With a `quality` block: each configuration's speed beside its divergence from the
    /// reference, and the frontier between the two. It leads the results.
    pub quality: Option<super::quality::QualityView>,
    /// Beside speed, every quality figure of each configuration (the view above shows three).
    pub quality_figures: Option<super::quality::QualityView>,
    /// With a `search`: where its condition stops holding, per configuration. It leads the
    /// results.
    pub search: Option<super::search::SearchView>,
    /// With adaptive rounds: per cell, how many it took and why they stopped.
    pub rounds_taken: Vec<RoundsTaken>,
    /// Per server workload: the metrics that answer it, a row per configuration.
    pub summaries: Vec<super::summary::Summary>,
    pub tables: Vec<Table>,
    /// Whether the tables are the defaults (no `table` in the `report` block).
    pub default_tables: bool,
    /// Latency percentiles of workloads under load, time to first token per conversation turn.
    pub breakdowns: Vec<super::breakdown::Breakdown>,
    pub problems: Vec<Problem>,
    pub not_run: Vec<NotRun>,
    /// Records of this experiment whose inputs match no cell any more.
    pub stale: usize,
    /// With results from several hosts: the one with the most results against each other.
    pub comparisons: Vec<Comparison>,
    pub notes: Vec<String>,
    /// What shown results warn of (speculation that did not happen), each with its cells.
    pub warnings: Vec<Warning>,
    /// Per host, where its shown results' time went.
    pub time: Vec<HostTime>,
}

/// Where one host's shown results spent their time (milliseconds), from their records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostTime {
    pub host: String,
    pub measuring_ms: u64,
    pub loading_ms: u64,
    pub failing_ms: u64,
}

/// A notice some shown results carry, and which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub workload: String,
    /// The cells' configurations (`threads=2, variant=draft`).
    pub configurations: Vec<String>,
    pub severity: Severity,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkloadSummary {
    pub name: String,
    pub command: String,
    pub requests: Vec<String>,
}

/// One value of the `variant` axis and the arguments it splices where `{variant}` stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariantSummary {
    pub name: String,
    pub args: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub host: Option<String>,
    pub cells: usize,
    pub ok: usize,
    /// Of the ok cells, those with fewer rounds recorded than asked (an interrupted run).
    pub partial: usize,
    pub failed: usize,
    pub timed_out: usize,
    pub blocked: usize,
    /// Not run because their toolbox failed `stop-after` cells in a row.
    pub skipped: usize,
    pub not_run: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSummary {
    pub label: String,
    /// Each distinct set of facts the shown results were measured with (one, unless the host
    /// changed between runs: a kernel update, say).
    pub facts: Vec<HostFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ToolboxSummary {
    pub name: String,
    pub runner: String,
    pub image: Option<String>,
    pub digest: Option<String>,
    pub llama_cpp: Option<String>,
    /// What its cells ran on (`Vulkan`, `CPU`), on which devices, with which driver.
    pub backend: Option<String>,
    pub devices: Vec<String>,
    pub driver: Option<String>,
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelSummary {
    pub name: String,
    pub file: String,
    /// The content hashes the shown results were measured with.
    pub sha256: Vec<String>,
    pub size: Option<u64>,
    /// As llama-bench describes it, when a bench cell of any experiment ran it.
    pub kind: Option<ModelKind>,
    pub lock: LockState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockState {
    /// Every shown result used the locked file.
    Matches,
    /// Some shown result used another file than the lock pins.
    Differs,
    NotLocked,
    /// Nothing measured with this model yet.
    Unmeasured,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub host: String,
    pub cell: String,
    pub configuration: String,
    pub status: Status,
    pub reason: String,
    pub log: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundsTaken {
    pub configuration: String,
    pub rounds: usize,
    /// Why they stopped: decided, the most reached, nothing to judge by.
    pub stop: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotRun {
    pub host: Option<String>,
    pub cells: Vec<String>,
}

/// Builds the report of `inputs.experiment`.
pub(crate) fn build(inputs: &Inputs<'_>) -> Report {
    // A search shows the values it probed, not the rest of its grid.
    if inputs.experiment.search.is_some() {
        let probed = probed_cells(inputs);
        return build_shown(&Inputs { cells: &probed, ..*inputs });
    }
    build_shown(inputs)
}

/// [`build`] of the cells `inputs` gives, every one shown.
fn build_shown(inputs: &Inputs<'_>) -> Report {
    let experiment = inputs.experiment;
    let chosen = choose(inputs.cells, inputs.records);
    let grid = Grid::new(experiment, inputs.cells, &chosen);
    let host_dimension = grid.host_dimension();
    let host_of = |point: &Point<'_>| grid.value(host_dimension, point).to_owned();
    let varying = varying_but_host(&grid);
    let configuration = |point: &Point<'_>| configuration_of(&grid, inputs.cells, &varying, point);

    let mut progress: BTreeMap<String, Progress> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut not_run: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for point in &grid.points {
        let host = host_of(point);
        let counts = progress
            .entry(host.clone())
            .or_insert_with(|| Progress { host: (!host.is_empty()).then(|| host.clone()), ..Progress::default() });
        counts.cells += 1;
        let Some(record) = point.record else {
            counts.not_run += 1;
            not_run.entry(host).or_default().push(configuration(point));
            continue;
        };
        match record.status {
            Status::Ok => {
                counts.ok += 1;
                counts.partial += usize::from(table::partial_rounds(record).is_some());
            }
            Status::Failed => counts.failed += 1,
            Status::TimedOut => counts.timed_out += 1,
            Status::Blocked => counts.blocked += 1,
            Status::Skipped => counts.skipped += 1,
        }
        if record.status != Status::Ok {
            let failure = record.failure.as_ref();
            let tail = failure.map_or(&[][..], |failure| &failure.log_tail[..]);
            problems.push(Problem {
                host,
                cell: inputs.cells[point.cell].id.clone(),
                configuration: configuration(point),
                status: record.status,
                reason: failure.map_or_else(|| "no reason was recorded".to_owned(), |failure| failure.reason.clone()),
                log: tail[tail.len().saturating_sub(LOG_LINES)..].to_vec(),
            });
        }
    }

    // Each shown record with the cell it stands for here: a record another experiment measured
    // carries that experiment's cell id and axes, so this report reads them from its own cell.
    let shown: Vec<(&ExpectedCell, &CellRecord)> =
        grid.points.iter().filter_map(|point| Some((&inputs.cells[point.cell], point.record?))).collect();
    let days: Vec<u64> =
        shown.iter().map(|(_, record)| record.timings.started_unix_ms).filter(|started| *started > 0).collect();
    let measured = days
        .iter()
        .min()
        .zip(days.iter().max())
        .map(|(first, last)| (super::format::date(*first), super::format::date(*last)));

    let mut notes = Vec::new();
    // Breakdowns are per workload: a row names the rest of the configuration.
    let workload_dimension = grid.dimension(super::grid::WORKLOAD);
    let but_workload: Vec<usize> =
        varying.iter().copied().filter(|dimension| Some(*dimension) != workload_dimension).collect();
    let labelled = labelled(&grid, inputs, &but_workload, &host_of);
    let (turns, breakdowns): (Vec<_>, Vec<_>) = super::breakdown::breakdowns(&labelled)
        .into_iter()
        .partition(|breakdown| breakdown.kind == super::breakdown::BreakdownKind::Turns);
    let tables = tables(inputs, &grid, turns.iter().map(super::breakdown::turns_table).collect(), &mut notes);
    notes.extend(unavailable(&grid));
    // The per-turn tables come last and are no metric of the records: they are not compared.
    let comparisons = host_comparisons(&grid, &tables[..tables.len() - turns.len()], &configuration);
    let models = models(inputs, &shown);
    let speed_and_quality = quality(inputs, &grid, &models, &tables, false);
    let quality_figures = speed_and_quality
        .as_ref()
        .filter(|view| view.primary.is_some())
        .and_then(|_| quality(inputs, &grid, &models, &tables, true));
    Report {
        format: REPORT_FORMAT,
        experiment: experiment.name.value.clone(),
        description: experiment.description.clone(),
        workloads: workloads(experiment),
        variants: variants(experiment),
        progress: progress.into_values().collect(),
        measured,
        hosts: hosts(&chosen.hosts, &grid),
        toolboxes: toolboxes(&grid, &host_of),
        models,
        quality: speed_and_quality,
        quality_figures,
        search: experiment.search.as_ref().map(|search| search_view(search, inputs, &grid, &host_of)),
        rounds_taken: rounds_taken(&grid, &configuration),
        summaries: super::summary::summaries(&labelled),
        default_tables: experiment.report.as_ref().is_none_or(|report| report.tables.is_empty()),
        tables,
        breakdowns,
        problems,
        not_run: not_run
            .into_iter()
            .map(|(host, cells)| NotRun { host: (!host.is_empty()).then_some(host), cells })
            .collect(),
        stale: chosen.stale,
        comparisons,
        notes,
        warnings: warnings(&shown).into_iter().chain(partial_rounds(&shown)).collect(),
        time: time(&grid),
    }
}

/// Each shown cell measured in adaptive rounds: how many it took, and why they stopped.
fn rounds_taken(grid: &Grid<'_>, configuration: &dyn Fn(&Point<'_>) -> String) -> Vec<RoundsTaken> {
    grid.points
        .iter()
        .filter_map(|point| {
            let record = point.record?;
            let stop = record.rounds_stop.clone()?;
            Some(RoundsTaken { configuration: configuration(point), rounds: record.rounds.len(), stop })
        })
        .collect()
}

/// The cells of a search experiment that have a record: the values it probed.
fn probed_cells(inputs: &Inputs<'_>) -> Vec<ExpectedCell> {
    let chosen = choose(inputs.cells, inputs.records);
    inputs
        .cells
        .iter()
        .zip(&chosen.records)
        .filter(|(_, records)| records.iter().any(Option::is_some))
        .map(|(cell, _)| cell.clone())
        .collect()
}

/// A search's answer per configuration (the other axes, the workload, the host) from the
/// probes shown.
fn search_view(
    search: &crate::manifest::Search,
    inputs: &Inputs<'_>,
    grid: &Grid<'_>,
    host_of: &dyn Fn(&Point<'_>) -> String,
) -> super::search::SearchView {
    let shown: Vec<super::search::Shown<'_>> = grid
        .points
        .iter()
        .filter_map(|point| {
            let cell = &inputs.cells[point.cell];
            Some(super::search::Shown {
                axes: cell.axes.iter().map(|(axis, value)| (axis.as_str(), value.as_str())).collect(),
                workload: &cell.workload,
                host: host_of(point),
                record: point.record?,
            })
        })
        .collect();
    super::search::view_of(inputs.experiment, search, &shown)
}

/// With results from several hosts: each other host against the one with the most results.
fn host_comparisons(
    grid: &Grid<'_>,
    tables: &[Table],
    configuration: &dyn Fn(&Point<'_>) -> String,
) -> Vec<Comparison> {
    if hosts_count(grid) < 2 {
        return Vec::new();
    }
    let reference = compare::default_reference(grid);
    let metrics = compared_metrics(tables);
    (0..hosts_count(grid))
        .filter(|&other| other != reference)
        .map(|other| compare::compare(grid, reference, other, &metrics, configuration))
        .collect()
}

/// The speed × quality view, when the experiment has quality cells, with its chart's file name
/// (one no table's chart has); `alone`: the quality cells' figures without speed.
fn quality(
    inputs: &Inputs<'_>,
    grid: &Grid<'_>,
    models: &[ModelSummary],
    tables: &[Table],
    alone: bool,
) -> Option<super::quality::QualityView> {
    let host = grid.host_dimension();
    let selector = inputs.experiment.quality_reference();
    let mut shown: BTreeSet<&str> = BTreeSet::new();
    let cells: Vec<super::quality::ViewCell<'_>> = grid
        .points
        .iter()
        .filter(|point| !alone || inputs.cells[point.cell].block == crate::matrix::Block::Quality)
        // Alone, a row per measurement: configurations that differ only in axes the quality
        // arguments do not use (threads) share one, and an axis none of them varies is unnamed.
        .filter(|point| !alone || point.record.is_none_or(|record| shown.insert(record.hash.as_str())))
        .map(|point| {
            let cell = &inputs.cells[point.cell];
            super::quality::ViewCell {
                axes: &cell.axes,
                workload: &cell.workload,
                block: cell.block,
                host: grid.value(host, point),
                record: point.record,
                selected: !selector.is_empty()
                    && selector.iter().all(|(axis, value)| {
                        cell.axes.iter().any(|(name, known)| *name == axis.value && *known == value.value)
                    }),
            }
        })
        .collect();
    // A size is the locked file's: said only where the results were measured with that file.
    let sizes: BTreeMap<String, u64> = models
        .iter()
        .filter(|model| matches!(model.lock, LockState::Matches | LockState::Unmeasured))
        .filter_map(|model| Some((model.name.clone(), model.size?)))
        .collect();
    let mut view = super::quality::view(&cells, &crate::manifest::condition_axes(inputs.experiment), &sizes)?;
    if view.primary.is_none() {
        // Without speed there is no speed to draw against.
        return Some(view);
    }
    let taken: BTreeSet<&str> = tables.iter().filter_map(|table| Some(table.chart.as_ref()?.file.as_str())).collect();
    let mut file = "speed-quality.svg".to_owned();
    let mut counter = 2;
    while taken.contains(file.as_str()) {
        file = format!("speed-quality-{counter}.svg");
        counter += 1;
    }
    view.chart = Some(file);
    Some(view)
}

/// Each host's time, from the records the report shows.
fn time(grid: &Grid<'_>) -> Vec<HostTime> {
    let host_dimension = grid.host_dimension();
    let mut by_host: BTreeMap<String, Vec<&CellRecord>> = BTreeMap::new();
    for point in &grid.points {
        if let Some(record) = point.record {
            by_host.entry(grid.value(host_dimension, point).to_owned()).or_default().push(record);
        }
    }
    let millis = |duration: std::time::Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    by_host
        .into_iter()
        .map(|(host, records)| {
            let spent = crate::time_spent::of_records(records);
            HostTime {
                host,
                measuring_ms: millis(spent.measuring),
                loading_ms: millis(spent.loading),
                failing_ms: millis(spent.failing),
            }
        })
        .filter(|time| time.measuring_ms + time.loading_ms + time.failing_ms > 0)
        .collect()
}

/// The warnings of the shown records, once per workload and text with the configurations
/// that carry it.
fn warnings(shown: &[(&ExpectedCell, &CellRecord)]) -> Vec<Warning> {
    let mut found: BTreeMap<(String, Notice), BTreeSet<String>> = BTreeMap::new();
    for (cell, record) in shown {
        for notice in &record.warnings {
            let mut axes = cell.axes.clone();
            axes.sort();
            let configuration: Vec<String> = axes.iter().map(|(axis, value)| format!("{axis}={value}")).collect();
            found.entry((cell.workload.clone(), notice.clone())).or_default().insert(configuration.join(", "));
        }
    }
    found
        .into_iter()
        .map(|((workload, notice), configurations)| Warning {
            workload,
            configurations: configurations.into_iter().collect(),
            severity: notice.severity,
            text: notice.text,
        })
        .collect()
}

/// The shown cells with fewer rounds recorded than asked, once per workload and count: their
/// values are not yet over what the others' are, which a table's "1/2 rounds" marks and this
/// says in words (also under a server workload's summary, which has no marks).
fn partial_rounds(shown: &[(&ExpectedCell, &CellRecord)]) -> Vec<Warning> {
    let mut found: BTreeMap<(String, usize, usize), BTreeSet<String>> = BTreeMap::new();
    for (cell, record) in shown {
        if let Some((recorded, asked)) = table::partial_rounds(record) {
            let mut axes = cell.axes.clone();
            axes.sort();
            let configuration: Vec<String> = axes.iter().map(|(axis, value)| format!("{axis}={value}")).collect();
            found.entry((cell.workload.clone(), recorded, asked)).or_default().insert(configuration.join(", "));
        }
    }
    found
        .into_iter()
        .map(|((workload, recorded, asked), configurations)| Warning {
            workload,
            configurations: configurations.into_iter().collect(),
            severity: Severity::Warning,
            text: format!(
                "{recorded} of {asked} rounds recorded, as an interrupted run left it: the value is over fewer rounds \
                 than the experiment asks for, and `bakeoff run` measures the rest"
            ),
        })
        .collect()
}

/// What a host could not measure (`energy_j` without counters), once per host and reason.
fn unavailable(grid: &Grid<'_>) -> Vec<String> {
    let host_dimension = grid.host_dimension();
    let unmeasured: BTreeSet<(String, String, String)> = grid
        .points
        .iter()
        .filter_map(|point| point.record.map(|record| (grid.value(host_dimension, point).to_owned(), record)))
        .flat_map(|(host, record)| {
            record.unavailable.iter().map(move |(metric, reason)| (metric.clone(), host.clone(), reason.clone()))
        })
        .collect();
    unmeasured
        .into_iter()
        .map(|(metric, host, reason)| {
            let on = if host.is_empty() { String::new() } else { format!(" on {host}") };
            format!("`{metric}` is unavailable{on}: {reason}")
        })
        .collect()
}

/// Each reference host (an identity) with the hosts to set against it.
pub(crate) type HostPairs = Vec<(String, Vec<String>)>;

/// The comparisons `pick` asks for, given the identities of the hosts with results of the
/// experiment and the report's own reference among them (the host with the most `ok`
/// results; `None` with fewer than two hosts). Pairs naming a host without results, or a
/// host against itself, are left out. The store is matched to the cells once for all pairs.
pub(crate) fn compare_hosts(
    inputs: &Inputs<'_>,
    pick: impl FnOnce(&[String], Option<&str>) -> HostPairs,
) -> Vec<Comparison> {
    let chosen = choose(inputs.cells, inputs.records);
    let grid = Grid::new(inputs.experiment, inputs.cells, &chosen);
    let default = (chosen.hosts.len() >= 2).then(|| chosen.identities[compare::default_reference(&grid)].as_str());
    let position = |identity: &str| chosen.identities.iter().position(|known| known == identity);
    let pairs: Vec<(usize, usize)> = pick(&chosen.identities, default)
        .iter()
        .filter_map(|(reference, others)| Some((position(reference)?, others)))
        .flat_map(|(reference, others)| {
            others.iter().filter_map(|other| position(other)).map(move |other| (reference, other))
        })
        .filter(|(reference, other)| reference != other)
        .collect();
    if pairs.is_empty() {
        return Vec::new();
    }
    let varying = varying_but_host(&grid);
    let configuration = |point: &Point<'_>| configuration_of(&grid, inputs.cells, &varying, point);
    let metrics = compared_metrics(&tables(inputs, &grid, Vec::new(), &mut Vec::new()));
    pairs
        .into_iter()
        .map(|(reference, other)| compare::compare(&grid, reference, other, &metrics, &configuration))
        .collect()
}

/// Each table's metric once, in table order, with the side that is better.
fn compared_metrics(tables: &[Table]) -> Vec<(String, Option<Better>)> {
    let mut metrics: Vec<(String, Option<Better>)> = Vec::new();
    for table in tables {
        if !metrics.iter().any(|(metric, _)| *metric == table.metric) {
            metrics.push((table.metric.clone(), table.better));
        }
    }
    metrics
}

/// The dimensions other than the host in which the experiment's cells differ.
fn hosts_count(grid: &Grid<'_>) -> usize {
    grid.dimensions[grid.host_dimension()].values.len()
}

fn varying_but_host(grid: &Grid<'_>) -> Vec<usize> {
    let all: Vec<&Point<'_>> = grid.points.iter().collect();
    grid.varying(&all).into_iter().filter(|&dimension| dimension != grid.host_dimension()).collect()
}

/// `ctx=4096, toolbox=rocm`: where a cell sits among the ones that vary; its id when none do.
/// Each ok record on the grid with the label of its row: the configuration without the
/// workload, and the host when there are several.
fn labelled<'a>(
    grid: &Grid<'a>,
    inputs: &Inputs<'_>,
    but_workload: &[usize],
    host_of: &dyn Fn(&Point<'_>) -> String,
) -> Vec<(String, &'a CellRecord)> {
    grid.points
        .iter()
        .filter_map(|point| {
            let record = point.record.filter(|record| record.status == Status::Ok)?;
            let host = host_of(point);
            let configuration = configuration_of(grid, inputs.cells, but_workload, point);
            Some((if hosts_count(grid) > 1 { format!("{configuration} on {host}") } else { configuration }, record))
        })
        .collect()
}

fn configuration_of(grid: &Grid<'_>, cells: &[ExpectedCell], varying: &[usize], point: &Point<'_>) -> String {
    let parts: Vec<String> = varying
        .iter()
        .map(|&dimension| format!("{}={}", grid.dimensions[dimension].name, grid.value(dimension, point)))
        .collect();
    if !parts.is_empty() {
        return parts.join(", ");
    }
    // One configuration: named by its axes, without the experiment and workload around them.
    let cell = &cells[point.cell];
    let id = &cell.id;
    id.split_once('/')
        .and_then(|(_, rest)| rest.rsplit_once('/'))
        .map_or_else(|| id.clone(), |(axes, _)| axes.to_owned())
}

/// The report's tables, then `extra` (made elsewhere), each with its chart's file name.
fn tables(inputs: &Inputs<'_>, grid: &Grid<'_>, extra: Vec<Table>, notes: &mut Vec<String>) -> Vec<Table> {
    let report = inputs.experiment.report.as_ref();
    let baseline: Vec<(String, String)> = report
        .map(|report| report.baseline.iter().map(|(axis, value)| (axis.value.clone(), value.value.clone())).collect())
        .unwrap_or_default();
    let requests: Vec<TableRequest> = match report.filter(|report| !report.tables.is_empty()) {
        Some(report) => report
            .tables
            .iter()
            .map(|spec| TableRequest {
                rows: spec.rows.as_ref().map(|rows| rows.value.clone()),
                columns: spec.columns.as_ref().map(|columns| columns.value.clone()),
                metric: spec.metric.as_ref().map(|metric| metric.value.clone()),
                better: spec.better.as_ref().map(|better| better.value),
            })
            .collect(),
        None => vec![TableRequest::default()],
    };
    let found = table::default_metrics(grid);
    let mut tables = Vec::new();
    for request in &requests {
        let metrics = match &request.metric {
            Some(metric) => {
                let measured = grid
                    .points
                    .iter()
                    .filter_map(|point| point.record)
                    .any(|record| record.metrics.contains_key(metric));
                if !measured
                    && grid.points.iter().any(|point| point.record.is_some_and(|record| record.status == Status::Ok))
                {
                    notes.push(format!(
                        "no result has the metric `{metric}`{}",
                        if found.is_empty() {
                            String::new()
                        } else {
                            format!(" (the results have {})", found.join(", "))
                        }
                    ));
                }
                vec![metric.clone()]
            }
            None => found.clone(),
        };
        for metric in metrics {
            tables.push(table::build(grid, request, &metric, &baseline));
        }
    }
    tables.extend(extra);
    // One unit for a metric family across the report: time to first token cold and warm are
    // both in s, or both in ms.
    let mut extents: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for table in tables.iter().filter(|table| table.has_values()) {
        let extent = extents.entry((table.family().to_owned(), table.unit.clone())).or_insert((f64::INFINITY, 0.0));
        for value in table.values() {
            *extent = (extent.0.min(value), extent.1.max(value));
        }
    }
    for table in &mut tables {
        table.family_extent = extents.get(&(table.family().to_owned(), table.unit.clone())).copied();
    }
    let mut files = BTreeSet::new();
    for table in &mut tables {
        if !table.has_values() {
            table.chart = None;
            continue;
        }
        if let Some(problem) = table.too_big_to_chart() {
            notes.push(format!(
                "no chart for `{}`: {problem}; a `table` with `rows=` and `columns=` in the `report` block picks fewer",
                table.metric
            ));
            table.chart = None;
            continue;
        }
        let stem: String = table
            .metric
            .chars()
            .map(
                |character| {
                    if character.is_ascii_alphanumeric() || "._-".contains(character) { character } else { '_' }
                },
            )
            .collect();
        let rows: String = table.keys.first().map_or(String::new(), |rows| safe(rows));
        let mut file = format!("{stem}.svg");
        if files.contains(&file) {
            file = format!("{stem}-by-{rows}.svg");
        }
        let mut counter = 2;
        while !files.insert(file.clone()) {
            file = format!("{stem}-by-{rows}-{counter}.svg");
            counter += 1;
        }
        if let Some(chart) = &mut table.chart {
            chart.file = file;
        }
    }
    tables
}

/// `pp512+tg128@d4096` → `pp512_tg128_d4096`: a file name that needs no quoting anywhere.
fn safe(name: &str) -> String {
    name.chars()
        .map(|character| if character.is_ascii_alphanumeric() || "._-".contains(character) { character } else { '_' })
        .collect()
}

fn hosts(labels: &[String], grid: &Grid<'_>) -> Vec<HostSummary> {
    let host_dimension = grid.host_dimension();
    labels
        .iter()
        .map(|label| {
            let mut facts: Vec<HostFacts> = Vec::new();
            for point in grid.points.iter().filter(|point| grid.value(host_dimension, point) == label) {
                if let Some(record) = point.record
                    && !facts.contains(&record.host)
                {
                    facts.push(record.host.clone());
                }
            }
            HostSummary { label: label.clone(), facts }
        })
        .collect()
}

fn toolboxes(grid: &Grid<'_>, host_of: &dyn Fn(&Point<'_>) -> String) -> Vec<ToolboxSummary> {
    // Keyed by everything but the hosts, which are gathered.
    let mut found: BTreeMap<ToolboxSummary, BTreeSet<String>> = BTreeMap::new();
    for point in &grid.points {
        let Some(record) = point.record.filter(|record| !record.status.is_unrun()) else {
            continue;
        };
        let toolbox = &record.fingerprint.toolbox;
        let key = ToolboxSummary {
            name: toolbox.name.clone(),
            runner: toolbox.runner.clone(),
            image: toolbox.image.clone(),
            digest: toolbox.digest.clone(),
            llama_cpp: toolbox.llama_cpp.clone(),
            backend: record.ran_on.as_ref().map(|ran_on| ran_on.backend.clone()),
            devices: record.ran_on.as_ref().map(|ran_on| ran_on.devices.clone()).unwrap_or_default(),
            driver: record.ran_on.as_ref().and_then(|ran_on| ran_on.driver.clone()),
            hosts: Vec::new(),
        };
        found.entry(key).or_default().insert(host_of(point));
    }
    found.into_iter().map(|(summary, hosts)| ToolboxSummary { hosts: hosts.into_iter().collect(), ..summary }).collect()
}

fn models(inputs: &Inputs<'_>, shown: &[(&ExpectedCell, &CellRecord)]) -> Vec<ModelSummary> {
    inputs
        .experiment
        .axis_values("model")
        .into_iter()
        .map(|name| {
            let measured: Vec<&CellRecord> = shown
                .iter()
                .filter(|(cell, record)| {
                    cell.axes.iter().any(|(axis, value)| axis == "model" && value == name) && !record.status.is_unrun()
                })
                .map(|(_, record)| *record)
                .collect();
            let sha256: BTreeSet<String> = measured.iter().filter_map(|record| model_hash(record)).collect();
            let locked = inputs.lock.and_then(|lock| lock.models.get(name));
            let lock = match locked {
                _ if sha256.is_empty() => LockState::Unmeasured,
                None => LockState::NotLocked,
                Some(locked) if sha256.iter().all(|hash| *hash == locked.sha256) => LockState::Matches,
                Some(_) => LockState::Differs,
            };
            ModelSummary {
                name: name.to_owned(),
                file: inputs.manifests.models.get(name).map(|model| model.file.value.clone()).unwrap_or_default(),
                kind: sha256.iter().find_map(|hash| inputs.model_kinds.get(hash)).cloned(),
                sha256: sha256.into_iter().collect(),
                size: locked.map(|locked| locked.size),
                lock,
            }
        })
        .collect()
}

/// The model's content hash in a record's argv (`-m sha256:…`).
fn model_hash(record: &CellRecord) -> Option<String> {
    let argv = &record.fingerprint.argv;
    let position = argv.iter().position(|argument| argument == "-m")?;
    argv.get(position + 1)?.strip_prefix("sha256:").map(str::to_owned)
}

fn variants(experiment: &Experiment) -> Vec<VariantSummary> {
    experiment
        .axis("variant")
        .into_iter()
        .flat_map(|axis| &axis.values)
        .map(|value| VariantSummary { name: value.value.value.clone(), args: words(&value.args) })
        .collect()
}

fn workloads(experiment: &Experiment) -> Vec<WorkloadSummary> {
    let mut summaries = Vec::new();
    let model = if experiment.axis("model").is_some() { " -m {model}" } else { "" };
    if let Some(bench) = &experiment.bench {
        summaries.push(WorkloadSummary {
            name: "bench".to_owned(),
            command: format!("llama-bench{model} {} -o jsonl", words(&bench.args)),
            requests: Vec::new(),
        });
    }
    if let Some(command) = &experiment.command {
        summaries.push(WorkloadSummary {
            name: "command".to_owned(),
            command: words(&command.args),
            requests: Vec::new(),
        });
    }
    if let Some(quality) = &experiment.quality {
        let corpus = quality.corpus.as_ref().map(|corpus| format!(" -f {}", quote(&corpus.value))).unwrap_or_default();
        summaries.push(WorkloadSummary {
            name: "quality".to_owned(),
            command: format!("llama-perplexity{model}{corpus} {}", words(&quality.args)),
            requests: Vec::new(),
        });
    }
    if let Some(server) = &experiment.server {
        let command = format!("llama-server{model} {}", words(&server.args));
        for workload in &experiment.workloads {
            let requests = workload
                .requests
                .iter()
                .map(|request| {
                    let mut fields: Vec<String> =
                        request.fields.iter().map(|(key, value)| format!("{key}={}", quote(value))).collect();
                    fields.extend(request.files.iter().map(|(key, path)| format!("{key}={}", quote(&path.value))));
                    let api = serde_json::to_value(request.api).ok().and_then(|api| api.as_str().map(str::to_owned));
                    let kind = if request.turns.is_empty() { "" } else { "conversation " };
                    let mut line = format!("{kind}{}", api.unwrap_or_default());
                    for field in &fields {
                        let _ = write!(line, " {field}");
                    }
                    for (index, turn) in request.turns.iter().enumerate() {
                        let _ = write!(line, "; turn {}: {}", index + 1, quote(turn));
                    }
                    line
                })
                .collect();
            summaries.push(WorkloadSummary {
                name: workload.name.value.clone(),
                command: command.clone(),
                requests: if workload.repeat > 1 {
                    std::iter::once(format!("repeat {}", workload.repeat)).chain(requests).collect()
                } else {
                    requests
                },
            });
        }
    }
    summaries
}

fn words(templates: &[Template]) -> String {
    templates.iter().map(|template| quote(&template.text)).collect::<Vec<_>>().join(" ")
}

fn quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|character| character.is_ascii_graphic() && !"'\"\\`|".contains(character))
    {
        text.to_owned()
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
