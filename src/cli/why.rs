//! `bakeoff why CELL`: a cell's fingerprint and its differences from the nearest earlier result.

use std::fmt::Write;

use serde_json::json;

use super::WhyArgs;
use crate::Error;
use crate::plan::{Decision, History, PlannedCell, Selection, describe_changes, status_word};
use crate::project::Project;

pub(super) fn run(project: &Project, args: &WhyArgs) -> Result<(), Error> {
    let loaded = project.load(&args.targets)?;
    let host = project.host()?;
    let cells = project.resolve(&loaded, &host)?;
    let query = args.cell.as_str();
    let matches: Vec<_> = cells
        .into_iter()
        .filter(|cell| cell.id == query || (query.len() >= 4 && cell.hash.starts_with(query)))
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
        return Err(Error::UnknownCell {
            query: query.to_owned(),
            help: "give a cell id as `bakeoff plan` prints it, or at least 4 hex digits of its hash".to_owned(),
        });
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
        println!("{text}");
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
                let _ = writeln!(text, "  {}", describe_changes(std::slice::from_ref(change)));
            }
        }
        None => text.push_str("no earlier result of this experiment and workload\n"),
    }
    print!("{text}");
    Ok(())
}
