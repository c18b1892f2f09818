//! What a Slurm job tells its dispatcher: `results/slurm/JOBID.jsonl`, one JSON line per event,
//! appended by bakeoff on the node as it plans and records, read by the dispatcher as it polls.
//! A line is written with one `write` after the record it names is in the store, so a job
//! killed at any point leaves whole lines that are true.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::HostFacts;
use crate::plan::{Decision, PlannedCell};
use crate::store::{CellRecord, Status, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub(crate) enum JobLine {
    /// The node planned the cells it was given (by their portable keys).
    Planned { node: String, cells: Vec<PlannedOnNode> },
    /// A record is in the store; `complete` once the cell has no more rounds to measure.
    Recorded { key: String, hash: String, complete: bool },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PlannedOnNode {
    pub(crate) key: String,
    /// The cell's hash on the node (its own facts and toolbox).
    pub(crate) hash: String,
    pub(crate) decision: NodeDecision,
    /// Why, for a cell blocked or failed before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// For a cell to run: its record should the job end before the cell does (the node's own
    /// fingerprint and facts, so the dispatcher can record the job's failure as the node's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending: Option<Box<CellRecord>>,
}

/// What the node's plan decided for a cell it was given (the plan's `Decision`, without what
/// the dispatcher does not need).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum NodeDecision {
    Run,
    Cached,
    Blocked,
    FailedBefore,
}

/// The node's side: appends lines to its job's log.
pub(crate) struct JobLog {
    file: File,
    path: PathBuf,
}

impl JobLog {
    pub(crate) fn create(store: &Store, job_id: u64) -> std::io::Result<Self> {
        store.ensure_slurm_dir()?;
        let path = store.slurm_job_log(job_id);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self { file, path })
    }

    /// What the node decided for each cell it was given.
    pub(crate) fn planned(&mut self, node: &str, planned: &[PlannedCell], host: &HostFacts) -> std::io::Result<()> {
        let cells = planned
            .iter()
            .map(|planned| {
                let (decision, reason) = match &planned.decision {
                    Decision::Run(_) => (NodeDecision::Run, None),
                    Decision::Cached => (NodeDecision::Cached, None),
                    Decision::Blocked { reasons } => (NodeDecision::Blocked, Some(reasons.join("; "))),
                    Decision::FailedBefore { reason } => (NodeDecision::FailedBefore, Some(reason.clone())),
                };
                let pending = matches!(planned.decision, Decision::Run(_))
                    .then(|| Box::new(CellRecord::new(&planned.cell, host, Status::Failed)));
                PlannedOnNode {
                    key: planned.cell.fingerprint.portable_key(),
                    hash: planned.cell.hash.clone(),
                    decision,
                    reason,
                    pending,
                }
            })
            .collect();
        self.append(&JobLine::Planned { node: node.to_owned(), cells })
    }

    /// `record` is in the store.
    pub(crate) fn recorded(&mut self, record: &CellRecord) -> std::io::Result<()> {
        self.append(&JobLine::Recorded {
            key: record.fingerprint.portable_key(),
            hash: record.hash.clone(),
            complete: record.is_complete(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn append(&mut self, line: &JobLine) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        self.file.flush()
    }
}

/// The dispatcher's side: reads the lines a job appended since the last read.
pub(super) struct JobLogReader {
    path: PathBuf,
    offset: u64,
}

impl JobLogReader {
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path, offset: 0 }
    }

    /// The whole lines appended since the last call (a line being written is left for the
    /// next). A line that is not one of ours is skipped with its reason.
    pub(super) fn read_new(&mut self) -> (Vec<JobLine>, Vec<String>) {
        let Ok(mut file) = File::open(&self.path) else { return (Vec::new(), Vec::new()) };
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_end(&mut bytes).is_err() {
            return (Vec::new(), Vec::new());
        }
        let Some(end) = bytes.iter().rposition(|&byte| byte == b'\n') else { return (Vec::new(), Vec::new()) };
        self.offset += end as u64 + 1;
        let mut lines = Vec::new();
        let mut problems = Vec::new();
        for line in bytes[..end].split(|&byte| byte == b'\n').filter(|line| !line.is_empty()) {
            match serde_json::from_slice(line) {
                Ok(line) => lines.push(line),
                Err(error) => problems.push(format!("`{}`: a line bakeoff cannot read: {error}", self.path.display())),
            }
        }
        (lines, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_takes_whole_lines_only_and_each_once() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("7.jsonl");
        let mut reader = JobLogReader::new(path.clone());
        assert!(reader.read_new().0.is_empty(), "no file yet: nothing");
        let line = r#"{"event":"recorded","key":"k","hash":"h","complete":true}"#;
        std::fs::write(&path, format!("{line}\n{{\"event\":\"recor")).unwrap();
        let (lines, problems) = reader.read_new();
        assert_eq!(lines.len(), 1);
        assert!(problems.is_empty());
        assert!(reader.read_new().0.is_empty(), "the half line waits");
        std::fs::write(&path, format!("{line}\n{line}\nnot json\n")).unwrap();
        let (lines, problems) = reader.read_new();
        assert_eq!(lines.len(), 1, "the second line, once");
        assert_eq!(problems.len(), 1);
        assert!(matches!(&lines[0], JobLine::Recorded { complete: true, .. }));
    }
}
