//! The per-cell result record written to `results/cells/<ab>/<hash>.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprint;
use crate::host::HostFacts;

/// Bump when the record layout changes incompatibly.
pub const RECORD_FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Failed,
    TimedOut,
    Blocked,
    /// Not run: its toolbox failed `stop-after` cells in a row in that run.
    Skipped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::TimedOut => "timed-out",
            Self::Blocked => "blocked",
            Self::Skipped => "skipped",
        }
    }

    /// The status in prose (`timed out`), as reports and charts write it beside a value.
    pub fn words(self) -> &'static str {
        match self {
            Self::TimedOut => "timed out",
            status => status.name(),
        }
    }

    /// A record of a cell that did not run (blocked or skipped): no result.
    pub fn is_unrun(self) -> bool {
        matches!(self, Self::Blocked | Self::Skipped)
    }
}

/// Why a cell did not produce its metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub reason: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// The last lines of the cell's log.
    pub log_tail: Vec<String>,
}

/// One measured quantity: the mean of its samples, their spread, and its unit. Measured in
/// several rounds, the mean and spread are those of the rounds' means.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    pub mean: f64,
    pub stddev: Option<f64>,
    pub unit: String,
    pub samples: Vec<f64>,
    /// Over the rounds of an experiment with `rounds N` (N > 1); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<RoundStats>,
}

/// A metric over rounds: each round's value, the 95% confidence interval of their mean (Student
/// t), the coefficient of variation and the rounds that look like outliers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundStats {
    pub values: Vec<f64>,
    pub ci95: Option<[f64; 2]>,
    pub cv: Option<f64>,
    /// Round numbers (from 1) whose modified z-score over the MAD is above 3.5.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outliers: Vec<usize>,
}

impl MetricValue {
    /// A metric with one sample.
    pub fn single(value: f64, unit: &str) -> Self {
        Self { mean: value, unit: unit.to_owned(), samples: vec![value], ..Self::default() }
    }

    /// The values a significance test compares: the rounds' values, when there are rounds.
    pub fn round_values(&self) -> Option<&[f64]> {
        self.rounds.as_ref().map(|rounds| &rounds.values[..])
    }

    /// What `±` shows beside the mean: the half-width of the 95% confidence interval over
    /// rounds, or the standard deviation of one run's repetitions.
    pub fn spread(&self) -> Option<f64> {
        match self.rounds.as_ref().and_then(|rounds| rounds.ci95) {
            Some([low, high]) => Some((high - low) / 2.0),
            None => self.stddev,
        }
    }

    /// How many rounds the mean is over (1 without rounds).
    pub fn round_count(&self) -> usize {
        self.rounds.as_ref().map_or(1, |rounds| rounds.values.len())
    }
}

/// One round of a cell measured in several: when it ran and what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// Milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    pub duration_ms: u64,
    pub metrics: BTreeMap<String, MetricValue>,
}

/// The half-width of a metric's 95% interval over rounds, in percent of its mean: infinite
/// without an interval, 0 when nothing varies.
fn relative_half_width(value: &MetricValue) -> f64 {
    let Some([low, high]) = value.rounds.as_ref().and_then(|rounds| rounds.ci95) else { return f64::INFINITY };
    let half = (high - low) / 2.0;
    if half == 0.0 {
        0.0
    } else if value.mean == 0.0 {
        f64::INFINITY
    } else {
        100.0 * half / value.mean.abs()
    }
}

/// Metrics over rounds: for each metric every round measured, the mean of the rounds' means with
/// their spread and statistics; samples are all the rounds' samples.
pub fn over_rounds(rounds: &[Round]) -> BTreeMap<String, MetricValue> {
    let Some(first) = rounds.first() else { return BTreeMap::new() };
    let mut metrics = BTreeMap::new();
    for (name, metric) in &first.metrics {
        let measured: Vec<&MetricValue> = rounds.iter().filter_map(|round| round.metrics.get(name)).collect();
        if measured.len() < rounds.len() {
            continue;
        }
        let values: Vec<f64> = measured.iter().map(|metric| metric.mean).collect();
        let summary = crate::stats::summarise(&values);
        metrics.insert(
            name.clone(),
            MetricValue {
                mean: summary.mean,
                stddev: summary.stddev,
                unit: metric.unit.clone(),
                samples: measured.iter().flat_map(|metric| metric.samples.iter().copied()).collect(),
                rounds: Some(RoundStats {
                    values,
                    ci95: summary.ci95.map(|(low, high)| [low, high]),
                    cv: summary.cv,
                    outliers: summary.outliers.iter().map(|index| index + 1).collect(),
                }),
            },
        );
    }
    metrics
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    pub duration_ms: u64,
}

