//! Running a llama-bench load group: one process (one model load) for cells that differ only
//! in per-test parameters; each JSON record goes back to its cell, whose record then has the
//! shape a run of its own would give. Cells the group could not record (the process failed
//! before or while measuring them) are left for the walk, which runs each alone.

use std::time::{Duration, Instant};

use super::local::{LocalExecutor, Walk};
use crate::notice::Notice;
use crate::plan::{LoadGroup, PlannedCell};
use crate::process::{Exit, supervise};
use crate::run::dispatch::Event;
use crate::run::meters::{CellMeters, Usage};
use crate::run::outcome::{
    Measured, Reading, bench_tokens, describe_metrics, finished_line, now_unix_ms, record_device,
};
use crate::run::readers::metrics::bench_metrics;
use crate::store::{CellRecord, Status, StoreError};
use crate::time_spent::bench_parts;
use crate::toolbox::launch;

impl LocalExecutor<'_> {
    pub(super) async fn run_group(
        &self,
        group: &LoadGroup,
        planned: &[PlannedCell],
        walk: &mut Walk,
    ) -> Result<(), StoreError> {
        if walk.stopping() {
            walk.summary.interrupted = true;
            return Ok(());
        }
        if walk.streaks.is_stopped(&planned[group.cells[0]].cell.toolbox) {
            // Its cells are skipped one by one.
            return Ok(());
        }
        let cells: Vec<&crate::fingerprint::ResolvedCell> =
            group.cells.iter().map(|&index| &planned[index].cell).collect();
        let first = cells[0];
        let toolbox = &self.manifests.toolboxes[&first.toolbox];
        // Each cell's own time allowance, added up.
        let timeout: Duration = cells
            .iter()
            .map(|cell| {
                self.manifests
                    .experiment(&cell.cell.experiment)
                    .map_or(crate::manifest::DEFAULT_TIMEOUT, crate::manifest::Experiment::timeout)
            })
            .sum();
        let Ok(launched) =
            launch(toolbox, &group.argv, &self.context, &format!("group-{}", crate::digest::short(&first.hash)))
        else {
            // Each cell alone will say why it cannot be launched.
            return Ok(());
        };
        let before = self.before_step(&format!("{} and {} more", first.id, cells.len() - 1), walk).await;
        let what = format!("{} and {} more (one llama-bench: {})", first.id, cells.len() - 1, group.argv.join(" "));
        let _ = walk.events.send(Event::Started { what, phase: "running".to_owned() });
        let log = self.store.log_path(&first.hash);
        let started_unix_ms = now_unix_ms();
        let started = Instant::now();
        let mut meters = CellMeters::start();
        let (stop, tracker, grace) = (walk.stop.clone(), Some(&walk.tracker), self.options.grace);
        let supervised = supervise(&launched, Some(&log), timeout, grace, stop, tracker, Some(&mut meters));
        let result = match supervised.await {
            Ok(result) => result,
            Err(error) => {
                walk.note(Notice::info(format!(
                    "cannot start llama-bench for a load group ({error}); its cells run one by one"
                )));
                return Ok(());
            }
        };
        if result.exit == Exit::Interrupted {
            walk.summary.interrupted = true;
            walk.note(Notice::info(format!("interrupted the load group of {}: no result recorded", first.id)));
            return Ok(());
        }
        let usage = meters.finish().after(before);
        let elapsed = started.elapsed();
        let lines = owned_lines(group, &result.stdout);
        let owners: Vec<usize> = lines.iter().map(|line| line.owner).collect();
        let complete = completed(&owners, group.cells.len(), result.exit == Exit::Code(0));
        if complete.iter().any(|done| !done) {
            walk.note(Notice::info(format!(
                "the load group of {} ended ({}) before measuring every cell; the rest run one by one",
                first.id, result.exit
            )));
        }
        let (measured, total) = measured_shares(&lines, cells.len());
        let output = String::from_utf8_lossy(&result.combined);
        let reading = Reading::of(toolbox, &group.argv, self.context.drivers.get(&first.toolbox).map(String::as_str));
        // What the members that ended ok measured; the rest of the process is loading, or failing.
        let mut measured_ok = Duration::ZERO;
        for (position, cell) in cells.iter().enumerate() {
            // A member whose earlier round failed, or that has all its rounds, is not recorded.
            if !complete[position] || !walk.measures(&planned[group.cells[position]]) {
                continue;
            }
            let own: Vec<u8> = lines
                .iter()
                .filter(|line| line.owner == position)
                .flat_map(|line| line.text.bytes().chain(std::iter::once(b'\n')))
                .collect();
            let Ok((metrics, raw)) = bench_metrics(&own) else { continue };
            let sizes = self.manifests.experiment(&cell.cell.experiment).map(crate::manifest::swept_sizes);
            let metrics = crate::metric::plain_size_names(metrics, sizes.unwrap_or_default());
            let mut record = CellRecord::new(cell, self.host, Status::Ok);
            record.timings.started_unix_ms = started_unix_ms;
            let share = if total > 0.0 {
                measured[position] / total
            } else {
                1.0 / f64::from(u32::try_from(cells.len()).unwrap_or(u32::MAX))
            };
            record.timings.duration_ms = u64::try_from(elapsed.mul_f64(share).as_millis()).unwrap_or(u64::MAX);
            // One process measured them all: each cell's peak is the group's, its energy its
            // share of the group's.
            let energy = usage.energy.clone().map(|joules| joules.map(|joules| joules * share));
            let tokens = Some(bench_tokens(&raw));
            Measured { metrics, raw, usage: Usage { energy, ..usage.clone() }, tokens }.record(&mut record);
            record_device(&mut record, &output, &reading);
            if record.status == Status::Ok {
                measured_ok += bench_parts(elapsed, &record.raw).0;
            }
            if position > 0 {
                // Every cell's log holds the group's output.
                let _ = std::fs::copy(&log, self.store.log_path(&cell.hash));
            }
            let line = finished_line(&cell.id, &record, describe_metrics);
            self.record(record, &line, walk)?;
            walk.recorded.insert(group.cells[position]);
        }
        walk.summary.time.add_process(measured_ok, elapsed, result.exit == Exit::Code(0));
        Ok(())
    }
}

