//! `bakeoff why CELL`: a cell's fingerprint and its differences from the nearest earlier result.

use std::fmt::Write;

use serde_json::json;

use super::WhyArgs;
use super::{out, outln};
use crate::Error;
use crate::plan::{Decision, History, PlannedCell, Selection, describe_change, status_word};
use crate::project::Project;

pub(super) fn run(project: &Project, args: &WhyArgs) -> Result<(), Error> {
    let loaded = project.load(&args.targets)?;
    let host = project.host()?;
    let cells = project.resolve(&loaded, &host)?;
    let query = args.cell.as_str();
    let matches: Vec<_> = cells
        .iter()
        .filter(|cell| cell.id == query || (query.len() >= 4 && cell.hash.starts_with(query)))
        .cloned()
        .collect();
    let hashes: std::collections::BTreeSet<&str> = matches.iter().map(|cell| cell.hash.as_str()).collect();
    if hashes.len() > 1 {
        let candidates: Vec<String> = matches
            .iter()
            .take(10)
            .map(|cell| format!("{} ({})", cell.id, crate::units::prefix(&cell.hash, 12)))
            .collect();
        let more = if matches.len() > 10 { format!(" and {} more", matches.len() - 10) } else { String::new() };
        return Err(Error::AmbiguousCell {
            query: query.to_owned(),
            count: matches.len(),
            help: format!("give more hex digits or a cell id; it matches {}{more}", candidates.join(", ")),
        });
    }
    let Some(cell) = matches.into_iter().next() else {
        // Not a cell of the manifests as they are now: perhaps an earlier result (`why` and
        // `plan` print those prefixes too).
        return earlier_result(project, query, &cells, args.json);
    };
    let planned: PlannedCell = project.plan(vec![cell], &Selection::default())?.remove(0);
    let records = project.records();
    let history = History::new(&records, [planned.cell.hash.as_str()]);
    let nearest = history.nearest(&planned.cell);
    let fingerprint = serde_json::to_value(&planned.cell.fingerprint).expect("a fingerprint always serialises");
    if args.json {
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
        return Ok(());
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
                crate::units::prefix(&record.hash, 12),
                record.status.name()
            );
            if changes.is_empty() {
                text.push_str("  no fingerprint field differs\n");
            }
            for change in &changes {
                let _ = writeln!(text, "  {}", describe_change(change));
            }
        }
        None => text.push_str("no earlier result of this experiment and workload\n"),
    }
    out!("{text}");
    Ok(())
}

/// A record in the store that `query` names by hash prefix (or cell id) but that no current
/// cell has: its fingerprint, and how the current cell of the same id (or the nearest one)
/// differs from it.
fn earlier_result(
    project: &Project,
    query: &str,
    cells: &[crate::fingerprint::ResolvedCell],
    json: bool,
) -> Result<(), Error> {
    let unknown = || Error::UnknownCell {
        query: query.to_owned(),
        help: "give a cell id as `bakeoff plan` prints it, or at least 4 hex digits of its hash (of a cell, or of \
               a result in the store)"
            .to_owned(),
    };
    if query.len() < 4 || !query.chars().all(|character| character.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    let records = project.records();
    let found: Vec<&crate::store::CellRecord> =
        records.iter().filter(|record| record.hash.starts_with(query)).collect();
    let record = match found.as_slice() {
        [] => return Err(unknown()),
        [record] => *record,
        several => {
            let candidates: Vec<String> = several
                .iter()
                .take(10)
                .map(|record| format!("{} ({})", record.cell, crate::units::prefix(&record.hash, 12)))
                .collect();
            return Err(Error::AmbiguousCell {
                query: query.to_owned(),
                count: several.len(),
                help: format!("give more hex digits; it matches the results {}", candidates.join(", ")),
            });
        }
    };
    let current = cells.iter().find(|cell| cell.id == record.cell).or_else(|| {
        cells
            .iter()
            .filter(|cell| cell.cell.experiment == record.experiment && cell.cell.workload == record.workload)
            .min_by_key(|cell| crate::fingerprint::diff(&record.fingerprint, &cell.fingerprint).len())
    });
    let changes = current.map(|cell| (cell, crate::fingerprint::diff(&record.fingerprint, &cell.fingerprint)));
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
        return Ok(());
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
            let _ = writeln!(
                text,
                "the current cell {} ({}) differs from it:",
                cell.id,
                crate::units::prefix(&cell.hash, 12)
            );
            for change in &changes {
                let _ = writeln!(text, "  {}", crate::plan::describe_change(change));
            }
        }
        None => text.push_str("no current cell of this experiment and workload\n"),
    }
    out!("{text}");
    Ok(())
}
