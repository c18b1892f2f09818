//! Run progress on stderr: an indicatif bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(super) struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
}

impl Progress {
    /// `total` cells to run. Bars only when stderr is a terminal and `--no-progress` is off.
    pub(super) fn new(total: usize, bars: bool) -> Self {
        let bar = (bars && std::io::stderr().is_terminal() && total > 0).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cells, ETA {eta}  {wide_msg}",
                )
                .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar, total, done: 0 }
    }

    /// A cell starts, in `phase` (e.g. `running`, `retrying 2/3`).
    pub(super) fn start(&mut self, cell: &str, phase: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("{phase} {cell}")),
            None => eprintln!("[{}/{}] {phase} {cell}", self.done + 1, self.total),
        }
    }

    /// A cell finished; `line` says how.
    pub(super) fn finish(&mut self, line: &str) {
        self.done += 1;
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Something to say that is not about one cell.
    pub(super) fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub(super) fn close(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
