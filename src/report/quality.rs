//! The speed × quality view of an experiment with a `quality` block: a row per configuration
//! with its speed, how far its next-token distributions are from the reference configuration's,
//! and its model's size; and the frontier, the configurations that no other beats on both speed
//! and closeness to the reference. The report and the page show the same view.

use std::collections::BTreeMap;

use serde::Serialize;

use super::format::Scale;
use crate::fingerprint::WorkloadPrint;
use crate::manifest::Better;
use crate::matrix::Block;
use crate::metric::names::{DP_RMS, GEN_TPS, KLD_MAX, KLD_MEAN, KLD_P99, PPL, PPL_RATIO, SAME_TOP_P, TTFT_MS};
use crate::metric::{Kind, MetricName, Phase, describe};
use crate::store::{CellRecord, Status};

/// The quality columns beside speed: how close, how often the same top token, and perplexity.
const BESIDE_SPEED: [&str; 3] = [KLD_MEAN, SAME_TOP_P, PPL_RATIO];
/// The quality columns of an experiment that measures no speed: every figure of the record.
const QUALITY_ONLY: [&str; 7] = [PPL, PPL_RATIO, KLD_MEAN, KLD_P99, KLD_MAX, SAME_TOP_P, DP_RMS];

/// One cell of the experiment on one host, as the view reads it.
pub(super) struct ViewCell<'a> {
    /// Axis name and value, in the order the axes are declared.
    pub(super) axes: &'a [(String, String)],
    pub(super) workload: &'a str,
    pub(super) block: Block,
    /// The host's label; empty while nothing has run.
    pub(super) host: &'a str,
    pub(super) record: Option<&'a CellRecord>,
    /// Whether the experiment's reference selector names the cell's configuration: what says
    /// which is the reference where there is no record (a record's fingerprint says it).
    pub(super) selected: bool,
}

/// The view: speed columns, quality columns and a row per configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityView {
    /// What each configuration's speed is read by; none in an experiment without bench or
    /// server cells.
    pub speed: Vec<SpeedColumn>,
    /// The speed column the frontier is drawn along: generation where it is measured.
    pub primary: Option<usize>,
    /// The quality metrics shown, in column order.
    pub quality: Vec<String>,
    pub rows: Vec<QualityRow>,
    /// The chart beside the report: its file name, when it has points to draw.
    pub chart: Option<String>,
    /// Why the chart could not be drawn: said where it would have been.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_refused: Option<String>,
}

/// A speed metric of one workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpeedColumn {
    pub metric: String,
    /// `bench`, or the server workload that records it.
    pub workload: String,
    /// Whether the title names the workload: several server workloads record the metric.
    pub named: bool,
    pub unit: String,
    pub better: Option<Better>,
}

/// One configuration on one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityRow {
    /// `model=q4_0`: the axes that vary among the rows, and the host when there are several.
    pub configuration: String,
    /// The host and condition values (`depth=512`) the frontier is drawn among; empty with one
    /// host and no condition axis.
    pub group: String,
    /// Whether this is the reference configuration, whose divergence is nil by definition.
    pub reference: bool,
    /// Aligned with the view's `speed`.
    pub speed: Vec<Value>,
    /// Aligned with the view's `quality`.
    pub quality: Vec<Value>,
    /// Its perplexity over the corpus, whether or not a column shows it: the reference's is what
    /// every `ppl_ratio` divides by.
    pub perplexity: Value,
    /// The model file's size, where the lock pins the file measured.
    pub model_size: Option<u64>,
    /// Where the row stands against the frontier; `None` when its primary speed or its
    /// divergence is not measured (or the experiment measures no speed).
    pub place: Option<Place>,
}

