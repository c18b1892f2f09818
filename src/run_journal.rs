//! What a run writes to the campaign's journal (`results/logs/journal.jsonl`, `bakeoff log`):
//! its start with the command and the host, each cell it decides to run or finds blocked, each
//! outcome as its record lands (a skip with its reason), what it says while it runs (retries,
//! stops, warnings), the signal that interrupted it, its end. A journal that cannot be written
//! never stops a run: the first error is said once at the end.

use std::fmt::Write as _;

use crate::host::HostFacts;
use crate::notice::{Notice, Severity};
use crate::plan::{Decision, PlannedCell, decision_words};
use crate::run::RunSummary;
use crate::store::{CellRecord, Entry, Happened, Journal, Status, Store};

pub(crate) struct RunJournal {
    journal: Option<Journal>,
    /// The first write that failed, and how many did.
    failed: Option<(usize, String)>,
    /// The cells whose decision is written: a search's later passes plan them again.
    decided: std::collections::HashSet<String>,
}

impl RunJournal {
    /// The store's journal, opened for this run (its id: when it started, and its process).
    pub(crate) fn open(store: &Store, started_unix_ms: u64) -> Self {
        match Journal::open(store, format!("{started_unix_ms}-{}", std::process::id())) {
            Ok(journal) => Self { journal: Some(journal), failed: None, decided: std::collections::HashSet::new() },
            Err(error) => Self {
                journal: None,
                failed: Some((1, format!("cannot open `{}`: {error}", store.journal_path().display()))),
                decided: std::collections::HashSet::new(),
            },
        }
    }

    /// The run starts: the command it was given, the host, what its plan holds.
    pub(crate) fn start(&mut self, host: &HostFacts, planned: &[PlannedCell]) {
        let command: Vec<String> = std::env::args().map(|arg| crate::shell::quote(&arg)).collect();
        let to_run = planned.iter().filter(|cell| matches!(cell.decision, Decision::Run(_))).count();
        let cached = planned.iter().filter(|cell| matches!(cell.decision, Decision::Cached)).count();
        let blocked = planned.iter().filter(|cell| matches!(cell.decision, Decision::Blocked { .. })).count();
        let failed_before = planned.len() - to_run - cached - blocked;
        let name = if host.name.is_empty() { String::new() } else { format!("{} ", host.name) };
        let detail = format!(
            "{} on host {name}({}, bakeoff {}): {} cells, {to_run} to run, {cached} cached, {blocked} blocked, \
             {failed_before} failed before",
            command.join(" "),
            crate::digest::listed(&host.identity()),
            env!("CARGO_PKG_VERSION"),
            planned.len(),
        );
        self.write(|journal| journal.entry(Happened::Start, detail));
    }

    /// The cells a pass runs, and those it finds blocked, each with why.
    pub(crate) fn decisions(&mut self, planned: &[PlannedCell]) {
        for cell in planned {
            let happened = match cell.decision {
                Decision::Run(_) => Happened::Decide,
                Decision::Blocked { .. } => Happened::Blocked,
                Decision::Cached | Decision::FailedBefore { .. } => continue,
            };
            if !self.decided.insert(cell.cell.hash.clone()) {
                continue;
            }
            let words = decision_words(cell).unwrap_or_default();
            self.write(|journal| Entry {
                experiment: Some(cell.cell.cell.experiment.clone()),
                cell: Some(cell.cell.id.clone()),
                hash: Some(cell.cell.hash.clone()),
                error: happened == Happened::Blocked,
                ..journal.entry(happened, words)
            });
        }
    }

    /// A record landed: the cell's outcome (or its skip, with the reason).
    pub(crate) fn recorded(&mut self, record: &CellRecord) {
        // A blocked cell's record: its block is in the journal from the plan. A round of a
        // cell with more to come is no outcome yet.
        if record.status == Status::Blocked || !record.is_complete() {
            return;
        }
        let happened = if record.status == Status::Skipped { Happened::Skip } else { Happened::Cell };
        let mut detail = match &record.failure {
            Some(failure) => failure.reason.clone(),
            None => format!("in {}", crate::units::format_duration(record.time_taken())),
        };
        if record.attempts > 1 {
            let _ = write!(detail, " (after {} attempts)", record.attempts);
        }
        if !record.rounds.is_empty() {
            let _ = write!(detail, " ({} rounds)", record.rounds.len());
        }
        self.write(|journal| Entry {
            experiment: Some(record.experiment.clone()),
            cell: Some(record.cell.clone()),
            hash: Some(record.hash.clone()),
            outcome: Some(record.status.words().to_owned()),
            error: record.status != Status::Ok,
            ..journal.entry(happened, detail)
        });
    }

    /// What the run said while it ran.
    pub(crate) fn noted(&mut self, notice: &Notice) {
        // The walk's line for a blocked cell: its block is in the journal from the plan.
        if notice.severity == Severity::Info && notice.text.starts_with("blocked  ") {
            return;
        }
        let error = matches!(notice.severity, Severity::Warning | Severity::Error);
        let level = if error { "warning" } else { "info" };
        self.write(|journal| Entry {
            outcome: Some(level.to_owned()),
            error,
            ..journal.entry(Happened::Note, &notice.text)
        });
    }

    /// The run ended: the signal that interrupted it, if one did, and its summary.
    pub(crate) fn ended(&mut self, summary: &RunSummary) {
        if summary.interrupted {
            let by = summary.signal.map_or_else(
                || "a signal".to_owned(),
                |signal| format!("signal {}", crate::process::signal_name(signal)),
            );
            let detail = format!("interrupted by {by}: the cells in flight were stopped");
            self.write(|journal| Entry { error: true, ..journal.entry(Happened::Signal, detail) });
        }
        let detail = format!("{summary}; {}", summary.time);
        self.write(|journal| journal.entry(Happened::End, detail));
    }

    /// What to say at the end when the journal could not be written.
    pub(crate) fn failure(&self) -> Option<Notice> {
        let (count, error) = self.failed.as_ref()?;
        Some(Notice::warning(format!("the journal could not be written {count} time(s) in this run (first: {error})")))
    }

    fn write(&mut self, entry: impl FnOnce(&Journal) -> Entry) {
        let Some(journal) = &mut self.journal else { return };
        let entry = entry(journal);
        if let Err(error) = journal.append(&entry) {
            let failed =
                self.failed.get_or_insert_with(|| (0, format!("cannot write `{}`: {error}", journal.path().display())));
            failed.0 += 1;
        }
    }
}
