//! The results-directory lock: two `bakeoff run`s on one store take turns, never interleave.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// Held for the whole run; the lock is released when this is dropped or the process dies.
#[derive(Debug)]
pub(crate) struct RunLock {
    _file: File,
}

/// Takes the lock on `results/.lock`, waiting (and saying who holds it) if another run has it.
pub(crate) fn acquire(results: &Path) -> std::io::Result<RunLock> {
    std::fs::create_dir_all(results)?;
    let path = super::Store::new(results).run_lock_path();
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder =
                if holder.is_empty() { "another bakeoff run".to_owned() } else { format!("bakeoff run {holder}") };
            crate::console::errln!("waiting: {holder} holds `{}`", path.display());
            file.lock()?;
        }
        Err(TryLockError::Error(error)) => return Err(error),
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "pid {}", std::process::id())?;
    file.flush()?;
    Ok(RunLock { _file: file })
}
