//! The one way bakeoff starts its async runtime: a single thread per caller (a run, an
//! inspection, a realisation), since what it waits on is other processes, not computation.

/// A current-thread tokio runtime with timers and I/O.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}
