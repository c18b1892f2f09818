//! Turning a cell's argv into the command that runs it inside its toolbox.

use std::path::{Path, PathBuf};

use crate::manifest::{Runner, Toolbox};

/// A program with its arguments and environment, ready to spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set on the spawned process (host runner) or passed into the container.
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// The command line as a person would type it, for logs and messages.
    pub fn display(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .map(|word| if word.contains([' ', '"', '\'']) { format!("{word:?}") } else { word })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum LaunchError {
    #[error("`{program}` not found for toolbox `{toolbox}`")]
    #[diagnostic(code(bakeoff::run::program_not_found))]
    ProgramNotFound {
        program: String,
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
    pub fn reason(&self) -> String {
        match self {
            Self::ProgramNotFound { help, .. } => format!("{self}: {help}"),
            Self::Empty => self.to_string(),
        }
    }
}

/// Where the paths a container needs come from: model roots and declared files, mounted read-only.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    pub paths: Vec<PathBuf>,
}

/// The command that runs `argv` in `toolbox`. Container runners are found with `which`;
/// on the host the program is looked up in the toolbox's `bin-dir`, then on `PATH`.
pub fn launch(toolbox: &Toolbox, argv: &[String], mounts: &Mounts) -> Result<Launch, LaunchError> {
    let (program, rest) = argv.split_first().ok_or(LaunchError::Empty)?;
    let env: Vec<(String, String)> = toolbox.env.iter().map(|(key, value)| (key.clone(), value.clone())).collect();
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
            Ok(Launch { program: resolved, args: rest.to_vec(), env })
        }
        Runner::Toolbox | Runner::Distrobox => {
            let tool = if toolbox.runner == Runner::Toolbox { "toolbox" } else { "distrobox" };
            let resolved = container_tool(tool, name)?;
            let mut args: Vec<String> = if toolbox.runner == Runner::Toolbox {
                vec!["run".to_owned(), "-c".to_owned(), name.to_owned(), "--".to_owned()]
            } else {
                vec!["enter".to_owned(), name.to_owned(), "--".to_owned()]
            };
            // The toolbox CLI passes no environment of its own into the container; `env` does.
            if !env.is_empty() {
                args.push("env".to_owned());
                args.extend(env.iter().map(|(key, value)| format!("{key}={value}")));
            }
            args.push(bin_dir_program(toolbox, program));
            args.extend(rest.iter().cloned());
            Ok(Launch { program: resolved, args, env: Vec::new() })
        }
        Runner::Podman => {
            let resolved = container_tool("podman", name)?;
            let mut args = vec!["run".to_owned(), "--rm".to_owned(), "--network=host".to_owned(), "--init".to_owned()];
            for requirement in &toolbox.requires {
                if let crate::host::Condition::Pattern(pattern) = &requirement.value.condition
                    && requirement.value.fact == crate::host::Fact::Device
                {
                    for device in expand_device(pattern) {
                        args.extend(["--device".to_owned(), device]);
                    }
                }
            }
            for path in &mounts.paths {
                let path = path.display();
                args.extend(["-v".to_owned(), format!("{path}:{path}:ro")]);
            }
            for (key, value) in &env {
                args.extend(["-e".to_owned(), format!("{key}={value}")]);
            }
            args.push(toolbox.image.as_ref().map(|image| image.value.clone()).unwrap_or_default());
            args.push(bin_dir_program(toolbox, program));
            args.extend(rest.iter().cloned());
            Ok(Launch { program: resolved, args, env: Vec::new() })
        }
    }
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

fn container_tool(tool: &str, toolbox: &str) -> Result<PathBuf, LaunchError> {
    which::which(tool).map_err(|_| LaunchError::ProgramNotFound {
        program: tool.to_owned(),
        toolbox: toolbox.to_owned(),
        help: match tool {
            "toolbox" => {
                "install toolbox (Fedora: `dnf install toolbox`) and create the container with `toolbox create`"
                    .to_owned()
            }
            "distrobox" => {
                "install distrobox (https://distrobox.it) and create the container with `distrobox create`".to_owned()
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
