//! What goes wrong while inspecting or realising a toolbox. An inspection keeps the message as
//! the toolbox's `problem` (shown in `plan`, `host`, `toolbox status` and its cells' records);
//! `toolbox create` and `refresh` print it.

use super::launch::LaunchError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub(crate) enum ToolboxError {
    /// A container tool (podman, toolbox, distrobox) is not on PATH.
    #[error("`{tool}` is not installed: {help}")]
    #[diagnostic(code(bakeoff::toolbox::not_installed))]
    NotInstalled { tool: String, help: String },
    /// The launch of a program in the toolbox could not be built.
    #[error("{}", .0.reason())]
    #[diagnostic(code(bakeoff::toolbox::launch))]
    Launch(LaunchError),
    #[error("cannot run `{command}`: {reason}")]
    #[diagnostic(code(bakeoff::toolbox::cannot_run))]
    CannotRun { command: String, reason: String },
    #[error("`{command}` did not answer within {seconds} s")]
    #[diagnostic(code(bakeoff::toolbox::no_answer))]
    NoAnswer { command: String, seconds: u64 },
    /// A command ended badly; `how` is its exit (`exit code 1`, `killed by signal 9`) and `line`
    /// its own error line.
    #[error("`{command}` failed ({how}): {line}")]
    #[diagnostic(code(bakeoff::toolbox::failed))]
    Failed { command: String, how: String, line: String },
    /// The container runner itself failed (podman's exit 125 or 126), not the program in it.
    #[error("{runner} failed to run `{command}` (exit code {code}): {line}{}", .help.as_ref().map(|help| format!("; {help}")).unwrap_or_default())]
    #[diagnostic(code(bakeoff::toolbox::runner_failed))]
    RunnerFailed { runner: String, command: String, code: i32, line: String, help: Option<String> },
    #[error("`{command}` was interrupted")]
    #[diagnostic(code(bakeoff::toolbox::interrupted))]
    Interrupted { command: String },
    /// podman answered, but not in a form bakeoff can read.
    #[error("podman describes {what}")]
    #[diagnostic(code(bakeoff::toolbox::unreadable))]
    Unreadable { what: String },
    #[error("image `{image}` is not in podman's storage here: {help}")]
    #[diagnostic(code(bakeoff::toolbox::no_image))]
    NoImage { image: String, help: String },
    #[error(
        "image `{image}` is not in podman's storage here, and a `localhost/` image cannot be pulled: build it on this \
         machine under that name"
    )]
    #[diagnostic(code(bakeoff::toolbox::local_image_missing))]
    LocalImageMissing { image: String },
    #[error("{runner} container `{name}` does not exist: `bakeoff toolbox create {name}` creates it{from}")]
    #[diagnostic(code(bakeoff::toolbox::no_container))]
    NoContainer { runner: String, name: String, from: String },
    #[error("the image container `{name}` was created from ({image}) is gone from podman's storage")]
    #[diagnostic(code(bakeoff::toolbox::image_gone))]
    ImageGone { name: String, image: String },
    #[error("toolbox `{name}` names no `image` to create its container from")]
    #[diagnostic(code(bakeoff::toolbox::no_image_declared))]
    NoImageDeclared { name: String },
}

impl From<LaunchError> for ToolboxError {
    fn from(error: LaunchError) -> Self {
        Self::Launch(error)
    }
}