/// A figure of a row, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Value {
    Ok {
        mean: f64,
        /// What the record gives as `±`: the spread over rounds or repetitions, or
        /// llama-perplexity's own uncertainty.
        spread: Option<f64>,
    },
    /// The cell did not give a result: failed, timed out, blocked or skipped.
    Unmeasured(UnmeasuredStatus),
    /// The cell ran, but did not give this metric.
    NoMetric,
    NotRun,
}

/// A cell's status where it gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnmeasuredStatus {
    Failed,
    TimedOut,
    Blocked,
    Skipped,
}

/// Where a configuration stands against the frontier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "place", rename_all = "kebab-case")]
pub enum Place {
    /// No other configuration is at least as fast and at least as close to the reference, and
    /// ahead in one.
    Frontier,
    /// The fastest of the configurations that beat it so.
    BeatenBy { configuration: String },
}

impl Value {
    fn of(record: Option<&CellRecord>, metric: &str) -> Self {
        let Some(record) = record else { return Self::NotRun };
        let status = match record.status {
            Status::Ok => None,
            Status::Failed => Some(UnmeasuredStatus::Failed),
            Status::TimedOut => Some(UnmeasuredStatus::TimedOut),
            Status::Blocked => Some(UnmeasuredStatus::Blocked),
            Status::Skipped => Some(UnmeasuredStatus::Skipped),
        };
        if let Some(status) = status {
            return Self::Unmeasured(status);
        }
        record.metrics.get(metric).map_or(Self::NoMetric, |value| Self::Ok { mean: value.mean, spread: value.spread() })
    }

    /// The mean, where there is one.
    pub fn mean(self) -> Option<f64> {
        match self {
            Self::Ok { mean, .. } => Some(mean),
            _ => None,
        }
    }

    /// What a table shows where there is no value, as the report's other tables say it.
    fn unmeasured_words(self) -> &'static str {
        match self {
            Self::Ok { .. } => "",
            Self::Unmeasured(UnmeasuredStatus::Failed) => Status::Failed.words(),
            Self::Unmeasured(UnmeasuredStatus::TimedOut) => Status::TimedOut.words(),
            Self::Unmeasured(UnmeasuredStatus::Blocked) => Status::Blocked.words(),
            Self::Unmeasured(UnmeasuredStatus::Skipped) => Status::Skipped.words(),
            Self::NoMetric => "n/a",
            Self::NotRun => "not run",
        }
    }
}

