//! `results/index.html`: one self-contained page to explore every experiment and host in the
//! store offline. Its code is readable source beside this file (`page/page.js`, `page.css`,
//! `page.html`), included at compile time; this builds the data it shows (each host's newest
//! record of each cell, with its provenance) and puts the three together. The same store gives
//! the same bytes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::select::ExpectedCell;
use crate::host::HostFacts;
use crate::manifest::Manifests;
use crate::store::{CellRecord, Status};

const TEMPLATE: &str = include_str!("page/page.html");
const STYLE: &str = include_str!("page/page.css");
const SCRIPT: &str = include_str!("page/page.js");

/// Bump when the data the page reads changes shape.
const PAGE_FORMAT: u32 = 1;

#[derive(Debug, Serialize)]
struct PageData {
    format: u32,
    experiments: Vec<PageExperiment>,
    /// By the label reports give each host.
    hosts: BTreeMap<String, PageHost>,
    cells: Vec<PageCell>,
}

#[derive(Debug, Serialize)]
struct PageExperiment {
    name: String,
    description: Option<String>,
    /// The axes in the manifest's order (then any only the records know), each value once,
    /// numbers in numeric order.
    axes: Vec<PageAxis>,
    metrics: Vec<PageMetric>,
    /// With quality cells: the report's speed × quality view, as the report words it.
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<PageQuality>,
    /// With a `search`: its answer per configuration and its probes' chart, as the report has
    /// them.
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<PageSearch>,
}

#[derive(Debug, Serialize)]
struct PageSearch {
    /// The searched axis: the page opens on a line over it.
    axis: String,
    heading: String,
    /// `configuration: answer`, one per configuration.
    lines: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chart: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chart_refused: Option<String>,
}

/// The speed × quality section: its text made here, so that the page and the report say the
/// same, and its chart as the report draws it.
#[derive(Debug, Serialize)]
struct PageQuality {
    heading: &'static str,
    caption: String,
    header: Vec<String>,
    rows: Vec<PageQualityRow>,
    sentences: Vec<String>,
    /// The chart's SVG.
    #[serde(skip_serializing_if = "Option::is_none")]
    chart: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chart_refused: Option<String>,
}

#[derive(Debug, Serialize)]
struct PageQualityRow {
    cells: Vec<String>,
    frontier: bool,
    reference: bool,
}

#[derive(Debug, Serialize)]
struct PageAxis {
    name: String,
    values: Vec<String>,
    /// Every value a number: drawn as a line chart's x axis.
    numeric: bool,
    /// A context sweep (depth, ctx): a throughput's retention along it means something.
    sweep: bool,
}

/// A metric as the metric catalogue describes it, so that the page reads no meaning into names.
#[derive(Debug, Serialize)]
struct PageMetric {
    name: String,
    unit: String,
    /// `higher`, `lower`, or none.
    better: Option<&'static str>,
    /// How reports title it (the name, outside the catalogue).
    label: String,
    /// Its family (`ttft_ms` of `ttft_ms_turn2`, `tg` of `tg128`); the name outside the catalogue.
    family: String,
    /// `all`, `first`, `warm`, `turn`, `percentile` or `request`, with `k` its number.
    #[serde(flatten)]
    phase: crate::metric::Phase,
    /// `bench`, `server`, `usage`, `quality`, `client`, or `declared` outside the catalogue.
    kind: crate::metric::Kind,
}

#[derive(Debug, Serialize)]
struct PageHost {
    id: String,
    kernel: String,
    os: String,
    cpu: String,
    memory_bytes: u64,
    gpus: String,
    firmware: Option<String>,
    /// Cores, threads, sockets, NUMA nodes, governor, SMT and boost, where the record knows them.
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_layout: Option<String>,
}

