//! `bakeoff why CELL`: a cell's fingerprint and its differences from the nearest earlier result.

use std::fmt::Write;

use serde_json::json;

use super::WhyArgs;
use super::{out, outln};
use crate::Error;
use crate::fingerprint::{FieldChange, ResolvedCell};
use crate::plan::{Decision, PlannedCell, describe_change, status_word};
use crate::project::{Project, Why};
use crate::store::CellRecord;

pub(super) fn run(project: &Project, args: &WhyArgs) -> Result<(), Error> {
    let loaded = project.load(&args.targets)?;
    let host = project.host()?;
    match project.why(&loaded, &host, &args.cell)? {
        Why::Cell { planned, nearest } => {
            print_cell(&planned, nearest.as_deref().map(|(record, changes)| (record, changes)), args.json);
        }
        Why::Earlier { record, current } => {
            print_earlier(&record, current.as_deref().map(|(cell, changes)| (cell, changes)), args.json);
        }
    }
    Ok(())
}

fn print_cell(planned: &PlannedCell, nearest: Option<(&CellRecord, &Vec<FieldChange>)>, json: bool) {
    let fingerprint = serde_json::to_value(&planned.cell.fingerprint).expect("a fingerprint always serialises");
    if json {
        let nearest =
            nearest.map(|(record, changes)| json!({ "cell": record.cell, "hash": record.hash, "changes": changes }));
        let text = serde_json::to_string_pretty(&json!({
            "cell": planned.cell.id,
            "hash": planned.cell.hash,
            "decision": planned.decision,
            "fingerprint": fingerprint,
            "nearest": nearest,
        }))
        .expect("JSON values always serialise");
        outln!("{text}");
        return;
    }
    let mut text = String::new();
    let _ = writeln!(text, "cell     {}", planned.cell.id);
    let _ = writeln!(text, "hash     {}", planned.cell.hash);
    let _ = write!(text, "status   {}", status_word(&planned.decision));
    if let Decision::Blocked { reasons } = &planned.decision {
        let _ = write!(text, ": {}", reasons.join("; "));
    }
    text.push_str("\n\nfingerprint\n");
    text.push_str(&serde_json::to_string_pretty(&fingerprint).expect("JSON values always serialise"));
    text.push_str("\n\n");
    match nearest {
        Some((record, changes)) => {
            let _ = writeln!(
                text,
                "nearest earlier result: {} ({}, {})",
                record.cell,
                crate::digest::short(&record.hash),
                record.status.name()
            );
            if changes.is_empty() {
                text.push_str("  no fingerprint field differs\n");
            }
            for change in changes {
                let _ = writeln!(text, "  {}", describe_change(change));
            }
        }
        None => text.push_str("no earlier result of this experiment and workload\n"),
    }
    out!("{text}");
}

/// A result in the store that no current cell has: its fingerprint, and how the current cell
/// of the same id (or the nearest one) differs from it.
fn print_earlier(record: &CellRecord, changes: Option<(&ResolvedCell, &Vec<FieldChange>)>, json: bool) {
    let fingerprint = serde_json::to_value(&record.fingerprint).expect("a fingerprint always serialises");
    if json {
        let current =
            changes.as_ref().map(|(cell, changes)| json!({ "cell": cell.id, "hash": cell.hash, "changes": changes }));
        let text = serde_json::to_string_pretty(&json!({
            "result": record.hash,
            "cell": record.cell,
            "status": record.status.name(),
            "fingerprint": fingerprint,
            "current": current,
        }))
        .expect("JSON values always serialise");
        outln!("{text}");
        return;
    }
    let mut text = String::new();
    let _ = writeln!(text, "result   {} (in the store; no cell of the manifests has this hash now)", record.hash);
    let _ = writeln!(text, "cell     {}", record.cell);
    let _ = writeln!(text, "status   {}", record.status.name());
    text.push_str("\nfingerprint\n");
    text.push_str(&serde_json::to_string_pretty(&fingerprint).expect("JSON values always serialise"));
    text.push_str("\n\n");
    match changes {
        Some((cell, changes)) => {
            let _ =
                writeln!(text, "the current cell {} ({}) differs from it:", cell.id, crate::digest::short(&cell.hash));
            for change in changes {
                let _ = writeln!(text, "  {}", crate::plan::describe_change(change));
            }
        }
        None => text.push_str("no current cell of this experiment and workload\n"),
    }
    out!("{text}");
}
