//! Turning a cell's argv into the command that runs it inside its toolbox.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::manifest::{Runner, Toolbox};
use crate::process::{Detached, Launch, PID_ANNOUNCEMENT};

/// The prefix of every container bakeoff names, so that people can find them (`podman ps`).
pub(crate) const CONTAINER_PREFIX: &str = "bakeoff-";

/// What a launch needs beyond the toolbox and the argv.
#[derive(Debug, Clone, Default)]
pub(crate) struct LaunchContext {
    /// Model roots and the project, mounted read-only into podman containers.
    pub mounts: Vec<PathBuf>,
    /// Folders a cell writes into (the store's quality bases), mounted read-write.
    pub writable: Vec<PathBuf>,
    /// Per toolbox, the image id its inspection found: the podman runner runs that image, so
    /// that a tag moved during a run changes nothing.
    pub images: BTreeMap<String, String>,
    /// Per toolbox, the driver stack its inspection read (`Mesa 25.0.7 …, radv`): recorded with
    /// what each cell ran on.
    pub drivers: BTreeMap<String, String>,
    /// What a storage root gives every child (`TMPDIR=/mnt/raid0/tmp`, …): a host child
    /// inherits it from bakeoff; a container is given it, the root mounted read-write, unless
    /// the toolbox's `env` sets the variable.
    pub storage_env: Vec<(String, String)>,
}