#[derive(Debug, Serialize)]
struct PageCell {
    experiment: String,
    id: String,
    host: String,
    workload: String,
    axes: BTreeMap<String, String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    metrics: BTreeMap<String, PageValue>,
    /// Rounds recorded and asked for, when an interrupted run left fewer than asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    partial_rounds: Option<(usize, usize)>,
    provenance: Provenance,
    /// The record, relative to the page.
    file: String,
    /// Whether the manifests still have this cell (else: an earlier configuration's result).
    current: bool,
}

#[derive(Debug, Serialize)]
struct PageValue {
    mean: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    spread: Option<f64>,
    /// Each round's value, for Welch's test between two cells.
    #[serde(skip_serializing_if = "Option::is_none")]
    rounds: Option<Vec<f64>>,
}

#[derive(Debug, Serialize)]
struct Provenance {
    toolbox: String,
    runner: String,
    image: Option<String>,
    digest: Option<String>,
    llama_cpp: Option<String>,
    backend: Option<String>,
    devices: Vec<String>,
    driver: Option<String>,
    /// The models' content hashes the argv names (`sha256:…`).
    models: Vec<String>,
    started_unix_ms: u64,
    hash: String,
}

/// The page for `records` (every record in the store), with the experiments' declarations
/// from `manifests` where they are, and `current` the manifests' cells, each with its portable
/// key.
pub(crate) fn render(records: &[CellRecord], manifests: &Manifests, current: &[ExpectedCell]) -> String {
    let data = data(records, manifests, current);
    let mut json = serde_json::to_string(&data).expect("the page's data always serialises");
    // Inside a <script> element, `</` would end it.
    json = json.replace("</", "<\\/");
    // Nor may it hold `<!--` (an embedded chart's comment), which changes how the rest is read.
    json = json.replace("<!--", "\\u003c!--");
    TEMPLATE
        .replace("/*STYLE*/", STYLE)
        .replace("/*SCRIPT*/", SCRIPT)
        .replace("/*DATA*/", &json)
        .replace("/*MARKER*/", crate::store::REPORT_MARKER)
}

fn data(records: &[CellRecord], manifests: &Manifests, current: &[ExpectedCell]) -> PageData {
    let mut by_key: HashMap<&str, Vec<&ExpectedCell>> = HashMap::new();
    for cell in current {
        if let Some(key) = &cell.key {
            by_key.entry(key).or_default().push(cell);
        }
    }
    // Each host's newest record of each cell, under every experiment with a cell of its inputs.
    let mut newest: BTreeMap<(String, String, String), (&CellRecord, Placement)> = BTreeMap::new();
    for record in records {
        for placement in placements(record, &by_key) {
            let key = (placement.experiment.clone(), placement.id.clone(), record.host.identity());
            let replace = newest.get(&key).is_none_or(|(kept, _)| {
                (record.timings.started_unix_ms, &record.hash) > (kept.timings.started_unix_ms, &kept.hash)
            });
            if replace {
                newest.insert(key, (record, placement));
            }
        }
    }
    let labels = host_labels(newest.values().map(|(record, _)| *record));
    let mut quality = quality_views(&newest, &labels, manifests);
    let mut search = search_views(&newest, &labels, manifests);
    let mut hosts = BTreeMap::new();
    let mut cells = Vec::new();
    let mut units: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (record, placement) in newest.into_values() {
        let host = labels[&record.host.identity()].clone();
        hosts.entry(host.clone()).or_insert_with(|| page_host(&record.host));
        let experiment = units.entry(placement.experiment.clone()).or_default();
        for (metric, value) in &record.metrics {
            experiment.entry(metric.clone()).or_insert_with(|| value.unit.clone());
        }
        cells.push(page_cell(record, placement, host));
    }
    let mut experiments = experiments(&cells, &units, manifests);
    for experiment in &mut experiments {
        experiment.quality = quality.remove(&experiment.name);
        experiment.search = search.remove(&experiment.name);
    }
    PageData { format: PAGE_FORMAT, experiments, hosts, cells }
}

