//! The cell step of the walk: one bench or command cell launched in its toolbox, retried as its
//! experiment allows, and recorded with how it ended.

use std::fmt::Write as _;
use std::time::Duration;

use super::local::{LocalExecutor, Walk};
use crate::fingerprint::ResolvedCell;
use crate::process::{Exit, supervise};
use crate::run::dispatch::Event;
use crate::run::error::RunError;
use crate::run::meters::CellMeters;
use crate::run::outcome::{Reading, describe_metrics, fill_outcome, finished_line, now_unix_ms, reason_only};
use crate::store::{CellRecord, Status, StoreError};
use crate::time_spent::bench_parts;
use crate::toolbox::launch;

impl LocalExecutor<'_> {
    /// Runs one cell with its retries and writes its record. `None` when interrupted.
    pub(super) async fn run_cell(&self, cell: &ResolvedCell, walk: &mut Walk) -> Result<Option<Status>, StoreError> {
        let experiment =
            self.manifests.experiment(&cell.cell.experiment).expect("planned cells name known experiments");
        let toolbox = &self.manifests.toolboxes[&cell.toolbox];
        let timeout = experiment.timeout();
        let attempts = u64::from(experiment.attempts());
        let mut record = CellRecord::new(cell, self.host, Status::Failed);
        record.timings.started_unix_ms = now_unix_ms();
        let argv = match self.base_args(cell) {
            Ok(extra) => cell.argv.iter().cloned().chain(extra).collect::<Vec<_>>(),
            Err(reason) => {
                record.failure = Some(reason_only(reason));
                let line = finished_line(&cell.id, &record, describe_metrics);
                self.record(record, &line, walk)?;
                return Ok(Some(Status::Failed));
            }
        };
        let launch = match launch(toolbox, &argv, &self.context, crate::digest::short(&cell.hash)) {
            Ok(launch) => launch,
            Err(error) => {
                record.failure = Some(reason_only(error.reason()));
                let line = finished_line(&cell.id, &record, describe_metrics);
                self.record(record, &line, walk)?;
                return Ok(Some(Status::Failed));
            }
        };
        let reading = Reading {
            metrics: experiment.command.as_ref().map_or(&[][..], |command| &command.metrics[..]),
            sizes: crate::manifest::swept_sizes(experiment),
            writes_base: cell.base.as_ref().is_some_and(|base| base.writes),
            ..Reading::of(toolbox, &cell.argv, self.context.drivers.get(&cell.toolbox).map(String::as_str))
        };
        // How the last attempt failed, when it failed by itself (an exit status and its error
        // line): a retry that fails the same way is not retried again. A timeout or a signal
        // may be the machine's moment, so those use every retry.
        let mut failed_as: Option<(i32, String)> = None;
        for attempt in 1..=attempts {
            let phase = if attempt == 1 { "running".to_owned() } else { format!("retrying ({attempt}/{attempts})") };
            let before = self.before_step(&cell.id, walk).await;
            if attempt == 1 {
                // The cell starts now, not before a `--quiet-host` wait.
                record.timings.started_unix_ms = now_unix_ms();
            }
            let _ = walk.events.send(Event::Started { what: cell.id.clone(), phase });
            let log = self.store.log_path(&cell.hash);
            let stop = walk.stop.clone();
            let mut meters = CellMeters::start();
            let supervised = supervise(
                &launch,
                Some(&log),
                timeout,
                self.options.grace,
                stop,
                Some(&walk.tracker),
                Some(&mut meters),
            );
            let result = match supervised.await {
                Ok(result) => result,
                Err(source) => {
                    let error = RunError::CannotStart { program: launch.program.display().to_string(), source };
                    record.failure = Some(reason_only(error.to_string()));
                    break;
                }
            };
            if result.exit == Exit::Interrupted {
                return Ok(None);
            }
            record.attempts = u32::try_from(attempt).unwrap_or(u32::MAX);
            record.timings.duration_ms = u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX);
            fill_outcome(&mut record, &result, meters.finish().after(before), &reading, timeout);
            let measured = match (record.status, record.block()) {
                (Status::Ok, crate::matrix::Block::Bench) => bench_parts(result.duration, &record.raw).0,
                (Status::Ok, _) => result.duration,
                _ => Duration::ZERO,
            };
            walk.summary.time.add_process(measured, result.duration, record.status == Status::Ok);
            if record.status == Status::Ok {
                break;
            }
            let this_way = match (result.exit, &record.failure) {
                (Exit::Code(code), Some(failure)) => Some((code, failure.reason.clone())),
                _ => None,
            };
            if this_way.is_some() && this_way == failed_as && attempt < attempts {
                if let Some(failure) = &mut record.failure {
                    failure.reason.push_str("; failed the same way twice: not retried further");
                }
                break;
            }
            failed_as = this_way;
            if attempt < attempts {
                walk.note(retrying(&cell.id, &record, attempt, attempts));
            }
        }
        self.settle_base(cell, &mut record);
        let mut line = finished_line(&cell.id, &record, describe_metrics);
        let log = self.store.log_path(&cell.hash);
        if record.status != Status::Ok && log.is_file() {
            let _ = write!(line, " (log: {})", crate::units::shown_path(&log));
        }
        let status = record.status;
        self.record(record, &line, walk)?;
        Ok(Some(status))
    }

    /// What a quality cell adds to its argv: where the reference writes its base logits (a
    /// partial file, kept once the pass succeeds), or the base a candidate reads, which must be
    /// there.
    fn base_args(&self, cell: &ResolvedCell) -> Result<Vec<String>, String> {
        let Some(base) = &cell.base else { return Ok(Vec::new()) };
        if base.writes {
            let partial = self.store.partial_base_path(&base.reference);
            // What a killed pass left is no base.
            let _ = std::fs::remove_file(&partial);
            return Ok(vec!["--kl-divergence-base".to_owned(), real_path(&partial).display().to_string()]);
        }
        let path = real_path(&self.store.base_path(&base.reference));
        if !path.is_file() {
            let how = match self.store.read(&base.reference) {
                Ok(Some(record)) if record.status != Status::Ok => format!(
                    "it {}: {}",
                    record.status.words(),
                    record.failure.as_ref().map_or("no reason recorded", |failure| failure.reason.as_str())
                ),
                _ => "its quality cell has not written them".to_owned(),
            };
            return Err(format!(
                "the base logits of the quality reference are missing (`{}`): {how}",
                crate::units::shown_path(&path)
            ));
        }
        Ok(vec!["--kl-divergence-base".to_owned(), path.display().to_string(), "--kl-divergence".to_owned()])
    }

    /// Keeps the base logits a reference pass wrote, under their name: only a whole pass's (a
    /// failed pass's partial base is hundreds of MB of nothing, and is removed).
    fn settle_base(&self, cell: &ResolvedCell, record: &mut CellRecord) {
        let Some(base) = cell.base.as_ref().filter(|base| base.writes) else { return };
        let partial = self.store.partial_base_path(&base.reference);
        if record.status != Status::Ok {
            let _ = std::fs::remove_file(&partial);
            return;
        }
        let path = self.store.base_path(&base.reference);
        if let Err(error) = std::fs::rename(&partial, &path) {
            record.status = Status::Failed;
            record.metrics.clear();
            record.failure = Some(reason_only(format!(
                "llama-perplexity's base logits could not be kept (`{}` → `{}`): {error}",
                crate::units::shown_path(&partial),
                crate::units::shown_path(&path)
            )));
        }
    }
}

/// `path` with its folder's symlinks resolved and made absolute: what a container, started
/// elsewhere with the folder mounted at its real place, finds the file by.
fn real_path(path: &std::path::Path) -> std::path::PathBuf {
    let folder = path.parent().and_then(|folder| folder.canonicalize().ok());
    match (folder, path.file_name()) {
        (Some(folder), Some(name)) => folder.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// What the run says when an attempt failed and another follows (the journal keeps it).
fn retrying(id: &str, record: &CellRecord, attempt: u64, attempts: u64) -> crate::notice::Notice {
    let reason =
        record.failure.as_ref().map_or_else(|| record.status.words().to_owned(), |failure| failure.reason.clone());
    crate::notice::Notice::info(format!("attempt {attempt} of {attempts} of {id} failed: {reason}; retrying"))
}
