//! The one way bakeoff starts its async runtime: a single thread per caller (a run, an
//! inspection, a realisation), since what it waits on is other processes, not computation.

/// A current-thread tokio runtime with timers and I/O.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, crate::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| crate::Error::Io { what: "cannot start the async runtime".to_owned(), source })
}