/// The records the page shows under `experiment` as its current cells (not earlier results),
/// each with where it is placed.
fn current<'a>(
    newest: &'a BTreeMap<(String, String, String), (&'a CellRecord, Placement)>,
    experiment: &str,
) -> Vec<(&'a CellRecord, &'a Placement)> {
    newest
        .iter()
        .filter(|((name, _, _), (_, placement))| name == experiment && placement.current)
        .map(|(_, (record, placement))| (*record, placement))
        .collect()
}

/// Each search experiment's answers and probes' chart, from the current records the page shows.
fn search_views(
    newest: &BTreeMap<(String, String, String), (&CellRecord, Placement)>,
    labels: &BTreeMap<String, String>,
    manifests: &Manifests,
) -> BTreeMap<String, PageSearch> {
    let mut views = BTreeMap::new();
    for experiment in &manifests.experiments {
        let Some(search) = &experiment.search else { continue };
        let name = &experiment.name.value;
        let shown: Vec<super::search::Shown<'_>> = current(newest, name)
            .into_iter()
            .map(|(record, placement)| super::search::Shown {
                axes: placement.axes.iter().map(|(axis, value)| (axis.as_str(), value.as_str())).collect(),
                workload: &placement.workload,
                host: labels[&record.host.identity()].clone(),
                record,
            })
            .collect();
        if shown.is_empty() {
            continue;
        }
        let view = super::search::view_of(experiment, search, &shown);
        let (chart, chart_refused) = match super::search::chart(&view) {
            Ok(chart) => (chart, None),
            Err(error) => (None, Some(error.to_string())),
        };
        let lines = view.answers.iter().map(|answer| format!("{}: {}", answer.configuration, answer.line)).collect();
        let heading = format!("Search: where {} stops holding over {}", view.condition, view.axis);
        views.insert(name.clone(), PageSearch { axis: view.axis.clone(), heading, lines, chart, chart_refused });
    }
    views
}

/// Each experiment's speed × quality view, from the current records the page shows: the view
/// its report leads with, less the models' sizes (the page has no lock to read them from).
fn quality_views(
    newest: &BTreeMap<(String, String, String), (&CellRecord, Placement)>,
    labels: &BTreeMap<String, String>,
    manifests: &Manifests,
) -> BTreeMap<String, PageQuality> {
    let mut views = BTreeMap::new();
    for experiment in &manifests.experiments {
        let name = &experiment.name.value;
        let mut placed = current(newest, name);
        // Rows in the matrix's order, as the report has them: by each axis's values as declared.
        let order = |placement: &Placement| -> Vec<usize> {
            experiment
                .axes
                .iter()
                .map(|axis| {
                    let value = placement.axes.get(&axis.name.value);
                    axis.values.iter().position(|known| Some(&known.value.value) == value).unwrap_or(usize::MAX)
                })
                .collect()
        };
        placed.sort_by_cached_key(|(_, placement)| order(placement));
        // The axes in the manifest's order, as a report's cells have them.
        let axes: Vec<Vec<(String, String)>> = placed
            .iter()
            .map(|(_, placement)| {
                experiment
                    .axes
                    .iter()
                    .filter_map(|axis| {
                        let value = placement.axes.get(&axis.name.value)?;
                        Some((axis.name.value.clone(), value.clone()))
                    })
                    .collect()
            })
            .collect();
        let selector = experiment.quality_reference();
        let cells: Vec<super::quality::ViewCell<'_>> = placed
            .iter()
            .zip(&axes)
            .map(|((record, placement), axes)| super::quality::ViewCell {
                axes,
                workload: &placement.workload,
                block: record.block(),
                host: &labels[&record.host.identity()],
                record: Some(*record),
                selected: !selector.is_empty()
                    && selector.iter().all(|(axis, value)| placement.axes.get(&axis.value) == Some(&value.value)),
            })
            .collect();
        let conditions = crate::manifest::condition_axes(experiment);
        let Some(view) = super::quality::view(&cells, &conditions, &BTreeMap::new()) else { continue };
        let (chart, chart_refused) = match super::scatter::render(&view) {
            // The page names no address but the SVG namespace, once, in its script, which gives
            // it back to the chart.
            Ok(chart) => (chart.map(|svg| svg.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1)), None),
            Err(error) => (None, Some(error.to_string())),
        };
        let rows = view
            .rows
            .iter()
            .zip(view.cells())
            .map(|(row, cells)| PageQualityRow {
                cells,
                frontier: row.place == Some(super::quality::Place::Frontier),
                reference: row.reference,
            })
            .collect();
        views.insert(
            name.clone(),
            PageQuality {
                heading: view.heading(),
                caption: view.caption(),
                header: view.header(),
                rows,
                sentences: view.frontier_sentences(),
                chart,
                chart_refused,
            },
        );
    }
    views
}

