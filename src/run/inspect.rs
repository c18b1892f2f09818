//! Toolbox inspection: the llama.cpp build inside a toolbox and its container image digest.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::launch::{Mounts, launch};
use crate::fingerprint::ToolboxState;
use crate::manifest::{Runner, Toolbox};

const INSPECT_TIMEOUT: Duration = Duration::from_secs(120);

/// What can be learnt about `toolbox` on this machine; fields stay `None` where a tool is
/// missing or does not answer (a toolbox that cannot run here is then blocked or fails).
pub fn inspect(toolbox: &Toolbox) -> ToolboxState {
    let llama_cpp = launch(toolbox, &["llama-bench".to_owned(), "--version".to_owned()], &Mounts::default())
        .ok()
        .and_then(|launch| {
            let mut command = Command::new(&launch.program);
            command.args(&launch.args).envs(launch.env.iter().map(|(key, value)| (key, value)));
            output_within(command, INSPECT_TIMEOUT)
        })
        .and_then(|text| parse_version(&text));
    let digest = match (toolbox.runner, &toolbox.image) {
        (Runner::Host, _) | (_, None) => None,
        (_, Some(image)) => which::which("podman").ok().and_then(|podman| {
            let mut command = Command::new(podman);
            command.args(["image", "inspect", "--format", "{{.Digest}}", &image.value]);
            output_within(command, INSPECT_TIMEOUT)
                .map(|text| text.trim().to_owned())
                .filter(|digest| digest.starts_with("sha256:"))
        }),
    };
    ToolboxState { digest, llama_cpp }
}

/// Inspects every toolbox concurrently (each waits on its own container), by name.
pub fn inspect_all(toolboxes: &[&Toolbox]) -> Vec<(String, ToolboxState)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = toolboxes
            .iter()
            .map(|toolbox| scope.spawn(move || (toolbox.name.value.clone(), inspect(toolbox))))
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("an inspection thread panicked")).collect()
    })
}

/// `version: 7000 (abc1234)` (llama.cpp prints it on stderr) → `7000 (abc1234)`.
fn parse_version(text: &str) -> Option<String> {
    text.lines().find_map(|line| line.trim().strip_prefix("version:").map(|version| version.trim().to_owned()))
}

/// stdout and stderr of a command that exits 0 within `timeout`; it is killed otherwise.
fn output_within(mut command: Command, timeout: Duration) -> Option<String> {
    let path =
        std::env::temp_dir().join(format!("inspect-{}-{:?}.out", std::process::id(), std::thread::current().id()));
    let file = std::fs::File::create(&path).ok()?;
    command.stdin(Stdio::null()).stdout(file.try_clone().ok()?).stderr(file);
    let mut child = command.spawn().ok()?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < timeout => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let text = std::fs::read_to_string(&path).ok();
    let _ = std::fs::remove_file(&path);
    status.filter(std::process::ExitStatus::success).and(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_llama_cpp_version_lines() {
        let text = "version: 0.6.0-dev (build 0, commit unknown)\nbuilt with GNU 12.2.0 for Linux x86_64\n";
        assert_eq!(super::parse_version(text).as_deref(), Some("0.6.0-dev (build 0, commit unknown)"));
        assert_eq!(super::parse_version("usage: llama-bench"), None);
    }
}