/// Everything known about one run of one cell on one host.
///
/// A record is a measurement of its inputs (its fingerprint), not of an experiment: every
/// experiment with a cell of the same inputs shows it, and a forced rerun by one of them
/// replaces it for all. `cell`, `experiment`, `workload` and `axes` say which cell last
/// measured it, for people reading the file and for an earlier result that no current cell
/// has any more; nothing decides by them which experiment a record belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    pub format: u32,
    pub hash: String,
    /// The id of the cell that last measured it.
    pub cell: String,
    /// The experiment that last measured it.
    pub experiment: String,
    /// The workload's name in that experiment.
    pub workload: String,
    /// That cell's axis values.
    pub axes: BTreeMap<String, String>,
    pub fingerprint: Fingerprint,
    pub host: HostFacts,
    pub status: Status,
    pub failure: Option<Failure>,
    pub metrics: BTreeMap<String, MetricValue>,
    /// Tool output records as the tool wrote them (llama-bench JSON lines, server timings).
    pub raw: Vec<serde_json::Value>,
    pub timings: Timings,
    pub attempts: u32,
    pub bakeoff_version: String,
    /// Each round's measurement, for an experiment with `rounds N` (N > 1); the metrics above are
    /// over these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Round>,
    /// Adaptive rounds: why they stopped where they did (the interval narrow enough, or `max`
    /// reached); a cell stopped early is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds_stop: Option<String>,
    /// Metrics this host cannot measure, with the reason (`energy_j`: no readable counter).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unavailable: BTreeMap<String, String>,
    /// How the toolbox differed from what bakeoff.lock pinned on another host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lock_drift: Vec<crate::lock::LockDrift>,
    /// The Slurm job that measured it, for a cell run by `--executor slurm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmJob>,
    /// What llama.cpp ran on (bench and server cells): its backend, devices and driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_on: Option<RanOn>,
    /// What to know about a result that is not a failure (speculative decoding asked for that
    /// drafted nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::notice::Notice>,
}

/// The backend and devices llama.cpp said it used, as it names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RanOn {
    /// The backend the cell ran on: `Vulkan`, `ROCm`, `CUDA`, or `CPU` when llama.cpp used no
    /// GPU device (whatever it was built for).
    pub backend: String,
    /// The devices, as llama.cpp names them; a CPU-type device (Mesa's lavapipe) is marked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// The driver stack where it could be read: the toolbox's (`Mesa 25.0.7 (llvmpipe)`,
    /// `ROCm 6.4.4`), else the driver the device line names (`llvmpipe`, `radv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Layers on the device, `offloaded/total`, where llama.cpp says (llama-server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offloaded: Option<String>,
    /// The GPU backends the build has (`Vulkan`); empty for a CPU-only build.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub built_for: String,
}

/// Which cluster job ran a cell, and on which node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmJob {
    pub job_id: u64,
    pub node: String,
}

impl SlurmJob {
    /// The job this process runs in, from the variables Slurm sets in a batch job.
    pub fn from_env() -> Option<Self> {
        let job_id = std::env::var("SLURM_JOB_ID").ok()?.trim().parse().ok()?;
        let node = std::env::var("SLURMD_NODENAME").unwrap_or_default();
        Some(Self { job_id, node })
    }
}

impl CellRecord {
    /// The block of its experiment the cell ran, from its fingerprint (never from the
    /// workload's name: a server workload may be called `bench`).
    pub fn block(&self) -> crate::matrix::Block {
        match self.fingerprint.workload {
            crate::fingerprint::WorkloadPrint::Bench => crate::matrix::Block::Bench,
            crate::fingerprint::WorkloadPrint::Command { .. } => crate::matrix::Block::Command,
            crate::fingerprint::WorkloadPrint::Server { .. } => crate::matrix::Block::Server,
            crate::fingerprint::WorkloadPrint::Quality { .. } => crate::matrix::Block::Quality,
        }
    }

    /// The record with single-depth llama-bench metrics under their plain names (records written
    /// before that rule had `tg128@d4096` for a cell of depth 4096).
    #[must_use]
    pub fn with_plain_depth_names(mut self) -> Self {
        if self.block() == crate::matrix::Block::Bench {
            self.metrics = crate::metric::plain_depth_names(std::mem::take(&mut self.metrics));
            for round in &mut self.rounds {
                round.metrics = crate::metric::plain_depth_names(std::mem::take(&mut round.metrics));
            }
        }
        self
    }

