//! Writing for people on stderr. A reader that went away (`bakeoff run 2>&1 | head`) ends the
//! program quietly with 141, as a shell reports a process SIGPIPE stopped, instead of a panic;
//! any other error writing to stderr is ignored, as there is nowhere left to say it.

use std::io::Write;

/// `eprintln!` through [`write_err`].
macro_rules! errln {
    ($($arg:tt)*) => { $crate::console::write_err(&format!("{}\n", format!($($arg)*))) };
}

pub(crate) use errln;

/// The exit code of a program whose stderr reader went away: 128 + SIGPIPE.
const CLOSED: i32 = 141;

/// Writes `text` to stderr; see the module's comment for a closed one.
pub fn write_err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    if let Err(error) = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush())
        && error.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(CLOSED);
    }
}
