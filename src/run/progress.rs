//! Run progress on stderr: an indicatif bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use crate::notice::Notice;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(super) struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
    /// Expected milliseconds of each cell to run, in order, from earlier results of similar cells.
    estimates: Vec<Option<u64>>,
}

impl Progress {
    /// `total` cells to run. Bars only when stderr is a terminal and `--no-progress` is off.
    pub(super) fn new(estimates: Vec<Option<u64>>, bars: bool) -> Self {
        let total = estimates.len();
        let bar = (bars && std::io::stderr().is_terminal() && total > 0).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cells{prefix}  {wide_msg}",
                )
                .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar, total, done: 0, estimates }
    }

    /// A cell starts, in `phase` (e.g. `running`, `retrying 2/3`).
    pub(super) fn start(&mut self, cell: &str, phase: &str) {
        let left = self.time_left().map(|left| format!(", about {left} left")).unwrap_or_default();
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(left);
                bar.set_message(format!("{phase} {cell}"));
            }
            None => crate::console::errln!("[{}/{}] {phase} {cell}{left}", self.done + 1, self.total),
        }
    }

    /// The remaining cells' expected time, when earlier results give any estimate; cells
    /// without one count as the mean of those with one.
    fn time_left(&self) -> Option<String> {
        let remaining = self.estimates.get(self.done..)?;
        let known: Vec<u64> = self.estimates.iter().flatten().copied().collect();
        let mean = known.iter().sum::<u64>().checked_div(u64::try_from(known.len()).ok()?)?;
        let milliseconds: u64 = remaining.iter().map(|estimate| estimate.unwrap_or(mean)).sum();
        Some(format_duration(milliseconds))
    }

    /// A cell finished; `line` says how.
    pub(super) fn finish(&mut self, line: &str) {
        self.done += 1;
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => crate::console::errln!("{line}"),
        }
    }

    /// Something to say that is not about one cell.
    pub(super) fn note(&self, notice: &Notice) {
        match &self.bar {
            Some(bar) => bar.println(notice.to_string()),
            None => crate::console::errln!("{notice}"),
        }
    }

    pub(super) fn close(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `4 s`, `3 min 20 s`, `2 h 5 min`.
fn format_duration(milliseconds: u64) -> String {
    let seconds = milliseconds.div_ceil(1000);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_fill_unknown_cells_with_the_mean() {
        let progress = Progress::new(vec![Some(10_000), None, Some(30_000)], false);
        assert_eq!(progress.time_left().as_deref(), Some("1 min 0 s"));
        assert_eq!(Progress::new(vec![None, None], false).time_left(), None);
        assert_eq!(format_duration(7_500_000), "2 h 5 min");
    }
}