/// A JSON line of llama-bench's output, read once.
struct OwnedLine {
    /// The group member it belongs to.
    owner: usize,
    text: String,
    /// Nanoseconds its test measured (its samples added up).
    measured_ns: f64,
}

/// The JSON lines of llama-bench's output that belong to a group member.
fn owned_lines(group: &LoadGroup, stdout: &[u8]) -> Vec<OwnedLine> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
            let measured_ns = value
                .get("samples_ns")
                .and_then(serde_json::Value::as_array)
                .map_or(0.0, |samples| samples.iter().filter_map(serde_json::Value::as_f64).sum());
            Some(OwnedLine { owner: group.owner(&value)?, text: line.trim().to_owned(), measured_ns })
        })
        .collect()
}

/// Which members are measured completely: all with records when the process succeeded;
/// otherwise only those whose records a later member's follow (llama-bench measures one
/// parameter combination after the other, so the last one may have been cut short).
fn completed(owners: &[usize], members: usize, succeeded: bool) -> Vec<bool> {
    let mut complete = vec![false; members];
    for (index, owner) in owners.iter().enumerate() {
        if succeeded || owners[index + 1..].iter().any(|later| later != owner) {
            complete[*owner] = true;
        }
    }
    complete
}

/// Each cell's measured nanoseconds, and their sum: a cell's share of the wall time is its
/// tests' share of the measured time.
fn measured_shares(lines: &[OwnedLine], cells: usize) -> (Vec<f64>, f64) {
    let measured: Vec<f64> = (0..cells)
        .map(|position| lines.iter().filter(|line| line.owner == position).map(|line| line.measured_ns).sum())
        .collect();
    let total = measured.iter().sum();
    (measured, total)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failed_process_keeps_only_the_members_it_moved_past() {
        let owners = [0, 0, 1, 1, 2];
        assert_eq!(super::completed(&owners, 4, false), [true, true, false, false]);
        assert_eq!(super::completed(&owners, 4, true), [true, true, true, false]);
    }
}
