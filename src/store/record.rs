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
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::TimedOut => "timed-out",
            Self::Blocked => "blocked",
        }
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

/// One measured quantity: the mean of its samples, their spread, and its unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    pub mean: f64,
    pub stddev: Option<f64>,
    pub unit: String,
    pub samples: Vec<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    pub duration_ms: u64,
}

/// Everything known about one run of one cell on one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    pub format: u32,
    pub hash: String,
    pub cell: String,
    pub experiment: String,
    pub workload: String,
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
    /// How the toolbox differed from what bakeoff.lock pinned on another host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lock_drift: Vec<crate::lock::LockDrift>,
}

impl CellRecord {
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
            lock_drift: cell.drift.clone(),
        }
    }
}
