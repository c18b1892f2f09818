//! Running an executor's work beside the dispatcher: one runtime, the event channel, and Ctrl-C
//! and SIGTERM turned into stop requests the work watches.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::watch;

use super::dispatch::{Event, Observer, dispatch};
use super::executor::RunSummary;
use super::executor_error::ExecutorError;
use super::progress::Progress;
use crate::notice::Notice;
use crate::process::{Interrupts, StopSignal};

/// Runs `work` on a runtime of its own beside the dispatcher, which owns `progress` and
/// `observer` and hears what `work` sends. Ctrl-C and SIGTERM become stop requests that `work`
/// watches (the first also shows `stopping`); the summary of an interrupted run names the
/// signal.
pub(super) fn drive<'a, Work, Running>(
    progress: Progress,
    observer: &mut dyn Observer,
    stopping: &'static str,
    work: Work,
) -> Result<RunSummary, ExecutorError>
where
    Work: FnOnce(UnboundedSender<Event>, StopSignal) -> Running,
    Running: Future<Output = Result<RunSummary, ExecutorError>> + 'a,
{
    let runtime = crate::process::runtime()
        .map_err(|source| ExecutorError::Io { what: "cannot start the async runtime".to_owned(), source })?;
    runtime.block_on(async {
        let (stop_sender, stop) = watch::channel(0u32);
        let (events, receiver) = mpsc::unbounded_channel();
        let first_signal = Arc::new(AtomicI32::new(0));
        // The handlers are in place before anything starts: a signal that came before the
        // task first ran would otherwise kill bakeoff outright.
        let handlers = Interrupts::new().ok();
        let signals =
            tokio::spawn(forward_signals(handlers, stop_sender, events.clone(), Arc::clone(&first_signal), stopping));
        let done = events.clone();
        let working = async move {
            let result = work(events, stop).await;
            let _ = done.send(Event::Done);
            result
        };
        let (result, ()) = tokio::join!(working, dispatch(receiver, progress, observer));
        signals.abort();
        let mut summary = result?;
        if summary.interrupted {
            let signal = first_signal.load(Ordering::Relaxed);
            summary.signal = Some(if signal == 0 { libc::SIGINT } else { signal });
        }
        Ok(summary)
    })
}

/// Ctrl-C and SIGTERM → stop requests: the first stops gracefully, the next kills at once.
/// The first signal's number is kept in `first` (for the exit code).
async fn forward_signals(
    handlers: Option<Interrupts>,
    sender: watch::Sender<u32>,
    events: UnboundedSender<Event>,
    first: Arc<AtomicI32>,
    stopping: &'static str,
) {
    let Some(mut interrupts) = handlers else { return };
    loop {
        let signal = interrupts.next().await;
        let _ = first.compare_exchange(0, signal, Ordering::Relaxed, Ordering::Relaxed);
        sender.send_modify(|count| *count += 1);
        if *sender.borrow() == 1 {
            let _ = events.send(Event::Note(Notice::info(stopping)));
        }
    }
}
