//! Stopping and removing a podman container, as a supervised child of its own.

use std::path::Path;
use std::time::Duration;

use super::command::Launch;
use super::exit::Exit;
use super::supervisor::{ChildResult, capture};

/// Removes the podman container `name`, stopping it first (SIGTERM, `grace`, SIGKILL): `true`
/// when there was one. The supervisor owns it because stopping a detached container is how it
/// ends a podman cell; podman's other questions build on the supervisor, not the reverse.
pub(crate) async fn remove_container(podman: &Path, name: &str, grace: Duration) -> bool {
    let seconds = grace.as_secs().to_string();
    let args = ["rm", "--force", "--time", &seconds, name].map(str::to_owned).to_vec();
    let removal = Launch::plain(podman, args);
    // podman waits up to `grace` for the container to stop, then kills it.
    matches!(capture(&removal, grace + Duration::from_secs(60)).await, Ok(ChildResult { exit: Exit::Code(0), .. }))
}