/// The view of `cells` (every cell of one experiment on every host), or `None` when the
/// experiment has no quality cells. `conditions` are the axes that are conditions of the
/// measurement (a depth), among whose values the frontier is drawn apart; `sizes` the model
/// files' sizes by model name.
pub(super) fn view(
    cells: &[ViewCell<'_>],
    conditions: &[String],
    sizes: &BTreeMap<String, u64>,
) -> Option<QualityView> {
    if !cells.iter().any(|cell| cell.block == Block::Quality) {
        return None;
    }
    let speed = speed_columns(cells);
    let primary = primary(&speed);
    let quality: Vec<String> = if speed.is_empty() { &QUALITY_ONLY[..] } else { &BESIDE_SPEED[..] }
        .iter()
        .map(|metric| (*metric).to_owned())
        .collect();

    // A row per configuration and host, in the order the cells come (the matrix's).
    let mut keys: Vec<(&[(String, String)], &str)> = Vec::new();
    for cell in cells.iter().filter(|cell| matches!(cell.block, Block::Quality | Block::Bench | Block::Server)) {
        if !keys.contains(&(cell.axes, cell.host)) {
            keys.push((cell.axes, cell.host));
        }
    }
    let several_hosts = keys.iter().any(|(_, host)| *host != keys[0].1);
    let varying: Vec<&str> = keys
        .first()
        .map(|(axes, _)| {
            axes.iter()
                .filter(|(axis, value)| {
                    keys.iter().any(|(other, _)| other.iter().any(|(name, known)| name == axis && known != value))
                })
                .map(|(axis, _)| axis.as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut rows: Vec<QualityRow> = keys
        .iter()
        .map(|&(axes, host)| {
            let here = |cell: &&ViewCell<'_>| cell.axes == axes && cell.host == host;
            let quality_cell = cells.iter().filter(here).find(|cell| cell.block == Block::Quality);
            let record = quality_cell.and_then(|cell| cell.record);
            let reference = match record {
                Some(record) => matches!(record.fingerprint.workload, WorkloadPrint::Quality { reference: None, .. }),
                None => quality_cell.is_some_and(|cell| cell.selected),
            };
            let named: Vec<String> = axes
                .iter()
                .filter(|(axis, _)| varying.is_empty() || varying.contains(&axis.as_str()))
                .map(|(axis, value)| format!("{axis}={value}"))
                .collect();
            let configuration =
                if several_hosts { format!("{} on {host}", named.join(", ")) } else { named.join(", ") };
            let mut group: Vec<String> = axes
                .iter()
                .filter(|(axis, _)| conditions.contains(axis) && varying.contains(&axis.as_str()))
                .map(|(axis, value)| format!("{axis}={value}"))
                .collect();
            if several_hosts {
                group.push(format!("on {host}"));
            }
            QualityRow {
                configuration,
                group: group.join(" "),
                reference,
                speed: speed
                    .iter()
                    .map(|column| {
                        let speed_cell = cells
                            .iter()
                            .filter(here)
                            .find(|cell| cell.block != Block::Quality && cell.workload == column.workload);
                        speed_cell.map_or(Value::NotRun, |cell| Value::of(cell.record, &column.metric))
                    })
                    .collect(),
                quality: quality.iter().map(|metric| Value::of(record, metric)).collect(),
                perplexity: Value::of(record, PPL),
                model_size: axes
                    .iter()
                    .find(|(axis, _)| axis == "model")
                    .and_then(|(_, model)| sizes.get(model))
                    .copied(),
                place: None,
            }
        })
        .collect();

    if let Some(primary) = primary {
        let kld = quality.iter().position(|metric| metric == KLD_MEAN);
        place(&mut rows, primary, kld, speed[primary].better.unwrap_or(Better::Higher));
    }
    Some(QualityView { speed, primary, quality, rows, chart: None, chart_refused: None })
}

/// Places each row against the others of its group: along the speed column `primary` and the
/// divergence column `kld` (the reference's is nil).
fn place(rows: &mut [QualityRow], primary: usize, kld: Option<usize>, better: Better) {
    let mut groups: Vec<String> = Vec::new();
    for row in rows.iter() {
        if !groups.contains(&row.group) {
            groups.push(row.group.clone());
        }
    }
    for group in groups {
        let members: Vec<usize> = (0..rows.len()).filter(|&index| rows[index].group == group).collect();
        let points: Vec<Option<Point>> = members
            .iter()
            .map(|&index| {
                let row = &rows[index];
                let Value::Ok { mean: speed, spread } = row.speed[primary] else { return None };
                let (divergence, divergence_spread) = if row.reference {
                    // The reference is placed only where its pass gave a result.
                    row.perplexity.mean()?;
                    (0.0, None)
                } else {
                    match row.quality[kld?] {
                        Value::Ok { mean, spread } => (mean, spread),
                        _ => return None,
                    }
                };
                Some(Point {
                    speed,
                    speed_spread: spread.unwrap_or(0.0),
                    divergence,
                    divergence_spread: divergence_spread.unwrap_or(0.0),
                })
            })
            .collect();
        let standings = frontier(&points, better);
        for (&index, standing) in members.iter().zip(standings) {
            rows[index].place = standing.map(|standing| match standing {
                Standing::Frontier => Place::Frontier,
                Standing::BeatenBy(other) => {
                    Place::BeatenBy { configuration: rows[members[other]].configuration.clone() }
                }
            });
        }
    }
}

/// The speed columns: a bench cell's llama-bench tests, a server workload's generation speed
/// and cold time to first token; the generation speed first.
fn speed_columns(cells: &[ViewCell<'_>]) -> Vec<SpeedColumn> {
    let first_token = MetricName::new(TTFT_MS, Phase::First).to_string();
    let mut found: Vec<(String, String, Block, String)> = Vec::new();
    for cell in cells {
        let Some(record) = cell.record.filter(|record| record.status == Status::Ok) else { continue };
        for (name, value) in &record.metrics {
            let wanted = match cell.block {
                Block::Bench => describe(name).is_some_and(|described| described.family.kind == Kind::Bench),
                Block::Server => *name == GEN_TPS || *name == first_token,
                Block::Command | Block::Quality => false,
            };
            let key = (cell.workload.to_owned(), name.clone(), cell.block, value.unit.clone());
            if wanted && !found.iter().any(|known| known.0 == key.0 && known.1 == key.1) {
                found.push(key);
            }
        }
    }
    // Bench before server workloads, each workload's in a steady order: generation first.
    let generation = |name: &str| describe(name).is_some_and(|described| is_generation(described.family.name));
    found.sort_by(|a, b| {
        (a.2 != Block::Bench, !generation(&a.1), &a.0, &a.1).cmp(&(b.2 != Block::Bench, !generation(&b.1), &b.0, &b.1))
    });
    let server_workloads: Vec<&str> = {
        let mut names: Vec<&str> =
            found.iter().filter(|known| known.2 == Block::Server).map(|known| known.0.as_str()).collect();
        names.dedup();
        names
    };
    found
        .iter()
        .map(|(workload, metric, block, unit)| SpeedColumn {
            metric: metric.clone(),
            workload: workload.clone(),
            named: *block == Block::Server && server_workloads.len() > 1,
            unit: unit.clone(),
            better: Better::of(metric, unit),
        })
        .collect()
}

/// Whether a family is a generation speed: llama-bench's `tg` or a server's `gen_tps`.
fn is_generation(family: &str) -> bool {
    family == "tg" || family == GEN_TPS
}

/// The column the frontier is drawn along: the first generation speed, else the first column.
fn primary(speed: &[SpeedColumn]) -> Option<usize> {
    let generation = speed
        .iter()
        .position(|column| describe(&column.metric).is_some_and(|described| is_generation(described.family.name)));
    generation.or_else(|| (!speed.is_empty()).then_some(0))
}

/// Where one point stands among its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    Frontier,
    /// The index of the fastest point that beats it.
    BeatenBy(usize),
}

/// A configuration as the frontier sees it: its speed and its divergence, each with the spread
/// (`±`) within which another figure is no different.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Point {
    pub(super) speed: f64,
    pub(super) speed_spread: f64,
    pub(super) divergence: f64,
    pub(super) divergence_spread: f64,
}

impl Point {
    /// A point whose figures are exact (no spread).
    #[cfg(test)]
    fn exact(speed: f64, divergence: f64) -> Self {
        Self { speed, speed_spread: 0.0, divergence, divergence_spread: 0.0 }
    }
}

/// Each point against the others: beaten when another is no worse beyond noise on either side
/// (speed, divergence) and better beyond noise on one (their `±` ranges do not overlap); else on
/// the frontier. A configuration is never called beaten by a difference within noise. The one
/// named is the fastest that beats it (the closest among equally fast ones). A point without
/// both figures is not placed. `better` is the speed metric's side (a time to first token is
/// faster when lower).
pub(super) fn frontier(points: &[Option<Point>], better: Better) -> Vec<Option<Standing>> {
    let sign = match better {
        Better::Higher => 1.0,
        Better::Lower => -1.0,
    };
    // `a` ahead of `b` beyond noise: their ranges apart, `a`'s on the better side.
    let faster = |a: &Point, b: &Point| sign * (a.speed - b.speed) > a.speed_spread + b.speed_spread;
    let closer = |a: &Point, b: &Point| b.divergence - a.divergence > a.divergence_spread + b.divergence_spread;
    points
        .iter()
        .map(|point| {
            let point = (*point)?;
            let beaten_by = points
                .iter()
                .enumerate()
                .filter_map(|(index, other)| Some((index, (*other)?)))
                .filter(|(_, other)| {
                    let as_fast = sign * (other.speed - point.speed) >= 0.0;
                    let as_close = other.divergence <= point.divergence;
                    as_fast && as_close && (faster(other, &point) || closer(other, &point))
                })
                .reduce(|best, candidate| {
                    let ahead = match (sign * (candidate.1.speed - best.1.speed)).partial_cmp(&0.0) {
                        Some(std::cmp::Ordering::Greater) => true,
                        Some(std::cmp::Ordering::Equal) => candidate.1.divergence < best.1.divergence,
                        _ => false,
                    };
                    if ahead { candidate } else { best }
                });
            Some(beaten_by.map_or(Standing::Frontier, |(index, _)| Standing::BeatenBy(index)))
        })
        .collect()
}

impl QualityView {
    /// The reference configuration's row, where the view has one.
    pub fn reference(&self) -> Option<&QualityRow> {
        self.rows.iter().find(|row| row.reference)
    }

    /// Whether any row has its model's size: the column is left out otherwise.
    fn sized(&self) -> bool {
        self.rows.iter().any(|row| row.model_size.is_some())
    }

    /// The scale each speed column is shown in: one per column, as the other tables have.
    fn speed_scales(&self) -> Vec<Scale> {
        (0..self.speed.len())
            .map(|column| {
                let values = self.rows.iter().filter_map(|row| row.speed[column].mean());
                Scale::for_values(&self.speed[column].unit, values)
            })
            .collect()
    }

    /// The speed column's title: `tg128 (t/s)`, `chat gen_tps (t/s)`.
    fn speed_title(&self, column: usize, scale: &Scale) -> String {
        let speed = &self.speed[column];
        let name = if speed.named { format!("{} {}", speed.workload, speed.metric) } else { speed.metric.clone() };
        if scale.unit.is_empty() { name } else { format!("{name} ({})", scale.unit) }
    }

    /// The primary speed metric as a caption names it: `tg128 (t/s)`.
    pub fn primary_title(&self) -> Option<String> {
        let primary = self.primary?;
        Some(self.speed_title(primary, &self.speed_scales()[primary]))
    }

    /// The table's header: the configuration, the speed columns, the quality columns, the model's
    /// size where known, and the frontier where there is speed.
    pub fn header(&self) -> Vec<String> {
        let scales = self.speed_scales();
        let mut header = vec!["configuration".to_owned()];
        header.extend((0..self.speed.len()).map(|column| self.speed_title(column, &scales[column])));
        header.extend(self.quality.iter().map(|metric| {
            let unit = unit_of(metric);
            if unit.is_empty() { metric.clone() } else { format!("{metric} ({unit})") }
        }));
        if self.sized() {
            header.push("model size".to_owned());
        }
        if self.primary.is_some() {
            header.push("frontier".to_owned());
        }
        header
    }

    /// Each row's cells, in the header's order: figures with their `±`, the reference's
    /// divergences as `reference`, and a status word where a cell gave no figure.
    pub fn cells(&self) -> Vec<Vec<String>> {
        let scales = self.speed_scales();
        self.rows
            .iter()
            .map(|row| {
                let mut cells = vec![row.configuration.clone()];
                cells.extend(row.speed.iter().zip(&scales).map(|(value, scale)| match value {
                    Value::Ok { mean, spread } => scale.spread(*mean, *spread),
                    other => other.unmeasured_words().to_owned(),
                }));
                cells.extend(self.quality.iter().zip(&row.quality).map(|(metric, value)| match value {
                    // The reference has nothing to diverge from: no figure is made up for it.
                    _ if !row.reference || metric == PPL => quality_text(metric, *value),
                    Value::Ok { .. } | Value::NoMetric => "reference".to_owned(),
                    other => other.unmeasured_words().to_owned(),
                }));
                if self.sized() {
                    cells.push(row.model_size.map_or_else(|| "unknown".to_owned(), crate::units::format_bytes));
                }
                if self.primary.is_some() {
                    cells.push(match &row.place {
                        Some(Place::Frontier) => "frontier".to_owned(),
                        Some(Place::BeatenBy { configuration }) => format!("beaten by {configuration}"),
                        None => String::new(),
                    });
                }
                cells
            })
            .collect()
    }

    /// `tg128 41.2 t/s, mean KLD 0.00680, same top token 96.0 %`: the figures that place a
    /// configuration, said wherever it is named in a sentence.
    pub fn figures(&self, row: &QualityRow) -> String {
        let mut parts = Vec::new();
        if let Some(primary) = self.primary {
            let scale = &self.speed_scales()[primary];
            if let Some(speed) = row.speed[primary].mean() {
                let column = &self.speed[primary];
                let name =
                    if column.named { format!("{} {}", column.workload, column.metric) } else { column.metric.clone() };
                parts.push(format!("{name} {}", scale.spread_with_unit(speed, None)));
            }
        }
        if row.reference {
            parts.push("the reference".to_owned());
        } else {
            for (metric, words) in [(KLD_MEAN, "mean KLD"), (SAME_TOP_P, "same top token")] {
                let value = self.quality.iter().position(|known| known == metric).map(|column| row.quality[column]);
                if let Some(Value::Ok { mean, .. }) = value {
                    let unit = unit_of(metric);
                    let figure = quality_text(metric, Value::Ok { mean, spread: None });
                    parts.push(if unit.is_empty() {
                        format!("{words} {figure}")
                    } else {
                        format!("{words} {figure} {unit}")
                    });
                }
            }
        }
        parts.join(", ")
    }

    /// The section's title: `Speed and quality`, or `Quality` without speed.
    pub fn heading(&self) -> &'static str {
        if self.primary.is_some() { "Speed and quality" } else { "Quality" }
    }

    /// What the figures are and how the frontier is drawn, said above the table; names in
    /// backticks.
    pub fn caption(&self) -> String {
        use std::fmt::Write as _;
        let reference = self.reference();
        let against = reference.map_or_else(String::new, |row| format!(" `{}`'s", row.configuration));
        let mut caption = format!(
            "How far each configuration's next-token distributions are from the reference{against} over the corpus \
             (llama-perplexity): `kld_mean` is the mean KL divergence per token, `same_top_p` how often both pick \
             the same top token, `ppl_ratio` its perplexity over the reference's"
        );
        if let Some(Value::Ok { mean, .. }) = reference.map(|row| row.perplexity) {
            let _ = write!(caption, " ({})", crate::units::format_plain(mean));
        }
        caption.push_str(". ± beside a quality figure is llama-perplexity's own uncertainty.");
        if let Some(primary) = self.primary_title() {
            let _ = write!(
                caption,
                " The frontier is drawn along {primary}: a configuration is on it when no other is at least as fast \
                 and at least as close to the reference (a lower `kld_mean`; the reference counts as 0), and ahead \
                 in one."
            );
        }
        caption
    }

    /// A sentence per group naming the configurations on its frontier, each with the figures
    /// that put it there: "On the frontier: `model=q4_0` (tg128 52.3 t/s, mean KLD 0.334, …); …".
    pub fn frontier_sentences(&self) -> Vec<String> {
        // A frontier needs a divergence to weigh speed against: none when no candidate has one.
        let weighed = self.rows.iter().any(|row| !row.reference && matches!(row.place, Some(Place::BeatenBy { .. })))
            || self.rows.iter().filter(|row| row.place.is_some()).count() > 1;
        let mut sentences: Vec<String> = self
            .frontiers()
            .into_iter()
            .filter(|(_, rows)| weighed && !rows.is_empty())
            .map(|(group, rows)| {
                let at = if group.is_empty() { String::new() } else { format!(" {group}") };
                let named: Vec<String> =
                    rows.iter().map(|row| format!("`{}` ({})", row.configuration, self.figures(row))).collect();
                format!("On the frontier{at}: {}.", named.join("; "))
            })
            .collect();
        // A speed whose spread is a large share of it cannot be placed with confidence: said, so
        // that no one reads its place as settled.
        if let Some(primary) = self.primary {
            let scale = &self.speed_scales()[primary];
            for row in &self.rows {
                if let Value::Ok { mean, spread: Some(spread) } = row.speed[primary]
                    && spread > mean.abs() / 4.0
                {
                    sentences.push(format!(
                        "`{}`'s {} varies too much to place it with confidence ({}): more rounds, or a quieter \
                         host, would tell.",
                        row.configuration,
                        self.speed[primary].metric,
                        scale.spread_with_unit(mean, Some(spread))
                    ));
                }
            }
        }
        sentences
    }

    /// The groups the frontier is drawn among, in row order, each with its frontier's rows.
    fn frontiers(&self) -> Vec<(&str, Vec<&QualityRow>)> {
        let mut groups: Vec<(&str, Vec<&QualityRow>)> = Vec::new();
        for row in &self.rows {
            let at = groups.iter().position(|(group, _)| *group == row.group).unwrap_or_else(|| {
                groups.push((&row.group, Vec::new()));
                groups.len() - 1
            });
            if row.place == Some(Place::Frontier) {
                groups[at].1.push(row);
            }
        }
        groups
    }
}

/// A quality metric's unit as the catalogue gives it (`%` for the shares, none for the rest).
fn unit_of(metric: &str) -> &'static str {
    describe(metric).map_or("", |described| described.family.unit_symbol())
}

/// A quality figure: a divergence or perplexity with the digits that tell configurations apart
/// (`0.00683`, `1.007`), a share in percent like the other tables (`96.0 ± 0.8`).
fn quality_text(metric: &str, value: Value) -> String {
    let Value::Ok { mean, spread } = value else { return value.unmeasured_words().to_owned() };
    let unit = unit_of(metric);
    if !unit.is_empty() {
        return Scale::for_values(unit, std::iter::once(mean)).spread(mean, spread);
    }
    let shown = crate::units::format_plain(mean);
    match spread.filter(|spread| *spread > 0.0 && spread.is_finite()) {
        Some(spread) => {
            // The spread with the mean's decimals, or its own first digits where they round away.
            let decimals = shown.split_once('.').map_or(0, |(_, fraction)| fraction.len());
            let fixed = format!("{spread:.decimals$}");
            let spread = if fixed.trim_start_matches(['0', '.']).is_empty() {
                crate::units::format_plain(spread)
            } else {
                fixed
            };
            format!("{shown} ± {spread}")
        }
        None => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(points: &[Option<(f64, f64)>]) -> Vec<Option<Point>> {
        points.iter().map(|point| point.map(|(speed, divergence)| Point::exact(speed, divergence))).collect()
    }

    #[test]
    fn a_point_another_beats_on_both_names_the_fastest_that_does() {
        let points = exact(&[Some((10.0, 0.0)), Some((20.0, 0.1)), Some((15.0, 0.2)), Some((30.0, 0.5)), None]);
        let standings = frontier(&points, Better::Higher);
        assert_eq!(
            standings,
            [
                Some(Standing::Frontier),
                Some(Standing::Frontier),
                // Both 20 t/s at 0.1 and 10 t/s at 0 are not it: only the first is as fast.
                Some(Standing::BeatenBy(1)),
                Some(Standing::Frontier),
                None,
            ]
        );
        // Two beat it: the faster is named.
        let points = exact(&[Some((10.0, 0.3)), Some((12.0, 0.2)), Some((14.0, 0.25))]);
        assert_eq!(frontier(&points, Better::Higher)[0], Some(Standing::BeatenBy(2)));
    }

    /// Configurations that share one quality record (they differ only in threads) tie on
    /// divergence: the slower is beaten, not on the frontier beside the faster.
    #[test]
    fn equal_divergence_is_beaten_by_the_faster() {
        let points = exact(&[Some((10.0, 0.1)), Some((12.0, 0.1))]);
        assert_eq!(frontier(&points, Better::Higher), [Some(Standing::BeatenBy(1)), Some(Standing::Frontier)]);
        let points = exact(&[Some((10.0, 0.1)), Some((10.0, 0.1))]);
        assert_eq!(frontier(&points, Better::Higher), [Some(Standing::Frontier), Some(Standing::Frontier)]);
    }

    /// Means alone would call a configuration beaten by one faster within noise: within its
    /// `±` a speed is as fast, and a divergence as close.
    #[test]
    fn a_difference_within_noise_beats_nothing() {
        let point = |speed, speed_spread, divergence, divergence_spread| {
            Some(Point { speed, speed_spread, divergence, divergence_spread })
        };
        // As close within noise, faster only within noise: both on the frontier.
        let points = [point(66.1, 2.7, 0.10, 0.01), point(66.6, 0.8, 0.105, 0.01)];
        assert_eq!(frontier(&points, Better::Higher), [Some(Standing::Frontier), Some(Standing::Frontier)]);
        // At least as fast and closer beyond noise: beaten.
        let points = [point(66.1, 2.7, 0.0072, 0.0003), point(66.6, 0.8, 0.0, 0.0)];
        assert_eq!(frontier(&points, Better::Higher), [Some(Standing::BeatenBy(1)), Some(Standing::Frontier)]);
        // A reference too noisy to rank is slower by its mean: it beats nothing.
        let points = [point(70.1, 1.4, 0.0072, 0.0003), point(44.5, 92.0, 0.0, 0.0)];
        assert_eq!(frontier(&points, Better::Higher), [Some(Standing::Frontier), Some(Standing::Frontier)]);
        // Faster beyond noise but further beyond noise: both on the frontier.
        let points = [point(70.0, 1.0, 0.1, 0.005), point(78.0, 1.0, 0.36, 0.01)];
        assert_eq!(frontier(&points, Better::Higher), [Some(Standing::Frontier), Some(Standing::Frontier)]);
    }

    #[test]
    fn a_time_is_faster_when_lower() {
        let points = exact(&[Some((100.0, 0.0)), Some((80.0, 0.1)), Some((120.0, 0.2))]);
        assert_eq!(
            frontier(&points, Better::Lower),
            [Some(Standing::Frontier), Some(Standing::Frontier), Some(Standing::BeatenBy(1))]
        );
    }

    #[test]
    fn quality_figures_keep_the_digits_that_differ() {
        let ok = |mean, spread| Value::Ok { mean, spread };
        assert_eq!(quality_text(KLD_MEAN, ok(0.006_83, Some(0.000_21))), "0.00683 ± 0.00021");
        assert_eq!(quality_text(KLD_MEAN, ok(0.334, None)), "0.334");
        assert_eq!(quality_text(PPL_RATIO, ok(1.007_19, None)), "1.007");
        assert_eq!(quality_text(PPL, ok(284.24, Some(2.61))), "284.2 ± 2.6");
        assert_eq!(quality_text(SAME_TOP_P, ok(96.0, Some(0.8))), "96.0 ± 0.8");
        assert_eq!(quality_text(KLD_MEAN, Value::Unmeasured(UnmeasuredStatus::Failed)), "failed");
        assert_eq!(quality_text(KLD_MEAN, Value::NotRun), "not run");
    }
}
