//! The ledger of submitted jobs, and what the next run does with the jobs a killed dispatcher
//! left.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::commands::FIRST_POLL;
use super::commands::{Slurm, SlurmState};
use crate::notice::Notice;
use crate::store::Store;

/// The jobs a run has submitted and not seen end, one id a line in
/// `results/slurm/submitted.txt` (appended as each is submitted, removed when the run has seen
/// them all end), so that a run killed outright leaves none queued: the next Slurm run stops
/// them.
pub(super) struct Ledger {
    path: PathBuf,
}

impl Ledger {
    pub(super) fn of(store: &Store) -> Self {
        Self { path: store.slurm_ledger_path() }
    }

    /// Writes down job `id`. A job it could not write down is still followed by this run.
    pub(super) fn add(&self, id: u64) {
        use std::io::Write as _;
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path);
        let _ = file.and_then(|mut file| file.write_all(format!("{id}\n").as_bytes()));
    }

    pub(super) fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// The jobs an earlier run wrote down.
    fn read(&self) -> Vec<u64> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        text.lines().filter_map(|line| line.trim().parse().ok()).collect()
    }
}

/// Before a Slurm run plans: the jobs an earlier run submitted and did not see end (it was
/// killed outright) are stopped the way Ctrl-C stops them (queued ones cancelled, a running
/// one's bakeoff sent SIGTERM so that it records nothing for its cell) and waited for, so the
/// plan sees what they recorded and nothing of theirs runs beside this run's jobs. Returns
/// lines saying what was stopped. Without Slurm's clients there is nothing to do here (the run
/// then says what is missing).
pub(crate) fn stop_leftover_jobs(store: &Store, grace: Duration) -> Vec<Notice> {
    let ledger = Ledger::of(store);
    let ids = ledger.read();
    let Ok(slurm) = Slurm::find(None) else { return Vec::new() };
    if ids.is_empty() {
        return Vec::new();
    }
    let Ok(runtime) = crate::process::runtime() else { return Vec::new() };
    let lines = runtime.block_on(async {
        let Ok(states) = slurm.states(&ids).await else {
            return vec![Notice::warning("cannot ask Slurm about the jobs an earlier run left")];
        };
        let open: Vec<u64> =
            ids.iter().copied().filter(|id| states.get(id).is_some_and(|state| !state.is_final())).collect();
        if open.is_empty() {
            return Vec::new();
        }
        let (running, queued): (Vec<u64>, Vec<u64>) =
            open.iter().partition(|id| states.get(id).is_some_and(|state| state.state == SlurmState::Running));
        let mut problems = Vec::new();
        for result in [slurm.cancel(&queued).await, slurm.signal_batch(&running, "TERM").await] {
            if let Err(reason) = result {
                problems.push(reason);
            }
        }
        let deadline = Instant::now() + grace + Duration::from_secs(30);
        loop {
            let left = match slurm.states(&open).await {
                Ok(states) => {
                    open.iter().copied().filter(|id| states.get(id).is_some_and(|state| !state.is_final())).collect()
                }
                Err(_) => Vec::new(),
            };
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                if let Err(reason) = slurm.cancel(&left).await {
                    problems.push(reason);
                }
                break;
            }
            tokio::time::sleep(FIRST_POLL).await;
        }
        let list = open.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        let mut lines = vec![Notice::info(format!("cancelled the Slurm job(s) an earlier run left: {list}"))];
        lines.extend(problems.into_iter().map(|problem| Notice::warning(problem.to_string())));
        lines
    });
    ledger.clear();
    lines
}
