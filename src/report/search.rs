//! A search experiment's answer: one line per configuration (and host) saying where the
//! condition stops holding, with the figures on either side; the probes as a table and as a
//! chart over the searched axis with the threshold drawn.

use std::collections::BTreeMap;
use std::fmt::Write;

use plotters::prelude::*;
use serde::Serialize;

use super::chart::{
    ChartError, Drawn, FONT, PALETTE, WIDTH, draw_legend, draw_mesh, legend_entries, legend_height, shorten, to_u32,
};
use super::format::Scale;
use crate::manifest::Search;
use crate::plan::probe_of;
use crate::search::{Outcome, Probe, Step, outcome_words, shown, step};
use crate::store::CellRecord;

/// The file the probes' chart is written to.
pub(super) const CHART: &str = "search.svg";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchView {
    pub axis: String,
    /// `ttft_ms_first ≤ 30000`, as the manifest gives it (the metric's own unit).
    pub condition: String,
    pub metric: String,
    pub unit: String,
    pub threshold: f64,
    pub answers: Vec<SearchAnswer>,
    /// The probes' chart file, once drawn; why it could not be.
    pub chart: Option<String>,
    pub chart_refused: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchAnswer {
    /// The other axes' values, the workload and the host.
    pub configuration: String,
    /// The answer with the figures either side of the boundary, or how far the search got.
    pub line: String,
    /// Every probe: the value, the figure (or why there is none), and whether it held.
    pub probes: Vec<ProbeRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeRow {
    pub value: i64,
    pub mean: Option<f64>,
    pub spread: Option<f64>,
    pub failure: Option<String>,
    pub holds: bool,
    pub within_noise: bool,
}

/// A probe as a report or the page shows it: its cell's axis values and workload, the host it
/// ran on (as reports label it), its record.
pub(super) struct Shown<'a> {
    pub(super) axes: Vec<(&'a str, &'a str)>,
    pub(super) workload: &'a str,
    pub(super) host: String,
    pub(super) record: &'a CellRecord,
}

/// The search's view of the probes `shown`, by configuration: the other axes' values in the
/// manifest's order (not `toolbox=host`), the workload where the experiment has several, the
/// host where several measured.
pub(super) fn view_of(experiment: &crate::manifest::Experiment, search: &Search, shown: &[Shown<'_>]) -> SearchView {
    let several_hosts = shown.iter().any(|probe| probe.host != shown[0].host);
    let several_workloads = crate::matrix::workloads(experiment).len() > 1;
    let order = |axis: &str| experiment.axes.iter().position(|known| known.name.value == axis).unwrap_or(usize::MAX);
    let mut probes: BTreeMap<String, Vec<(i64, &CellRecord)>> = BTreeMap::new();
    let mut unit = String::new();
    for probe in shown {
        let Some(value) = probe
            .axes
            .iter()
            .find(|(axis, _)| *axis == search.axis.value)
            .and_then(|(_, value)| value.parse::<i64>().ok())
        else {
            continue;
        };
        if unit.is_empty()
            && let Some(metric) = probe.record.metrics.get(&search.keep.metric)
        {
            unit.clone_from(&metric.unit);
        }
        let mut axes: Vec<&(&str, &str)> = probe
            .axes
            .iter()
            .filter(|(axis, value)| *axis != search.axis.value && !(*axis == "toolbox" && *value == "host"))
            .collect();
        axes.sort_by_key(|(axis, _)| order(axis));
        let mut label: Vec<String> = axes.iter().map(|(axis, value)| format!("{axis}={value}")).collect();
        if several_workloads {
            label.push(probe.workload.to_owned());
        }
        if several_hosts {
            label.push(format!("on {}", probe.host));
        }
        let label = if label.is_empty() { "every configuration".to_owned() } else { label.join(", ") };
        probes.entry(label).or_default().push((value, probe.record));
    }
    // The values the manifest's cells take (an `exclude` may leave some out), not a run's.
    let grid: std::collections::BTreeSet<i64> = crate::matrix::expand(experiment)
        .iter()
        .filter_map(|cell| cell.value(&search.axis.value)?.parse().ok())
        .collect();
    view(search, &grid.into_iter().collect::<Vec<_>>(), &unit, probes)
}

/// The search's view from the probes shown: `probes` gives, per configuration label, each
/// searched value with its record; `grid` is the values the search may probe.
fn view(search: &Search, grid: &[i64], unit: &str, probes: BTreeMap<String, Vec<(i64, &CellRecord)>>) -> SearchView {
    let keep = &search.keep;
    let answers = probes
        .into_iter()
        .map(|(configuration, records)| {
            let known: BTreeMap<i64, Probe> =
                records.iter().filter_map(|(value, record)| Some((*value, probe_of(record, &keep.metric)?))).collect();
            let line = match step(search, grid, &known) {
                Step::Answer(answer) => {
                    let words = outcome_words(search, &answer);
                    let figures: Vec<String> = match answer.outcome {
                        Outcome::Boundary { keeps, breaks } => vec![keeps, breaks],
                        Outcome::Everywhere { at } | Outcome::Nowhere { at } => vec![at],
                    }
                    .into_iter()
                    .filter_map(|value| Some(format!("{} at {}", figure(known.get(&value)?, unit), shown(value))))
                    .collect();
                    let noisy: Vec<String> = known
                        .iter()
                        .filter(|(_, probe)| probe.within_noise(keep))
                        .map(|(value, _)| shown(*value))
                        .collect();
                    let mut line = format!("{words} ({})", figures.join("; "));
                    if !noisy.is_empty() {
                        let _ = write!(
                            line,
                            "; within noise of the threshold at {}: more rounds would settle it",
                            noisy.join(", ")
                        );
                    }
                    line
                }
                Step::Probe(next) => format!(
                    "not finished: {} probe(s) measured, {} next",
                    known.len(),
                    next.iter().map(|value| shown(*value)).collect::<Vec<_>>().join(" and ")
                ),
            };
            let probes = known
                .iter()
                .map(|(value, probe)| {
                    let (mean, spread, failure) = match probe {
                        Probe::Measured { mean, spread } => (Some(*mean), *spread, None),
                        Probe::Failed { reason } => (None, None, Some(reason.clone())),
                    };
                    ProbeRow {
                        value: *value,
                        mean,
                        spread,
                        failure,
                        holds: probe.holds(keep),
                        within_noise: probe.within_noise(keep),
                    }
                })
                .collect();
            SearchAnswer { configuration, line, probes }
        })
        .collect();
    SearchView {
        axis: search.axis.value.clone(),
        condition: format!("{} {} {}", keep.metric, keep.op, keep.value),
        metric: keep.metric.clone(),
        unit: unit.to_owned(),
        threshold: keep.value,
        answers,
        chart: None,
        chart_refused: None,
    }
}

/// A probe's figure with its unit: `29,800 ± 400 ms`, or why it has none.
fn figure(probe: &Probe, unit: &str) -> String {
    match probe {
        Probe::Measured { mean, spread } => {
            Scale::for_values(unit, std::iter::once(*mean)).spread_with_unit(*mean, *spread)
        }
        Probe::Failed { reason } => format!("failed ({})", shorten(reason)),
    }
}

/// The probes over the searched axis, a line per configuration, the threshold dashed across;
/// a probe that failed is a cross on the axis. `None` with no probe to draw.
pub(super) fn chart(view: &SearchView) -> Result<Option<String>, ChartError> {
    let measured: Vec<(f64, f64)> = view
        .answers
        .iter()
        .flat_map(|answer| answer.probes.iter())
        .filter_map(|probe| Some((probe_x(probe.value), probe.mean?)))
        .collect();
    if view.answers.iter().all(|answer| answer.probes.is_empty()) {
        return Ok(None);
    }
    if let Some(value) =
        measured.iter().flat_map(|(x, y)| [*x, *y]).chain([view.threshold]).find(|value| !value.is_finite())
    {
        return Err(ChartError::NotFinite(value));
    }
    let scale = Scale::for_values(&view.unit, measured.iter().map(|(_, y)| *y).chain([view.threshold]));
    let mut svg = String::with_capacity(16 * 1024);
    draw(view, &scale, &mut svg).map_err(|error| ChartError::Plotters(error.to_string()))?;
    let comment = format!("\n<!-- {}; rewritten with the report. -->", crate::store::REPORT_MARKER);
    if let Some(end) = svg.find('>') {
        svg.insert_str(end + 1, &comment);
    }
    Ok(Some(svg))
}

#[expect(clippy::cast_precision_loss, reason = "a grid value drawn on a chart")]
fn probe_x(value: i64) -> f64 {
    value as f64
}

fn draw(view: &SearchView, scale: &Scale, svg: &mut String) -> Drawn {
    const HEIGHT: usize = 460;
    let names: Vec<String> = if view.answers.len() > 1 {
        view.answers.iter().map(|answer| shorten(&answer.configuration)).collect()
    } else {
        Vec::new()
    };
    let legend = legend_entries(&names);
    let legend_height = legend_height(&legend);
    let base = SVGBackend::with_string(svg, (WIDTH, to_u32(HEIGHT + legend_height))).into_drawing_area();
    base.fill(&WHITE)?;
    let title = format!("{} over {}: the probes, the threshold dashed", view.metric, view.axis);
    let titled = base.titled(&title, (FONT, 22))?;
    let (legend_area, plot_area) = titled.split_vertically(to_u32(legend_height));
    draw_legend(&legend_area, &legend)?;
    let xs: Vec<f64> =
        view.answers.iter().flat_map(|answer| answer.probes.iter()).map(|probe| probe_x(probe.value)).collect();
    let (left, right) =
        xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), x| (low.min(*x), high.max(*x)));
    let pad = ((right - left) * 0.04).max(1.0);
    let ys = view.answers.iter().flat_map(|answer| answer.probes.iter()).filter_map(|probe| probe.mean);
    let top = ys.chain([view.threshold]).fold(0.0, f64::max) / scale.divisor * 1.12;
    let top = if top > 0.0 { top } else { 1.0 };
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_right(24)
        .margin_top(8)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d((left - pad)..(right + pad), 0.0..top)?;
    let y_desc = if scale.unit.is_empty() { view.metric.clone() } else { format!("{} ({})", view.metric, scale.unit) };
    draw_mesh(&mut chart, &view.axis, &y_desc)?;
    let threshold = view.threshold / scale.divisor;
    chart.draw_series(DashedLineSeries::new(
        [(left - pad, threshold), (right + pad, threshold)],
        8,
        6,
        BLACK.stroke_width(2),
    ))?;
    for (index, answer) in view.answers.iter().enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        let line: Vec<(f64, f64)> = answer
            .probes
            .iter()
            .filter_map(|probe| Some((probe_x(probe.value), probe.mean? / scale.divisor)))
            .collect();
        chart.draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?;
        for probe in &answer.probes {
            let x = probe_x(probe.value);
            match probe.mean {
                Some(mean) if probe.holds => {
                    chart.draw_series(std::iter::once(Circle::new((x, mean / scale.divisor), 5, color.filled())))?;
                }
                Some(mean) => {
                    chart.draw_series(std::iter::once(Circle::new(
                        (x, mean / scale.divisor),
                        5,
                        color.stroke_width(2),
                    )))?;
                }
                None => {
                    chart.draw_series(std::iter::once(Cross::new((x, 0.0), 7, color.stroke_width(3))))?;
                }
            }
        }
    }
    base.present()?;
    Ok(())
}
