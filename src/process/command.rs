//! A command ready to spawn: program, arguments, environment, and where it really runs when a
//! container runner holds it. A leaf: the supervisor spawns these, and `toolbox/launch.rs`
//! builds them from a toolbox.

use std::path::PathBuf;

/// A program with its arguments and environment, ready to spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set on the spawned process (host runner) or passed into the container.
    pub env: Vec<(String, String)>,
    /// Where the command really runs when that is outside the process group bakeoff spawns.
    pub detached: Detached,
    /// Where in `args` the command run inside a container starts (0: the launch is the command).
    pub inner: usize,
    /// The working directory (host runner); `None`: bakeoff's own.
    pub dir: Option<PathBuf>,
}

/// What a container runner leaves running when the process bakeoff spawned is killed: the
/// command runs under the container runtime (conmon), not under the runner's client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Detached {
    /// Nothing: the command is in the spawned process group (the host runner).
    #[default]
    No,
    /// In the podman container of this name, which is removed to stop it.
    Container(String),
    /// In a toolbox or distrobox container, which shares the host's pid namespace: the command
    /// announces its pid first thing on stderr (see [`PID_ANNOUNCEMENT`]) and is stopped by it.
    AnnouncedPid,
}

/// The line a command in a toolbox or distrobox container prints on stderr before it execs,
/// followed by its pid; the supervisor takes the line out of the output.
pub(crate) const PID_ANNOUNCEMENT: &str = "bakeoff-pid ";

impl Launch {
    /// A program run as it is, on this machine.
    pub(crate) fn plain(program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        Self { program: program.into(), args, env: Vec::new(), detached: Detached::No, inner: 0, dir: None }
    }

    /// The command line as a person would type it, for logs and messages; an option's
    /// credential (`--api-key KEY`) is hidden.
    pub(crate) fn display(&self) -> String {
        words(std::iter::once(self.program.display().to_string()).chain(crate::secret::redacted_args(&self.args)))
    }

    /// The command that runs, without the container runner around it.
    pub(crate) fn command(&self) -> String {
        if self.inner == 0 {
            self.display()
        } else {
            words(crate::secret::redacted_args(&self.args[self.inner..]).into_iter())
        }
    }
}

fn words(words: impl Iterator<Item = String>) -> String {
    crate::shell::words(words)
}
