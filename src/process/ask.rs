//! A short question to another program (`lspci`, `rpm`, `git`) from code that is not async:
//! through the supervisor like every child (its own process group, a time limit, reaped), its
//! standard output when it answers with exit code 0.

use std::path::Path;
use std::time::Duration;

use super::command::Launch;
use super::exit::Exit;
use super::supervisor::capture;

/// `program args…`'s stdout when it exits 0 within `timeout`; `None` when it is missing, fails
/// or does not answer.
pub(crate) fn ask(program: impl AsRef<Path>, args: &[&str], timeout: Duration) -> Option<String> {
    let launch = Launch::plain(program.as_ref(), args.iter().map(|arg| (*arg).to_owned()).collect());
    let runtime = super::runtime::runtime().ok()?;
    let result = runtime.block_on(capture(&launch, timeout)).ok()?;
    (result.exit == Exit::Code(0)).then(|| String::from_utf8_lossy(&result.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_a_failure_and_a_missing_program() {
        assert_eq!(ask("sh", &["-c", "echo yes"], Duration::from_secs(10)).as_deref(), Some("yes\n"));
        assert_eq!(ask("sh", &["-c", "echo no; exit 3"], Duration::from_secs(10)), None);
        assert_eq!(ask("/nonexistent/bakeoff-program", &[], Duration::from_secs(10)), None);
        let started = std::time::Instant::now();
        assert_eq!(ask("sleep", &["30"], Duration::from_millis(200)), None);
        assert!(started.elapsed() < Duration::from_secs(10), "the time limit stops it");
    }
}