impl LaunchContext {
    /// The storage root's variables the toolbox's own `env` does not set.
    fn storage_env_for<'a>(&'a self, toolbox: &'a Toolbox) -> impl Iterator<Item = &'a (String, String)> {
        self.storage_env.iter().filter(|(key, _)| !toolbox.env.contains_key(key))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub(crate) enum LaunchError {
    #[error("`{program}` not found for toolbox `{toolbox}`")]
    #[diagnostic(code(bakeoff::run::program_not_found))]
    ProgramNotFound {
        program: String,
        toolbox: String,
        #[help]
        help: String,
    },
    #[error("distrobox cannot pass the argument `{argument}` into toolbox `{toolbox}` intact")]
    #[diagnostic(code(bakeoff::run::unpassable_argument))]
    Unpassable {
        argument: String,
        toolbox: String,
        #[help]
        help: String,
    },
    #[error("the cell has an empty command line")]
    #[diagnostic(code(bakeoff::run::empty_argv), help("give `command {{ args \"program\" … }}` a program"))]
    Empty,
}

impl LaunchError {
    /// The message with its advice, as a cell's failure reason.
    pub(crate) fn reason(&self) -> String {
        match self {
            Self::ProgramNotFound { help, .. } | Self::Unpassable { help, .. } => format!("{self}: {help}"),
            Self::Empty => self.to_string(),
        }
    }
}

/// The command that runs `argv` in `toolbox`. Container runners are found with `which`;
/// on the host the program is looked up in the toolbox's `bin-dir`, then on `PATH`. `name`
/// names what runs (a cell's hash prefix): a podman container is called `bakeoff-NAME`.
pub(crate) fn launch(
    toolbox: &Toolbox,
    argv: &[String],
    context: &LaunchContext,
    name: &str,
) -> Result<Launch, LaunchError> {
    let (program, rest) = argv.split_first().ok_or(LaunchError::Empty)?;
    let env: Vec<(String, String)> = toolbox.env.iter().map(|(key, value)| (key.clone(), value.clone())).collect();
    let container_name = format!("{CONTAINER_PREFIX}{name}");
    let name = toolbox.name.value.as_str();
    match toolbox.runner {
        Runner::Host => {
            let resolved = find_program(program, toolbox.bin_dir.as_deref().map(Path::new)).ok_or_else(|| {
                LaunchError::ProgramNotFound {
                    program: program.clone(),
                    toolbox: name.to_owned(),
                    help: match &toolbox.bin_dir {
                        Some(directory) => format!("it is neither in bin-dir `{directory}` nor on PATH"),
                        None => format!(
                            "put llama.cpp's binaries on PATH, or add `bin-dir \"/path/to/llama.cpp/bin\"` to toolbox `{name}`"
                        ),
                    },
                }
            })?;
            Ok(Launch { program: resolved, args: rest.to_vec(), env, detached: Detached::No, inner: 0, dir: None })
        }
        Runner::Toolbox | Runner::Distrobox => {
            let tool = if toolbox.runner == Runner::Toolbox { "toolbox" } else { "distrobox" };
            let resolved = container_tool(tool, name)?;
            let mut args: Vec<String> = if toolbox.runner == Runner::Toolbox {
                vec!["run".to_owned(), "-c".to_owned(), name.to_owned(), "--".to_owned()]
            } else {
                vec!["enter".to_owned(), name.to_owned(), "--".to_owned()]
            };
            // Killing the toolbox client leaves the command running in the container, so the
            // command says its pid (a host pid: these containers share the pid namespace)
            // and then becomes the program.
            let script = if toolbox.runner == Runner::Toolbox {
                format!("echo \"{PID_ANNOUNCEMENT}$$\" >&2; exec \"$@\"")
            } else {
                // distrobox 1.4 passes an argument on intact only when it has no quotes (it
                // single-quotes it); this says `"$@"` without them: no splitting, no globbing.
                check_distrobox_arguments(name, argv)?;
                format!("echo {PID_ANNOUNCEMENT}$$ >&2; IFS=; set -f; exec $@")
            };
            args.extend(["/bin/sh".to_owned(), "-c".to_owned(), script, "bakeoff".to_owned()]);
            let inner = args.len();
            // The toolbox CLI passes no environment of its own into the container; `env` does.
            let shared: Vec<PathBuf> = context.mounts.iter().chain(&context.writable).cloned().collect();
            let storage: Vec<String> = context
                .storage_env_for(toolbox)
                .map(|(key, value)| host_path_inside(&format!("{key}={value}"), &shared))
                .collect();
            if !env.is_empty() || !storage.is_empty() {
                args.push("env".to_owned());
                args.extend(storage);
                args.extend(env.iter().map(|(key, value)| format!("{key}={value}")));
            }
            args.push(bin_dir_program(toolbox, program));
            args.extend(rest.iter().map(|arg| host_path_inside(arg, &shared)));
            Ok(Launch { program: resolved, args, env: Vec::new(), detached: Detached::AnnouncedPid, inner, dir: None })
        }
        Runner::Podman => {
            let resolved = container_tool("podman", name)?;
            let mut launched = podman_run(toolbox, argv, context, container_name);
            launched.program = resolved;
            Ok(launched)
        }
    }
}

/// `podman run` of `argv` in `toolbox` (the program left for the caller to find). Named, so
/// that a container a killed run left can be found and removed; the inspected image by id and
/// never pulled, so that a run measures what was planned.
fn podman_run(toolbox: &Toolbox, argv: &[String], context: &LaunchContext, container_name: String) -> Launch {
    let mut args: Vec<String> =
        ["run", "--rm", "--replace", "--name", &container_name, "--pull=never", "--network=host", "--init"]
            .map(str::to_owned)
            .into();
    args.extend(device_args(toolbox));
    args.extend(toolbox.container_args.iter().cloned());
    for path in &context.mounts {
        let path = path.display();
        args.extend(["-v".to_owned(), format!("{path}:{path}:ro")]);
    }
    // After the read-only mounts: a writable folder inside the project is mounted over them.
    for path in &context.writable {
        let path = path.display();
        args.extend(["-v".to_owned(), format!("{path}:{path}:rw")]);
    }
    for (key, value) in context.storage_env_for(toolbox).map(|(key, value)| (key, value)).chain(&toolbox.env) {
        args.extend(["-e".to_owned(), format!("{key}={value}")]);
    }
    let image = context
        .images
        .get(&toolbox.name.value)
        .cloned()
        .or_else(|| toolbox.image.as_ref().map(|image| image.value.clone()))
        .unwrap_or_default();
    args.push(image);
    let inner = args.len();
    if let Some((program, rest)) = argv.split_first() {
        args.push(bin_dir_program(toolbox, program));
        args.extend(rest.iter().cloned());
    }
    Launch {
        program: PathBuf::from("podman"),
        args,
        env: Vec::new(),
        detached: Detached::Container(container_name),
        inner,
        dir: None,
    }
}

/// distrobox 1.4's `enter` evaluates its command line: an argument with a quote is escaped
/// only for quotes, spaces, `$` and backslashes, so any other shell character in it runs as
/// shell code; an empty argument disappears on the way.
fn check_distrobox_arguments(toolbox: &str, argv: &[String]) -> Result<(), LaunchError> {
    let unsafe_characters = ";&|<>()*?[]#~`\t\n";
    for argument in argv {
        let quoted = argument.contains(['\'', '"']);
        if argument.is_empty() || (quoted && argument.contains(|character| unsafe_characters.contains(character))) {
            return Err(LaunchError::Unpassable {
                argument: argument.clone(),
                toolbox: toolbox.to_owned(),
                help: "distrobox enter re-reads an argument holding a quote together with `;&|<>()*?[]#~` or a \
                       backquote as shell code, and drops an empty one; use the toolbox or podman runner for it"
                    .to_owned(),
            });
        }
    }
    Ok(())
}

/// Where a toolbox or distrobox container sees the host's file system: both mount the host's
/// root there, while only some host folders (the home directory, /tmp) appear at their own place.
const HOST_ROOT_INSIDE: &str = "/run/host";

/// `arg` with a host path under one of `mounts` (model roots, the project), alone or after
/// `=`, turned into the same file as the container sees it: `/run/host` and the path with its
/// symlinks resolved (a link's absolute target means nothing inside the container).
fn host_path_inside(arg: &str, mounts: &[PathBuf]) -> String {
    let (head, path) = match arg.split_once('=') {
        Some((head, path)) if !arg.starts_with('/') => (format!("{head}="), path),
        _ => (String::new(), arg),
    };
    let under_a_mount = mounts.iter().any(|mount| Path::new(path).starts_with(mount));
    if !path.starts_with('/') || !under_a_mount {
        return arg.to_owned();
    }
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
    format!("{head}{HOST_ROOT_INSIDE}{}", real.display())
}

/// `--device NODE` for each device the toolbox requires (globs expanded on this host).
pub(crate) fn device_args(toolbox: &Toolbox) -> Vec<String> {
    let mut args = Vec::new();
    for requirement in &toolbox.requires {
        if let crate::host::Condition::Pattern(pattern) = &requirement.value.condition
            && requirement.value.fact == crate::host::Fact::Device
        {
            for device in expand_device(pattern) {
                args.extend(["--device".to_owned(), device]);
            }
        }
    }
    args
}

fn bin_dir_program(toolbox: &Toolbox, program: &str) -> String {
    match &toolbox.bin_dir {
        Some(directory) if !program.contains('/') => Path::new(directory).join(program).display().to_string(),
        _ => program.to_owned(),
    }
}

fn find_program(program: &str, bin_dir: Option<&Path>) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return path.is_file().then_some(path);
    }
    if let Some(directory) = bin_dir {
        let candidate = directory.join(program);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    which::which(program).ok()
}

pub(crate) fn container_tool(tool: &str, toolbox: &str) -> Result<PathBuf, LaunchError> {
    which::which(tool).map_err(|_| LaunchError::ProgramNotFound {
        program: tool.to_owned(),
        toolbox: toolbox.to_owned(),
        help: match tool {
            "toolbox" => "install toolbox (Fedora: `dnf install toolbox`, Debian: `apt install podman-toolbox`); then \
                 `bakeoff toolbox create` creates its container"
                .to_owned(),
            "distrobox" => {
                "install distrobox (https://distrobox.it); then `bakeoff toolbox create` creates its container"
                    .to_owned()
            }
            _ => "install podman (Fedora: `dnf install podman`, Debian: `apt install podman`)".to_owned(),
        },
    })
}

/// Device globs such as `/dev/dri/renderD*` → the matching device nodes on this host.
fn expand_device(pattern: &str) -> Vec<String> {
    if !crate::glob::is_glob(pattern) {
        return vec![pattern.to_owned()];
    }
    let directory = Path::new(pattern).parent().unwrap_or(Path::new("/dev"));
    let Ok(entries) = std::fs::read_dir(directory) else { return Vec::new() };
    let mut devices: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path().display().to_string())
        .filter(|path| crate::glob::glob_match(pattern, path))
        .collect();
    devices.sort();
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toolbox(runner: &str, extra: &str) -> Toolbox {
        let text =
            format!("toolbox \"box\" {{\n    runner \"{runner}\"\n    image \"localhost/llama:cpu\"\n{extra}\n}}\n");
        let directory = tempfile::tempdir().unwrap();
        let manifests = crate::manifest::load_text(directory.path(), &directory.path().join("t.kdl"), &text).unwrap();
        manifests.toolboxes["box"].clone()
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    /// Podman runs the inspected image by id, never pulls, is named after the cell, and gets the
    /// required devices (globs expanded here) and the container arguments before the mounts.
    #[test]
    fn podman_runs_the_inspected_image_named_with_devices_and_arguments() {
        let boxed = toolbox(
            "podman",
            "    container-args \"--group-add\" \"video\"\n    requires {\n        device \"/dev/nul*\"\n    }",
        );
        let mut context = LaunchContext { mounts: vec![PathBuf::from("/models")], ..LaunchContext::default() };
        context.images.insert("box".to_owned(), "sha256:0123".to_owned());
        let launched =
            podman_run(&boxed, &argv(&["llama-bench", "-m", "/models/m.gguf"]), &context, "bakeoff-abc".to_owned());
        assert_eq!(
            launched.args,
            argv(&[
                "run",
                "--rm",
                "--replace",
                "--name",
                "bakeoff-abc",
                "--pull=never",
                "--network=host",
                "--init",
                "--device",
                "/dev/null",
                "--group-add",
                "video",
                "-v",
                "/models:/models:ro",
                "sha256:0123",
                "llama-bench",
                "-m",
                "/models/m.gguf",
            ])
        );
        assert_eq!(launched.detached, Detached::Container("bakeoff-abc".to_owned()));
        assert_eq!(launched.command(), "llama-bench -m /models/m.gguf");
    }

    #[test]
    fn host_paths_are_passed_as_a_toolbox_container_sees_them() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path().canonicalize().unwrap();
        std::fs::write(root.join("m.gguf"), "model").unwrap();
        std::os::unix::fs::symlink(root.join("m.gguf"), root.join("link.gguf")).unwrap();
        let mounts = [root.clone()];
        let inside = |arg: &str| host_path_inside(arg, &mounts);
        let model = root.join("m.gguf").display().to_string();
        assert_eq!(inside(&model), format!("/run/host{model}"));
        // A symlink's absolute target means nothing inside the container: resolved first.
        assert_eq!(inside(&root.join("link.gguf").display().to_string()), format!("/run/host{model}"));
        assert_eq!(inside(&format!("--model={model}")), format!("--model=/run/host{model}"));
        assert_eq!(inside("/etc/hosts"), "/etc/hosts", "not under a mount: left alone");
        assert_eq!(inside("-ngl"), "-ngl");
    }