    /// Pretty JSON with sorted keys, so that git diffs and merges stay clean.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("a record always serialises");
        let mut text = serde_json::to_string_pretty(&value).expect("a JSON value always serialises");
        text.push('\n');
        text
    }
}

/// The part of a record that planning needs, read without keeping the rest.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordHead {
    /// Checked as a whole record's is: a record of another format is corrupt to both.
    pub format: u32,
    pub status: Status,
    pub failure: Option<FailureHead>,
    /// How many rounds the record holds (an interrupted run may have recorded fewer than asked).
    #[serde(default)]
    pub rounds: Vec<serde::de::IgnoredAny>,
    /// Set when adaptive rounds stopped: the record is complete with fewer than their most.
    #[serde(default)]
    pub rounds_stop: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FailureHead {
    pub reason: String,
}

impl CellRecord {
    /// A record for `cell` with the given outcome and no metrics yet.
    pub fn new(cell: &crate::fingerprint::ResolvedCell, host: &HostFacts, status: Status) -> Self {
        Self {
            format: RECORD_FORMAT,
            hash: cell.hash.clone(),
            cell: cell.id.clone(),
            experiment: cell.cell.experiment.clone(),
            workload: cell.cell.workload.clone(),
            axes: cell.cell.axes.iter().cloned().collect(),
            fingerprint: cell.fingerprint.clone(),
            host: host.clone(),
            status,
            failure: None,
            metrics: BTreeMap::new(),
            raw: Vec::new(),
            timings: Timings::default(),
            attempts: 1,
            bakeoff_version: env!("CARGO_PKG_VERSION").to_owned(),
            rounds: Vec::new(),
            rounds_stop: None,
            unavailable: BTreeMap::new(),
            lock_drift: cell.drift.clone(),
            slurm: None,
            ran_on: None,
            warnings: Vec::new(),
        }
    }

    /// The time the cell took: every round's, or its one run's.
    pub fn time_taken(&self) -> std::time::Duration {
        let milliseconds = if self.rounds.is_empty() {
            self.timings.duration_ms
        } else {
            self.rounds.iter().map(|round| round.duration_ms).sum()
        };
        std::time::Duration::from_millis(milliseconds)
    }

    /// Whether the cell has no more rounds to measure in the run that wrote this: it was
    /// measured once, a round failed, it was blocked, or its last round is in.
    pub fn is_complete(&self) -> bool {
        let wanted = self.fingerprint.rounds;
        self.rounds_stop.is_some() || wanted <= 1 || self.status != Status::Ok || self.rounds.len() >= wanted as usize
    }

    /// For a cell measured in adaptive rounds: why its rounds may stop now, once it has `min`
    /// of them: every counted metric's 95% interval (half-width) within the asked share of its
    /// mean, or the most rounds reached. `None` while more are needed, and without adaptive
    /// rounds.
    pub fn rounds_settled(&self) -> Option<String> {
        let until = self.fingerprint.until.as_ref()?;
        let count = self.rounds.len();
        if self.status != Status::Ok || count < until.min as usize {
            return None;
        }
        let most = self.fingerprint.rounds as usize;
        let percent = until.percent();
        let counted =
            |name: &str| until.metric.as_deref().map_or(!crate::metric::is_usage(name), |metric| metric == name);
        let widest = self
            .metrics
            .iter()
            .filter(|(name, _)| counted(name))
            .map(|(name, value)| (name, relative_half_width(value)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match widest {
            // A metric named but not recorded in every round: nothing tells it settled.
            None if until.metric.is_some() && count < most => None,
            None => Some(match &until.metric {
                Some(metric) => {
                    format!("stopped after {count} rounds: no `{metric}` recorded to judge the interval by")
                }
                None => format!("stopped after {count} rounds: nothing measured to judge the interval by"),
            }),
            Some((name, width)) if width <= percent => Some(format!(
                "decided after {count} rounds: every interval within {percent}% of its mean (widest: {name} ±{width:.2}%)"
            )),
            Some((name, width)) if count >= most => Some(format!(
                "reached the most, {count} rounds: {name} still ±{width:.2}% of its mean (asked {percent}%)"
            )),
            Some(_) => None,
        }
    }
}
