//! Realising toolboxes from the manifest, as Nix realises a derivation: `create` makes what is
//! missing (a toolbox or distrobox container, a podman image), `refresh` pulls the tag and
//! recreates a container whose image the tag no longer points at. Both are idempotent.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ToolboxError;
use super::inspect::{Depth, Inspection, inspect};
use super::launch::{container_tool, device_args};
use super::podman;
use crate::digest::short_id;
use crate::manifest::{Runner, Toolbox};
use crate::process::{Exit, Launch, capture};

/// Creating a container and its first start (distrobox installs its integration then, which
/// takes about a minute).
const CREATE_TIMEOUT: Duration = Duration::from_secs(900);

/// What `create` or `refresh` did to one toolbox, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Realised {
    pub toolbox: String,
    pub lines: Vec<String>,
}

/// Creates what `toolbox` needs and is missing.
pub(crate) async fn create(toolbox: &Toolbox) -> Result<Realised, ToolboxError> {
    let mut realised = Realised { toolbox: toolbox.name.value.clone(), lines: Vec::new() };
    if toolbox.runner == Runner::Host {
        realised.lines.push("runs on this machine: nothing to create".to_owned());
        return Ok(realised);
    }
    let inspection = inspect(toolbox, Depth::Containers, None, &BTreeSet::new(), None).await;
    if inspection.realised() {
        let what = match &inspection.container {
            Some(container) => format!("container exists (image {})", short_id(&container.image_id)),
            None => format!("image is here ({})", short_id(inspection.running.as_ref().map_or("", |image| &image.id))),
        };
        realised.lines.push(what);
        realised.lines.extend(inspection.note.clone());
        return Ok(realised);
    }
    let (tool, podman) = tools(toolbox)?;
    let image = ensure_image(toolbox, &podman, &inspection, &mut realised).await?;
    if toolbox.runner != Runner::Podman {
        create_container(toolbox, &tool, &image, &mut realised).await?;
    }
    Ok(realised)
}

/// Pulls the tag (unless `pull` is false or the image was built here) and recreates a
/// toolbox or distrobox container created from another image.
pub(crate) async fn refresh(toolbox: &Toolbox, pull: bool) -> Result<Realised, ToolboxError> {
    let mut realised = Realised { toolbox: toolbox.name.value.clone(), lines: Vec::new() };
    if toolbox.runner == Runner::Host {
        realised.lines.push("runs on this machine: nothing to refresh".to_owned());
        return Ok(realised);
    }
    let (tool, podman) = tools(toolbox)?;
    let image = declared_image(toolbox)?;
    if !pull {
        realised.lines.push(format!("not pulled: `{image}` (--no-pull)"));
    } else if podman::is_local(&image) {
        realised.lines.push(format!("not pulled: `{image}` was built on this machine"));
    } else {
        podman::pull(&podman, &image).await?;
        realised.lines.push(format!("pulled `{image}`"));
    }
    let inspection = inspect(toolbox, Depth::Containers, None, &BTreeSet::new(), None).await;
    let Some(tag) = inspection.tag.clone() else {
        return Err(ToolboxError::NoImage { image, help: "pull or build it".to_owned() });
    };
    if toolbox.runner == Runner::Podman {
        realised.lines.push(format!("runs image {}", short_id(&tag.id)));
        return Ok(realised);
    }
    match &inspection.container {
        Some(container) if container.image_id == tag.id => {
            realised.lines.push(format!("container is up to date (image {})", short_id(&tag.id)));
            return Ok(realised);
        }
        Some(container) => {
            crate::process::remove_container(&podman, &container.name, Duration::from_secs(10)).await;
            realised.lines.push(format!(
                "removed container `{}` (image {})",
                container.name,
                short_id(&container.image_id)
            ));
        }
        None => {}
    }
    create_container(toolbox, &tool, &image, &mut realised).await?;
    Ok(realised)
}

fn tools(toolbox: &Toolbox) -> Result<(PathBuf, PathBuf), ToolboxError> {
    let name = toolbox.name.value.as_str();
    Ok((container_tool(toolbox.runner.name(), name)?, container_tool("podman", name)?))
}