    /// A storage root's variables reach a podman container by `-e`, the root mounted read-write;
    /// a variable the toolbox's `env` sets is the toolbox's.
    #[test]
    fn a_container_gets_the_storage_roots_variables_unless_its_env_sets_them() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path().canonicalize().unwrap();
        let tmp = format!("TMPDIR={}/tmp", root.display());
        let context = LaunchContext {
            writable: vec![root.clone()],
            storage_env: vec![
                ("TMPDIR".to_owned(), format!("{}/tmp", root.display())),
                ("HF_HOME".to_owned(), format!("{}/huggingface", root.display())),
            ],
            ..LaunchContext::default()
        };
        let boxed = toolbox("podman", "    env HF_HOME=\"/models/hf\"");
        let launched = podman_run(&boxed, &argv(&["llama-bench"]), &context, "bakeoff-abc".to_owned());
        let at = |flag: &str, value: &str| launched.args.windows(2).any(|pair| pair[0] == flag && pair[1] == value);
        assert!(at("-e", &tmp), "{:?}", launched.args);
        assert!(at("-e", "HF_HOME=/models/hf"), "{:?}", launched.args);
        assert!(!launched.args.iter().any(|arg| arg.contains("/huggingface")), "{:?}", launched.args);
        assert!(at("-v", &format!("{0}:{0}:rw", root.display())), "{:?}", launched.args);
    }

    #[test]
    fn distrobox_refuses_arguments_it_would_run_as_shell_code() {
        assert!(check_distrobox_arguments("box", &argv(&["llama-bench", "-p", "a b", "$HOME", "x;y"])).is_ok());
        for bad in ["say \"hi\"; rm -rf x", "", "it's (here)"] {
            let error = check_distrobox_arguments("box", &argv(&["echo", bad])).unwrap_err();
            assert!(matches!(&error, LaunchError::Unpassable { argument, .. } if argument == bad), "{error}");
        }
    }
}
