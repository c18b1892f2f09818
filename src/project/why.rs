//! `why`: which cell or earlier result a query names (a cell id, or a prefix of a hash of at
//! least 4 hex digits), and how it differs from its nearest counterpart.

use std::fmt::Write;

use serde_json::json;

use super::pipeline::{Loaded, Project};
use crate::Error;
use crate::fingerprint::{FieldChange, ResolvedCell, diff};
use crate::host::HostFacts;
use crate::plan::{Decision, History, PlannedCell, Selection, describe_change, status_word};
use crate::store::CellRecord;

/// What a `why` query found.
#[derive(Debug)]
pub enum Why {
    /// A cell of the manifests as they are, decided, with its own result in the store (which
    /// any experiment with a cell of the same inputs may have measured), and the nearest
    /// earlier result with the fields that differ from it.
    Cell {
        planned: Box<PlannedCell>,
        result: Option<Box<CellRecord>>,
        nearest: Option<Box<(CellRecord, Vec<FieldChange>)>>,
    },
    /// A result in the store that no current cell has, with the current cell of its id (or the
    /// nearest one) and what differs.
    Earlier { record: Box<CellRecord>, current: Option<Box<(ResolvedCell, Vec<FieldChange>)>> },
}

impl Why {
    /// What `bakeoff why` prints: the cell or result, its fingerprint, and the fields in which
    /// its counterpart differs; as JSON with `json`.
    pub fn render(&self, json: bool) -> String {
        match self {
            Self::Cell { planned, result, nearest } => {
                let cell = &planned.cell;
                let mut status = status_word(&planned.decision).to_owned();
                if let Decision::Blocked { reasons } = &planned.decision {
                    let _ = write!(status, ": {}", reasons.join("; "));
                }
                let nearest = nearest.as_deref();
                let mut head = vec![("cell", cell.id.clone()), ("hash", cell.hash.clone()), ("status", status)];
                if let Some(result) = result {
                    head.push(("result", measured_as(result, &cell.id)));
                }
                let shown = Shown {
                    head,
                    fingerprint: serde_json::to_value(&cell.fingerprint),
                    counterpart: nearest.map(|(record, changes)| {
                        let heading = format!(
                            "nearest earlier result: {} ({}, {})",
                            record.cell,
                            crate::digest::short(&record.hash),
                            record.status.name()
                        );
                        (heading, changes.as_slice())
                    }),
                    alone: if result.is_some() {
                        "no other result of this experiment and workload"
                    } else {
                        "no earlier result of this experiment and workload"
                    },
                };
                if json {
                    let nearest = nearest.map(
                        |(record, changes)| json!({ "cell": record.cell, "hash": record.hash, "changes": changes }),
                    );
                    let result = result.as_deref().map(|record| {
                        json!({ "status": record.status.name(), "measured_as": record.cell, "experiment": record.experiment })
                    });
                    let value = json!({
                        "cell": cell.id,
                        "hash": cell.hash,
                        "decision": planned.decision,
                        "result": result,
                        "fingerprint": shown.fingerprint.as_ref().ok(),
                        "nearest": nearest,
                    });
                    return pretty(&value);
                }
                shown.text()
            }
            Self::Earlier { record, current } => {
                let current = current.as_deref();
                let shown = Shown {
                    head: vec![
                        (
                            "result",
                            format!("{} (in the store; no cell of the manifests has this hash now)", record.hash),
                        ),
                        ("cell", record.cell.clone()),
                        ("status", record.status.name().to_owned()),
                    ],
                    fingerprint: serde_json::to_value(&record.fingerprint),
                    counterpart: current.map(|(cell, changes)| {
                        let heading = format!(
                            "the current cell {} ({}) differs from it:",
                            cell.id,
                            crate::digest::short(&cell.hash)
                        );
                        (heading, changes.as_slice())
                    }),
                    alone: "no current cell of this experiment and workload",
                };
                if json {
                    let current = current
                        .map(|(cell, changes)| json!({ "cell": cell.id, "hash": cell.hash, "changes": changes }));
                    let value = json!({
                        "result": record.hash,
                        "cell": record.cell,
                        "status": record.status.name(),
                        "fingerprint": shown.fingerprint.as_ref().ok(),
                        "current": current,
                    });
                    return pretty(&value);
                }
                shown.text()
            }
        }
    }
}