fn declared_image(toolbox: &Toolbox) -> Result<String, ToolboxError> {
    toolbox
        .image
        .as_ref()
        .map(|image| image.value.clone())
        .ok_or_else(|| ToolboxError::NoImageDeclared { name: toolbox.name.value.clone() })
}

/// The image's tag, pulled when it is missing and can be pulled.
async fn ensure_image(
    toolbox: &Toolbox,
    podman: &Path,
    inspection: &Inspection,
    realised: &mut Realised,
) -> Result<String, ToolboxError> {
    let image = declared_image(toolbox)?;
    if let Some(tag) = &inspection.tag {
        realised.lines.push(format!("image `{image}` is here ({})", short_id(&tag.id)));
        return Ok(image);
    }
    if podman::is_local(&image) {
        return Err(ToolboxError::LocalImageMissing { image });
    }
    podman::pull(podman, &image).await?;
    realised.lines.push(format!("pulled `{image}`"));
    Ok(image)
}

/// `toolbox create` or `distrobox create`, then a first start, which sets the container up.
async fn create_container(
    toolbox: &Toolbox,
    tool: &Path,
    image: &str,
    realised: &mut Realised,
) -> Result<(), ToolboxError> {
    let name = toolbox.name.value.as_str();
    let (create, first_start): (Vec<String>, Vec<String>) = if toolbox.runner == Runner::Toolbox {
        (
            vec!["create".to_owned(), "--image".to_owned(), image.to_owned(), name.to_owned()],
            vec!["run".to_owned(), "-c".to_owned(), name.to_owned(), "--".to_owned(), "true".to_owned()],
        )
    } else {
        let mut create = ["create", "--yes", "--name", name, "--image", image].map(str::to_owned).to_vec();
        let flags: Vec<String> =
            device_args(toolbox).into_iter().chain(toolbox.container_args.iter().cloned()).collect();
        if !flags.is_empty() {
            create.extend(["--additional-flags".to_owned(), crate::shell::words(&flags)]);
        }
        (create, vec!["enter".to_owned(), name.to_owned(), "--".to_owned(), "true".to_owned()])
    };
    for args in [create, first_start] {
        let mut launch = Launch::plain(tool, args);
        // `toolbox create` records the user's shell from `SHELL` and refuses to work without
        // it, which cron, systemd units and CI runners do not set.
        if std::env::var_os("SHELL").is_none_or(|shell| shell.is_empty()) {
            launch.env.push(("SHELL".to_owned(), login_shell()));
        }
        let command = launch.display();
        let result = capture(&launch, CREATE_TIMEOUT)
            .await
            .map_err(|error| ToolboxError::CannotRun { command: command.clone(), reason: error.to_string() })?;
        if result.exit != Exit::Code(0) {
            let line = podman::last_line(&String::from_utf8_lossy(&result.combined));
            return Err(ToolboxError::Failed { command, how: result.exit.to_string(), line });
        }
        realised.lines.push(format!("ran `{command}`"));
    }
    Ok(())
}

/// The current user's login shell from the user database, `/bin/sh` when it has none.
fn login_shell() -> String {
    let mut entry = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; the buffer outlives the read of `pw_shell`,
    // which points into it, and the entry is only read when `found` says it was filled.
    let shell = unsafe {
        let status =
            libc::getpwuid_r(libc::getuid(), entry.as_mut_ptr(), buffer.as_mut_ptr(), buffer.len(), &raw mut found);
        if status != 0 || found.is_null() || (*found).pw_shell.is_null() {
            None
        } else {
            Some(std::ffi::CStr::from_ptr((*found).pw_shell).to_string_lossy().into_owned())
        }
    };
    shell.filter(|shell| !shell.is_empty()).unwrap_or_else(|| "/bin/sh".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_shell_is_the_user_databases() {
        let line = std::fs::read_to_string("/etc/passwd").unwrap();
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() }.to_string();
        let expected = line
            .lines()
            .map(|entry| entry.split(':').collect::<Vec<_>>())
            .find(|fields| fields.get(2) == Some(&uid.as_str()))
            .map(|fields| fields[6].to_owned())
            .expect("this user in /etc/passwd");
        assert_eq!(login_shell(), expected);
    }
}
