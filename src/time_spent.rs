//! Where a run's time went: its wall time, and the parts of it that do not overlap — planning
//! (with toolbox inspection), measuring, loading (models, servers, containers starting), cells
//! that failed, waiting in a cluster's queue, writing the reports and the page — the rest being
//! bakeoff's own (scheduling, stops).

use std::time::Duration;

use crate::matrix::Block;
use crate::store::{CellRecord, Status};
use crate::units::format_duration;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeSpent {
    /// From the command's start to its end.
    pub wall: Duration,
    /// Reading manifests, hashing inputs, inspecting toolboxes, deciding cells.
    pub planning: Duration,
    /// What the tools measured: llama-bench's timed repetitions, a server workload's requests,
    /// a command cell's whole run.
    pub measuring: Duration,
    /// Around the measuring: models loaded, warm-up runs, containers entered, servers started.
    pub loading: Duration,
    /// Cells (and attempts) that failed or timed out.
    pub failing: Duration,
    /// A cluster's jobs queued while none of them ran.
    pub waiting: Duration,
    /// A cluster's jobs running (the nodes measure; their parts are in their records).
    pub on_nodes: Duration,
    /// Writing the reports and the page, as records land and at the end.
    pub reporting: Duration,
}

impl TimeSpent {
    /// A process of `total` time in which the tools timed `measured`: the rest was loading
    /// around it, or, when it failed, failing.
    pub(crate) fn add_process(&mut self, measured: Duration, total: Duration, succeeded: bool) {
        self.measuring += measured.min(total);
        let around = total.saturating_sub(measured);
        if succeeded {
            self.loading += around;
        } else {
            self.failing += around;
        }
    }

    /// The wall time not in any part.
    pub fn rest(&self) -> Duration {
        let parts = self.planning
            + self.measuring
            + self.loading
            + self.failing
            + self.waiting
            + self.on_nodes
            + self.reporting;
        self.wall.saturating_sub(parts)
    }

    /// Measuring over wall time, in percent.
    pub fn efficiency(&self) -> Option<f64> {
        let wall = self.wall.as_secs_f64();
        (wall > 0.0).then(|| 100.0 * self.measuring.as_secs_f64() / wall)
    }
}

impl std::fmt::Display for TimeSpent {
    /// `time: 2m13s wall: measuring 1m40s, loading 20.1 s, planning 1.2 s, the rest 11.8 s;
    /// measuring is 75% of the wall time`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "time: {} wall: measuring {}", format_duration(self.wall), format_duration(self.measuring))?;
        for (what, spent) in [
            ("loading models, servers and containers", self.loading),
            ("failing cells", self.failing),
            ("waiting in Slurm's queue", self.waiting),
            ("jobs running on the nodes", self.on_nodes),
            ("planning and inspection", self.planning),
            ("writing reports and the page", self.reporting),
            ("the rest", self.rest()),
        ] {
            if !spent.is_zero() {
                write!(formatter, ", {what} {}", format_duration(spent))?;
            }
        }
        if let Some(efficiency) = self.efficiency() {
            write!(formatter, "; measuring is {efficiency:.0}% of it")?;
        }
        Ok(())
    }
}

/// `duration` of a bench process split into what llama-bench measured (the sum of its timed
/// repetitions, `samples_ns`, over `raw`'s records) and the rest (the model's load, warm-up, a
/// container's start).
pub(crate) fn bench_parts(duration: Duration, raw: &[serde_json::Value]) -> (Duration, Duration) {
    let nanoseconds: f64 = raw
        .iter()
        .filter_map(|record| record.get("samples_ns")?.as_array())
        .flatten()
        .filter_map(serde_json::Value::as_f64)
        .sum();
    let measured = Duration::from_secs_f64(nanoseconds / 1e9).min(duration);
    (measured, duration.saturating_sub(measured))
}

/// Where the shown results' time went on one host, from their records: what the tools
/// measured, what was around it (each distinct server's start once), and what failing cells
/// took (their last attempt). No wall time: the records do not say how runs overlapped.
pub(crate) fn of_records<'a>(records: impl IntoIterator<Item = &'a CellRecord>) -> TimeSpent {
    let mut spent = TimeSpent::default();
    let mut servers = std::collections::BTreeSet::new();
    for record in records {
        let duration = record.time_taken();
        match (record.status, record.block()) {
            (Status::Blocked | Status::Skipped, _) => {}
            (Status::Failed | Status::TimedOut, _) => spent.failing += duration,
            (Status::Ok, Block::Bench) => {
                // The timed share of the last run, over every round's time.
                let last = Duration::from_millis(record.timings.duration_ms);
                let (measured, _) = bench_parts(last, &record.raw);
                let share = if last.is_zero() { 1.0 } else { measured.as_secs_f64() / last.as_secs_f64() };
                spent.measuring += duration.mul_f64(share);
                spent.loading += duration.mul_f64(1.0 - share);
            }
            (Status::Ok, Block::Command | Block::Quality) => spent.measuring += duration,
            (Status::Ok, Block::Server) => {
                spent.measuring += duration;
                let server = (record.fingerprint.toolbox.name.clone(), record.fingerprint.argv.clone());
                if let Some(load) = record.metrics.get("server_load_ms")
                    && servers.insert(server)
                {
                    spent.loading += Duration::from_secs_f64(load.mean.max(0.0) / 1000.0);
                }
            }
        }
    }
    spent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_add_up_to_the_wall_time_and_none_is_counted_twice() {
        let spent = TimeSpent {
            wall: Duration::from_secs(100),
            planning: Duration::from_secs(2),
            measuring: Duration::from_secs(75),
            loading: Duration::from_secs(13),
            reporting: Duration::from_secs(1),
            ..TimeSpent::default()
        };
        assert_eq!(spent.rest(), Duration::from_secs(9));
        assert_eq!(
            spent.to_string(),
            "time: 1m40s wall: measuring 1m15s, loading models, servers and containers 13.0 s, planning and \
             inspection 2.0 s, writing reports and the page 1.0 s, the rest 9.0 s; measuring is 75% of it"
        );
        // Parts measured with their own clocks never make the rest negative.
        let over =
            TimeSpent { wall: Duration::from_secs(1), measuring: Duration::from_secs(2), ..TimeSpent::default() };
        assert_eq!(over.rest(), Duration::ZERO);
    }

    #[test]
    fn a_bench_process_splits_into_its_timed_repetitions_and_the_rest() {
        let raw = [serde_json::json!({"samples_ns": [1.0e9, 2.0e9]}), serde_json::json!({"samples_ns": [5.0e8]})];
        let (measured, rest) = bench_parts(Duration::from_secs(5), &raw);
        assert_eq!((measured, rest), (Duration::from_millis(3500), Duration::from_millis(1500)));
        assert_eq!(bench_parts(Duration::from_secs(1), &raw).1, Duration::ZERO);
    }
}
