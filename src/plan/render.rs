//! The plan as people read it (one line per cell and a summary) and as scripts read it (JSON).

use std::fmt::Write;

use serde_json::json;

use super::decide::{Decision, PlannedCell, RunReason, Summary};
use super::graph::status_word;
use crate::fingerprint::FieldChange;

const SHOWN_CHANGES: usize = 4;

/// How toolboxes here differ from bakeoff.lock's pins from other hosts, one line each; then one
/// line per cell, then the summary line.
pub fn render_text(cells: &[PlannedCell]) -> String {
    let mut text = String::new();
    let drift: std::collections::BTreeSet<_> = cells.iter().flat_map(|planned| &planned.cell.drift).collect();
    for drift in &drift {
        let _ = writeln!(text, "differs from lock: {drift}");
    }
    let notes: std::collections::BTreeSet<_> = cells.iter().flat_map(|planned| &planned.cell.notes).collect();
    for note in &notes {
        let _ = writeln!(text, "note: {note}");
    }
    for planned in cells {
        let _ = write!(text, "{:<13} {}", status_word(&planned.decision), planned.cell.id);
        match &planned.decision {
            Decision::Cached => {}
            Decision::Run(RunReason::New) => text.push_str("  (new)"),
            Decision::Run(RunReason::Forced) => text.push_str("  (forced)"),
            Decision::Run(RunReason::MoreRounds { recorded, wanted }) => {
                let _ = write!(text, "  ({recorded} of {wanted} rounds recorded)");
            }
            Decision::Run(RunReason::RetryFailed { reason }) => {
                let _ = write!(text, "  (retrying: {reason})");
            }
            Decision::Run(RunReason::Unblocked { reason }) => {
                let _ = write!(text, "  (no longer blocked: {reason})");
            }
            Decision::Run(RunReason::Changed { previous, changes, .. }) => {
                text.push_str("  (changed: ");
                text.push_str(&describe_changes(changes));
                if *previous != planned.cell.id {
                    let _ = write!(text, "; nearest earlier result: {previous}");
                }
                text.push(')');
            }
            Decision::Blocked { reasons } => {
                let _ = write!(text, "  {}", reasons.join("; "));
            }
            Decision::FailedBefore { reason } => {
                let _ = write!(text, "  {reason} (rerun with --retry-failed)");
            }
        }
        text.push('\n');
    }
    let _ = writeln!(text, "{}", Summary::of(cells));
    text
}

/// `axes.depth 0 → 4096, argv[9] 0 → 4096` (at most a few, then `and N more`).
pub fn describe_changes(changes: &[FieldChange]) -> String {
    if changes.is_empty() {
        return "no field differs".to_owned();
    }
    let mut parts: Vec<String> = changes
        .iter()
        .take(SHOWN_CHANGES)
        .map(|change| {
            format!(
                "{} {} → {}",
                change.field,
                shorten(change.old.as_deref().unwrap_or("(none)")),
                shorten(change.new.as_deref().unwrap_or("(none)"))
            )
        })
        .collect();
    if changes.len() > SHOWN_CHANGES {
        parts.push(format!("and {} more", changes.len() - SHOWN_CHANGES));
    }
    parts.join(", ")
}

/// Long hashes are shown by their first 12 hex digits.
fn shorten(value: &str) -> String {
    match value.strip_prefix("sha256:") {
        Some(hash) if hash.len() > 12 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("sha256:{}…", &hash[..12])
        }
        _ if value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("{}…", &value[..12])
        }
        _ => value.to_owned(),
    }
}

/// `{"cells": [...], "summary": {...}}`, one object per cell with its decision.
pub fn render_json(cells: &[PlannedCell]) -> String {
    let rows: Vec<serde_json::Value> = cells
        .iter()
        .map(|planned| {
            let axes: serde_json::Map<String, serde_json::Value> = planned
                .cell
                .cell
                .axes
                .iter()
                .map(|(axis, value)| (axis.clone(), serde_json::Value::String(value.clone())))
                .collect();
            json!({
                "id": planned.cell.id,
                "hash": planned.cell.hash,
                "experiment": planned.cell.cell.experiment,
                "workload": planned.cell.cell.workload,
                "axes": axes,
                "decision": planned.decision,
                "lock_drift": planned.cell.drift,
                "notes": planned.cell.notes,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({ "cells": rows, "summary": Summary::of(cells) }))
        .expect("JSON values always serialise");
    text.push('\n');
    text
}
