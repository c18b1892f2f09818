//! Before each measuring step: how busy other processes keep the host, and with `--quiet-host`,
//! a wait for them to settle. What is read here goes into the step's records with what the
//! meters read while it ran; a host busier than the threshold gets the records a warning.

use std::time::{Duration, Instant};

use super::local::{LocalExecutor, Walk};
use crate::notice::Notice;
use crate::process::wait_for_stop;
use crate::run::dispatch::Event;
use crate::run::meters::{BEFORE_CELL, ForeignLoad, HostLoad};

/// How long each reading of a `--quiet-host` wait lasts.
const SETTLE_READING: Duration = Duration::from_secs(1);
/// Readings in a row below the threshold that make a host settled: one quiet second may be a
/// pause between two jobs.
const SETTLED_AFTER: u32 = 2;
/// How long a reading before one step stands for the next steps too. Reading takes
/// [`BEFORE_CELL`] of waiting: before each of many short cells (a matrix of quick commands) that
/// wait was most of the run (50 cells of `true`: 15.6 s against 0.3 s without the check); read
/// at most this often, it costs a few per cent of the wall time at worst, and nothing before a
/// cell that starts longer than this after the last reading.
const READING_HOLDS: Duration = Duration::from_secs(5);

impl LocalExecutor<'_> {
    /// The foreign load just before step `what` starts; with `--quiet-host`, once it has settled
    /// below the threshold or the wait has timed out (the step then runs anyway, and its
    /// records say how busy the host was and how long was waited). Nothing is read when the
    /// check is off. First the reports and the page of what landed before are written: never
    /// during the step's measurement.
    pub(super) async fn before_step(&self, what: &str, walk: &mut Walk) -> HostLoad {
        walk.settled().await;
        let Some(threshold) = self.options.busy_threshold else { return HostLoad::default() };
        let recent = walk.last_load.filter(|(at, _, _)| at.elapsed() < READING_HOLDS);
        let (cpus, first) = match recent {
            // With `--quiet-host` a busy reading is read again: the host may have settled since.
            Some((_, cpus, share)) if self.options.quiet_host.is_none() || share <= threshold => (cpus, Some(share)),
            _ => {
                let (cpus, share) = self.read_load(BEFORE_CELL, walk).await;
                walk.last_load = share.map(|share| (Instant::now(), cpus, share));
                (cpus, share)
            }
        };
        let mut load = HostLoad { threshold: Some(threshold), cpus, before: first, ..HostLoad::default() };
        let Some(timeout) = self.options.quiet_host else { return load };
        if first.is_none_or(|share| share <= threshold) {
            return load;
        }
        walk.note(Notice::info(format!(
            "waiting for the host to settle before {what}: other processes use {} of its {cpus} CPUs (threshold \
             {}; `--quiet-host` waits up to {} s)",
            percent(first.unwrap_or_default()),
            percent(threshold),
            timeout.as_secs()
        )));
        let _ =
            walk.events.send(Event::Started { what: what.to_owned(), phase: "waiting for a quiet host".to_owned() });
        let started = Instant::now();
        let mut quiet = 0;
        while quiet < SETTLED_AFTER {
            if walk.stopping() {
                return load;
            }
            if started.elapsed() >= timeout {
                load.waited = Some((started.elapsed(), false));
                walk.note(Notice::warning(format!(
                    "the host did not settle within {} s (other processes use {} of its CPUs): running {what} anyway, \
                     its record says how busy the host was",
                    timeout.as_secs(),
                    percent(load.before.unwrap_or_default())
                )));
                return load;
            }
            let (_, share) = self.read_load(SETTLE_READING, walk).await;
            walk.last_load = share.map(|share| (Instant::now(), cpus, share));
            load.before = share.or(load.before);
            quiet = if share.is_some_and(|share| share <= threshold) { quiet + 1 } else { 0 };
        }
        load.waited = Some((started.elapsed(), true));
        walk.note(Notice::info(format!(
            "the host settled after {:.0} s: running {what}",
            started.elapsed().as_secs_f64()
        )));
        load
    }

    /// The machine's CPUs and the foreign share of them over `span` (cut short by a stop).
    async fn read_load(&self, span: Duration, walk: &Walk) -> (u32, Option<f64>) {
        let mut load = ForeignLoad::start();
        let mut stop = walk.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(span) => {}
            () = wait_for_stop(&mut stop) => {}
        }
        load.sample();
        (load.cpus(), load.average())
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}