/// A label per host identity: its name, made unique with the start of its id where two hosts
/// share one.
fn host_labels<'a>(records: impl Iterator<Item = &'a CellRecord>) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for record in records {
        names.entry(record.host.identity()).or_insert_with(|| record.host.label());
    }
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for name in names.values() {
        *count.entry(name).or_default() += 1;
    }
    let shared: BTreeSet<String> =
        count.into_iter().filter(|(_, count)| *count > 1).map(|(name, _)| name.to_owned()).collect();
    names
        .into_iter()
        .map(|(identity, name)| {
            let label =
                if shared.contains(&name) { format!("{name} ({})", crate::digest::listed(&identity)) } else { name };
            (identity, label)
        })
        .collect()
}

fn page_host(facts: &HostFacts) -> PageHost {
    PageHost {
        id: facts.identity(),
        kernel: facts.kernel.clone(),
        os: facts.os.clone(),
        cpu: facts.cpu.clone(),
        memory_bytes: facts.memory_bytes,
        gpus: facts.gpus_shown(),
        firmware: facts.firmware.clone(),
        cpu_layout: facts.cpu_layout(),
    }
}

/// Where a record shows on the page: as a cell of an experiment, and whether the manifests
/// still have that cell.
struct Placement {
    experiment: String,
    id: String,
    workload: String,
    axes: BTreeMap<String, String>,
    current: bool,
}

/// Every current cell with the record's inputs (a record is a measurement of its inputs, shown
/// by each experiment that has them); a record that no current cell has shows as an earlier
/// result of the experiment that measured it.
fn placements(record: &CellRecord, by_key: &HashMap<&str, Vec<&ExpectedCell>>) -> Vec<Placement> {
    match by_key.get(record.fingerprint.portable_key().as_str()) {
        Some(cells) => cells
            .iter()
            .map(|cell| Placement {
                experiment: cell.experiment.clone(),
                id: cell.id.clone(),
                workload: cell.workload.clone(),
                axes: cell.axes.iter().cloned().collect(),
                current: true,
            })
            .collect(),
        None => vec![Placement {
            experiment: record.experiment.clone(),
            id: record.cell.clone(),
            workload: record.workload.clone(),
            axes: record.axes.clone(),
            current: false,
        }],
    }
}