/// The text of a `why` answer: `label    value` lines, the fingerprint, and the counterpart's
/// heading with its changes (or what stands alone).
struct Shown<'a> {
    head: Vec<(&'static str, String)>,
    fingerprint: serde_json::Result<serde_json::Value>,
    counterpart: Option<(String, &'a [FieldChange])>,
    alone: &'static str,
}

impl Shown<'_> {
    fn text(&self) -> String {
        let mut text = String::new();
        for (label, value) in &self.head {
            let _ = writeln!(text, "{label:<8} {value}");
        }
        text.push_str("\nfingerprint\n");
        if let Ok(fingerprint) = &self.fingerprint {
            text.push_str(&pretty(fingerprint));
        }
        text.push_str("\n\n");
        match &self.counterpart {
            Some((heading, changes)) => {
                let _ = writeln!(text, "{heading}");
                if changes.is_empty() {
                    text.push_str("  no fingerprint field differs\n");
                }
                for change in *changes {
                    let _ = writeln!(text, "  {}", describe_change(change));
                }
            }
            None => {
                let _ = writeln!(text, "{}", self.alone);
            }
        }
        text
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values always serialise")
}

/// How many candidates an ambiguous query lists.
const LISTED: usize = 10;

impl Project {
    /// The cell or result `query` names on `host`.
    pub fn why(&self, loaded: &Loaded, host: &HostFacts, query: &str) -> Result<Why, Error> {
        let cells = self.resolve(loaded, host)?;
        let matches: Vec<&ResolvedCell> = cells
            .iter()
            .filter(|cell| cell.id == query || (query.len() >= 4 && cell.hash.starts_with(query)))
            .collect();
        let hashes: std::collections::BTreeSet<&str> = matches.iter().map(|cell| cell.hash.as_str()).collect();
        if hashes.len() > 1 {
            let named = matches.iter().map(|cell| (cell.id.as_str(), cell.hash.as_str()));
            return Err(ambiguous(query, matches.len(), named, "give more hex digits or a cell id; it matches"));
        }
        let records = self.records();
        let Some(cell) = matches.first() else {
            // Not a cell of the manifests as they are now: perhaps an earlier result (`why` and
            // `plan` print those prefixes too).
            return earlier(query, &cells, records);
        };
        let planned = self.plan(vec![(*cell).clone()], &Selection::default())?.remove(0);
        let history = History::new(&records, [planned.cell.hash.as_str()]);
        let nearest = history.nearest(&planned.cell).map(|(record, changes)| Box::new((record.clone(), changes)));
        let result = records.iter().find(|record| record.hash == planned.cell.hash).cloned().map(Box::new);
        Ok(Why::Cell { planned: Box::new(planned), result, nearest })
    }
}

/// The cell's own result as `why` shows it: its status, and the cell that last measured it
/// when that was another experiment's (a record is a measurement of its inputs, shared by every
/// cell that has them).
fn measured_as(record: &CellRecord, cell: &str) -> String {
    let status = record.status.name();
    if record.cell == cell { status.to_owned() } else { format!("{status}, last measured as {}", record.cell) }
}

fn earlier(query: &str, cells: &[ResolvedCell], records: Vec<CellRecord>) -> Result<Why, Error> {
    let unknown = || Error::UnknownCell {
        query: query.to_owned(),
        help: "give a cell id as `bakeoff plan` prints it, or at least 4 hex digits of its hash (of a cell, or of \
               a result in the store)"
            .to_owned(),
    };
    if query.len() < 4 || !query.chars().all(|character| character.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    let mut found: Vec<CellRecord> = records.into_iter().filter(|record| record.hash.starts_with(query)).collect();
    if found.len() > 1 {
        let named = found.iter().map(|record| (record.cell.as_str(), record.hash.as_str()));
        return Err(ambiguous(query, found.len(), named, "give more hex digits; it matches the results"));
    }
    let record = found.pop().ok_or_else(unknown)?;
    let current = cells.iter().find(|cell| cell.id == record.cell).or_else(|| {
        cells
            .iter()
            .filter(|cell| cell.cell.experiment == record.experiment && cell.cell.workload == record.workload)
            .min_by_key(|cell| diff(&record.fingerprint, &cell.fingerprint).len())
    });
    let current = current.map(|cell| Box::new((cell.clone(), diff(&record.fingerprint, &cell.fingerprint))));
    Ok(Why::Earlier { record: Box::new(record), current })
}

fn ambiguous<'a>(query: &str, count: usize, named: impl Iterator<Item = (&'a str, &'a str)>, lead: &str) -> Error {
    let candidates: Vec<String> =
        named.take(LISTED).map(|(id, hash)| format!("{id} ({})", crate::digest::short(hash))).collect();
    let more = if count > LISTED { format!(" and {} more", count - LISTED) } else { String::new() };
    Error::AmbiguousCell { query: query.to_owned(), count, help: format!("{lead} {}{more}", candidates.join(", ")) }
}
