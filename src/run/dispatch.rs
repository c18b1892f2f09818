//! The dispatcher: the one task that owns a run's progress output and its observer (the
//! reporter). Workers tell it what happens over a channel, so nothing else writes to stderr
//! while a run goes on, and a progress bar is never written across.

use tokio::sync::mpsc::UnboundedReceiver;

use super::progress::Progress;
use crate::notice::Notice;
use crate::store::CellRecord;

/// What happened in a run, from the workers (and the signal handler) to the dispatcher.
#[derive(Debug)]
pub(super) enum Event {
    /// A cell, or a group of cells, starts a phase (`running`, `retrying (2/3)`).
    Started { what: String, phase: String },
    /// A cell that ran has its record in the store; `line` says how it ended.
    Recorded { line: String, record: Box<CellRecord> },
    /// A record is in the store that is no progress step: a cell found blocked (it did not
    /// run), a round of a cell with more to measure on a cluster node.
    Landed(Box<CellRecord>),
    /// A cell is done without a record of this run (cached or failed before, as a cluster
    /// node found it); `line` says which.
    Passed(String),
    /// A line that is not about one cell.
    Note(Notice),
    /// Every cell of this experiment is done: its report is due.
    Finished(String),
    /// The work waits for everything sent before this to be handled (the reports and the page
    /// written) before it measures: writing them never overlaps a measurement on this one
    /// thread.
    Settled(tokio::sync::oneshot::Sender<()>),
    /// The run is over.
    Done,
}

/// What the caller does with records and finished experiments (e.g. write the report).
pub(crate) trait Observer {
    /// A record landed in the store; returns what to say (a report that cannot be written).
    fn recorded(&mut self, record: &CellRecord) -> Vec<Notice>;
    /// Every cell of `experiment` is done; returns what to say (where its report is).
    fn finished(&mut self, experiment: &str) -> Vec<Notice>;
    /// The run said `notice` while it ran (a retry, a stop, a warning).
    fn noted(&mut self, _notice: &Notice) {}
}

/// Owns `progress` and `observer` until the workers say `Done`.
pub(super) async fn dispatch(
    mut events: UnboundedReceiver<Event>,
    mut progress: Progress,
    observer: &mut dyn Observer,
) {
    while let Some(event) = events.recv().await {
        match event {
            Event::Started { what, phase } => progress.start(&what, &phase),
            Event::Recorded { line, record } => {
                progress.finish(&line);
                for notice in observer.recorded(&record) {
                    progress.note(&notice);
                }
            }
            Event::Passed(line) => {
                // What a Slurm node decided of a cell it did not run (cached, blocked, failed
                // before there): said in passing, and kept in the journal.
                observer.noted(&Notice::info(line.trim_end()));
                progress.finish(&line);
            }
            Event::Landed(record) => {
                for notice in observer.recorded(&record) {
                    progress.note(&notice);
                }
            }
            Event::Note(notice) => {
                observer.noted(&notice);
                progress.note(&notice);
            }
            Event::Finished(experiment) => {
                for notice in observer.finished(&experiment) {
                    progress.note(&notice);
                }
            }
            Event::Settled(done) => {
                let _ = done.send(());
            }
            Event::Done => break,
        }
    }
    progress.close();
}
