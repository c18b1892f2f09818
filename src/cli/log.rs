//! `bakeoff log`: the journal of what runs did (`results/logs/journal.jsonl`), a run at a
//! time, filtered by experiment, by what went wrong, or by time.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{LogArgs, out};
use crate::Error;
use crate::project::{Project, shown};
use crate::store::{Entry, Happened, read_journal};

pub(super) fn run(project: &Project, args: &LogArgs) -> Result<(), Error> {
    let path = project.store.journal_path();
    let since = args.since.as_deref().map(since_unix_ms).transpose()?;
    let (entries, unreadable) = read_journal(&path)
        .map_err(|source| Error::Io { what: format!("cannot read `{}`", path.display()), source })?;
    if entries.is_empty() && unreadable == 0 {
        crate::console::errln!("no run in the journal yet (`{}`): `bakeoff run` writes it", shown(&path).display());
        return Ok(());
    }
    let shown_entries = select(&entries, args, since);
    let text = if args.json { json_lines(&shown_entries) } else { render(&entries, &shown_entries) };
    out!("{text}");
    if unreadable > 0 {
        crate::console::errln!(
            "note: {unreadable} line(s) of `{}` could not be read (a run killed while writing one), and were left out",
            shown(&path).display()
        );
    }
    Ok(())
}

/// The entries the filters keep, and with them the start and end of each run that has any: a
/// cell's line reads in its run.
fn select<'a>(entries: &'a [Entry], args: &LogArgs, since: Option<u64>) -> Vec<&'a Entry> {
    let wanted = |entry: &Entry| {
        since.is_none_or(|since| entry.at_unix_ms >= since)
            && (!args.errors || entry.error)
            && args.experiment.as_ref().is_none_or(|name| entry.experiment.as_ref() == Some(name))
    };
    let filtered = args.errors || args.experiment.is_some();
    let runs: BTreeSet<&str> = entries.iter().filter(|entry| wanted(entry)).map(|entry| entry.run.as_str()).collect();
    entries
        .iter()
        .filter(|entry| {
            wanted(entry)
                || (filtered
                    && runs.contains(entry.run.as_str())
                    && matches!(entry.happened, Happened::Start | Happened::End))
        })
        .collect()
}

fn json_lines(entries: &[&Entry]) -> String {
    entries.iter().map(|entry| serde_json::to_string(entry).expect("journal entries always serialise") + "\n").collect()
}

/// A heading per run (when it started, its id), then a line per entry: the time, what happened
/// (a cell's outcome), the cell, the detail. A run with no end in the journal is said to have
/// none: it was killed, or is running.
fn render(all: &[Entry], shown_entries: &[&Entry]) -> String {
    let ended: BTreeSet<&str> =
        all.iter().filter(|entry| entry.happened == Happened::End).map(|entry| entry.run.as_str()).collect();
    let mut text = String::new();
    let mut run: Option<&str> = None;
    let close = |text: &mut String, run: Option<&str>| {
        if let Some(run) = run
            && !ended.contains(run)
        {
            text.push_str("  (no end: the run was killed, stopped by an error, or is still running)\n");
        }
    };
    for entry in shown_entries {
        if run != Some(entry.run.as_str()) {
            close(&mut text, run);
            run = Some(&entry.run);
            let started = entry.run.split('-').next().and_then(|ms| ms.parse().ok()).unwrap_or(entry.at_unix_ms);
            let _ = writeln!(text, "run of {} UTC ({})", crate::units::utc(started), entry.run);
        }
        let what = match (entry.happened, &entry.outcome) {
            (Happened::Cell | Happened::Note, Some(outcome)) => outcome.as_str(),
            (happened, _) => happened.word(),
        };
        let _ = write!(text, "  {}  {what:<9}", &crate::units::utc(entry.at_unix_ms)[11..]);
        if let Some(cell) = &entry.cell {
            let _ = write!(text, " {cell}:");
        }
        let _ = writeln!(text, " {}", entry.detail);
    }
    close(&mut text, run);
    text
}

/// `--since`: `30m`, `2h`, `3d` back from now, or a UTC date or time.
fn since_unix_ms(text: &str) -> Result<u64, Error> {
    let now = crate::store::now_unix_ms();
    let back = |unit: u64| {
        text[..text.len() - 1].trim().parse::<u64>().ok().map(|count| now.saturating_sub(count * unit * 1000))
    };
    let parsed = match text.chars().last() {
        Some('s') => back(1),
        Some('m') => back(60),
        Some('h') => back(3600),
        Some('d') => back(86_400),
        _ => None,
    };
    parsed.or_else(|| crate::units::parse_utc(text)).ok_or_else(|| Error::Usage {
        message: format!(
            "`--since {text}` is neither a time back from now (`30m`, `2h`, `3d`) nor a UTC date or time \
             (`2026-12-04`, `2026-12-04T18:30`)"
        ),
    })
}