fn page_cell(record: &CellRecord, placement: Placement, host: String) -> PageCell {
    let toolbox = &record.fingerprint.toolbox;
    let ran_on = record.ran_on.clone().unwrap_or_default();
    PageCell {
        experiment: placement.experiment,
        id: placement.id,
        host,
        workload: placement.workload,
        axes: placement.axes,
        status: record.status.name(),
        reason: (record.status != Status::Ok)
            .then(|| record.failure.as_ref().map(|failure| failure.reason.clone()))
            .flatten(),
        metrics: record
            .metrics
            .iter()
            .map(|(name, value)| {
                let value = PageValue {
                    mean: value.mean,
                    spread: value.spread().filter(|spread| spread.is_finite()),
                    rounds: value.round_values().map(<[f64]>::to_vec),
                };
                (name.clone(), value)
            })
            .filter(|(_, value)| value.mean.is_finite())
            .collect(),
        partial_rounds: super::table::partial_rounds(record),
        provenance: Provenance {
            toolbox: toolbox.name.clone(),
            runner: toolbox.runner.clone(),
            image: toolbox.image.clone(),
            digest: toolbox.digest.clone(),
            llama_cpp: toolbox.llama_cpp.clone(),
            backend: record.ran_on.as_ref().map(|ran_on| ran_on.backend.clone()),
            devices: ran_on.devices,
            driver: ran_on.driver,
            models: record.fingerprint.argv.iter().filter(|word| word.starts_with("sha256:")).cloned().collect(),
            started_unix_ms: record.timings.started_unix_ms,
            hash: record.hash.clone(),
        },
        file: format!("cells/{}/{}.json", record.hash.get(..2).unwrap_or("xx"), record.hash),
        current: placement.current,
    }
}

/// Each experiment with cells on the page: its axes (the manifest's order first), metrics with
/// their unit and better side.
fn experiments(
    cells: &[PageCell],
    units: &BTreeMap<String, BTreeMap<String, String>>,
    manifests: &Manifests,
) -> Vec<PageExperiment> {
    let mut by_name: BTreeMap<&str, Vec<&PageCell>> = BTreeMap::new();
    for cell in cells {
        by_name.entry(&cell.experiment).or_default().push(cell);
    }
    by_name
        .into_iter()
        .map(|(name, cells)| {
            let declared = manifests.experiment(name);
            let mut order: Vec<String> = declared
                .map(|experiment| experiment.axes.iter().map(|axis| axis.name.value.clone()).collect())
                .unwrap_or_default();
            for cell in &cells {
                for axis in cell.axes.keys() {
                    if !order.contains(axis) {
                        order.push(axis.clone());
                    }
                }
            }
            let axes = order
                .into_iter()
                .filter_map(|axis| {
                    let values: BTreeSet<&str> =
                        cells.iter().filter_map(|cell| cell.axes.get(&axis).map(String::as_str)).collect();
                    (!values.is_empty()).then(|| page_axis(axis, values))
                })
                .collect();
            let metrics = units.get(name).into_iter().flatten().map(|(name, unit)| page_metric(name, unit)).collect();
            PageExperiment {
                name: name.to_owned(),
                description: declared.and_then(|experiment| experiment.description.clone()),
                axes,
                metrics,
                quality: None,
                search: None,
            }
        })
        .collect()
}

fn page_metric(name: &str, unit: &str) -> PageMetric {
    let better = crate::metric::Better::of(name, unit).map(crate::metric::Better::word);
    match crate::metric::describe(name) {
        Some(described) => PageMetric {
            name: name.to_owned(),
            unit: unit.to_owned(),
            better,
            label: described.label(),
            family: described.family.name.to_owned(),
            phase: described.phase,
            kind: described.family.kind,
        },
        None => PageMetric {
            name: name.to_owned(),
            unit: unit.to_owned(),
            better,
            label: name.to_owned(),
            family: name.to_owned(),
            phase: crate::metric::Phase::All,
            kind: crate::metric::Kind::Declared,
        },
    }
}

fn page_axis(name: String, values: BTreeSet<&str>) -> PageAxis {
    let numeric = values.iter().all(|value| value.parse::<f64>().is_ok());
    let mut values: Vec<String> = values.into_iter().map(str::to_owned).collect();
    if numeric {
        values.sort_by(|a, b| {
            let (a, b) = (a.parse::<f64>().unwrap_or(0.0), b.parse::<f64>().unwrap_or(0.0));
            a.total_cmp(&b)
        });
    }
    let sweep = super::table::SWEEPS.contains(&name.as_str());
    PageAxis { name, values, numeric, sweep }
}
