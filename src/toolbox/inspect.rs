//! Toolbox inspection: what actually runs in a toolbox on this machine (the image a container
//! was created from, by id and digest; the llama.cpp build inside), and why it cannot run
//! when it cannot.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use std::collections::BTreeSet;

use super::cache::{Found, InspectionCache};
use super::error::ToolboxError;
use super::launch::{LaunchContext, LaunchError, container_tool, device_args, launch};
use super::podman::{self, Image};
use crate::fingerprint::ToolboxState;
use crate::manifest::{Backend, Runner, Toolbox};
use crate::process::{Exit, capture};
use crate::tool_options::ToolOptions;

const VERSION_TIMEOUT: Duration = Duration::from_secs(120);

/// How far to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Containers and images only (fast: podman queries).
    Containers,
    /// Also run `llama-bench --version` in the toolbox.
    Full,
}

/// Everything known about one toolbox here.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inspection {
    pub name: String,
    pub runner: String,
    /// The image the manifest names.
    pub image: Option<String>,
    /// What that tag points at now.
    pub tag: Option<ImageView>,
    /// The toolbox or distrobox container.
    pub container: Option<ContainerView>,
    /// The image that runs: the container's own image, or the tag's for podman.
    pub running: Option<ImageView>,
    pub llama_cpp: Option<String>,
    /// The llama.cpp programs the toolbox lacks, with why: its cells that run them are blocked.
    pub missing: std::collections::BTreeMap<String, String>,
    /// `--device` arguments the toolbox's requirements give a podman or distrobox container.
    pub devices: Vec<String>,
    /// Why it cannot run here.
    pub problem: Option<String>,
    /// What to know that does not stop it.
    pub note: Option<String>,
    /// The driver stack of a GPU toolbox (`Mesa 25.0.7 (LLVM 19.1.7), llvmpipe`, `ROCm 6.4.4`),
    /// where it could be read.
    pub driver: Option<String>,
    /// What each llama.cpp program's `--help` lists (not shown: long).
    #[serde(skip)]
    pub options: std::collections::BTreeMap<String, ToolOptions>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageView {
    pub id: String,
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerView {
    pub name: String,
    /// The container's own id (made anew, the same name has another).
    pub id: String,
    pub image_id: String,
    pub image_name: String,
    pub created: String,
}

impl From<Image> for ImageView {
    fn from(image: Image) -> Self {
        Self { id: image.id, digest: image.digest }
    }
}

impl Inspection {
    /// What enters fingerprints and launches.
    pub fn state(&self) -> ToolboxState {
        ToolboxState {
            digest: self.running.as_ref().map(|image| image.digest.clone().unwrap_or_else(|| image.id.clone())),
            llama_cpp: self.llama_cpp.clone(),
            image_id: (self.runner == Runner::Podman.name())
                .then(|| self.running.as_ref().map(|image| image.id.clone()))
                .flatten(),
            problem: self.problem.clone(),
            note: self.note.clone(),
            missing: self.missing.clone(),
            driver: self.driver.clone(),
            options: self.options.clone(),
        }
    }

    /// Whether the toolbox's container (or, for podman, its image) is there.
    pub fn realised(&self) -> bool {
        match self.runner.as_str() {
            "host" => true,
            "podman" => self.running.is_some(),
            _ => self.container.is_some(),
        }
    }
}

/// Inspects `toolbox`; every failure is a `problem` with its reason, never a silent gap. What
/// is inside it (its llama.cpp build, missing programs, driver) comes from `cache` when the
/// container, image or programs are the ones inspected before.
pub(crate) async fn inspect(
    toolbox: &Toolbox,
    depth: Depth,
    cache: Option<&InspectionCache>,
    programs: &BTreeSet<String>,
    asked: Option<Inspection>,
) -> Inspection {
    // What podman said of its tag and container, when that was asked ahead.
    let mut inspection = match asked {
        Some(asked) => asked,
        None => containers_of(toolbox, &podman::ImageAnswers::default()).await,
    };
    if inspection.problem.is_some() {
        return inspection;
    }
    if depth == Depth::Full {
        let key = cache.map(|_| cache_key(toolbox, &inspection));
        let cached = cache.zip(key.as_ref()).and_then(|(cache, key)| cache.get(key));
        let mut no_options = BTreeSet::new();
        if let Some(found) = cached {
            inspection.llama_cpp = found.llama_cpp;
            inspection.missing = found.missing;
            inspection.driver = found.driver;
            inspection.options = found.options;
            no_options = found.no_options;
        } else {
            match llama_cpp_build(toolbox, &mut inspection).await {
                Ok(build) => inspection.llama_cpp = build,
                Err(problem) => inspection.problem = Some(problem.to_string()),
            }
            if inspection.problem.is_none() {
                inspection.driver = driver_stack(toolbox, &inspection).await;
            }
        }
        if inspection.problem.is_none() {
            // On the host a program found missing before may be installed since: looking costs
            // nothing, so the cache's word is not taken for it.
            if toolbox.runner == Runner::Host {
                let context = runs_here(toolbox, &inspection);
                inspection.missing.retain(|program, _| {
                    !programs.contains(program)
                        || launch(toolbox, std::slice::from_ref(program), &context, "look").is_err()
                });
            }
            // The options of the programs asked for that the cache does not hold yet.
            for program in ["llama-bench", "llama-server"].iter().copied().chain(programs.iter().map(String::as_str)) {
                if inspection.options.contains_key(program)
                    || inspection.missing.contains_key(program)
                    || no_options.contains(program)
                {
                    continue;
                }
                let asked = program_options(toolbox, program, &inspection).await;
                match asked {
                    Ok(Some(options)) => {
                        inspection.options.insert(program.to_owned(), options);
                    }
                    // A program a block needs (llama-perplexity for quality cells) that is not
                    // there blocks those cells with why; llama-bench and llama-server were
                    // asked for their versions above.
                    _ if programs.contains(program) => {
                        let reason = absent_program(toolbox, program, &inspection);
                        inspection.missing.insert(program.to_owned(), reason);
                    }
                    // It answered, with no option: not asked again for this container.
                    Ok(None) => {
                        no_options.insert(program.to_owned());
                    }
                    Err(()) => {}
                }
            }
            if let (Some(cache), Some(key)) = (cache, key) {
                let found = Found {
                    llama_cpp: inspection.llama_cpp.clone(),
                    missing: inspection.missing.clone(),
                    driver: inspection.driver.clone(),
                    options: inspection.options.clone(),
                    no_options,
                };
                cache.put(key, found);
            }
        }
    }
    inspection
}

/// `toolbox` as podman sees it, without running anything inside: its tag's image, its container
/// and the image that runs (nothing to ask for the host runner), or why it cannot run.
async fn containers_of(toolbox: &Toolbox, images: &podman::ImageAnswers) -> Inspection {
    let mut inspection = Inspection {
        name: toolbox.name.value.clone(),
        runner: toolbox.runner.name().to_owned(),
        image: toolbox.image.as_ref().map(|image| image.value.clone()),
        devices: if toolbox.runner == Runner::Host { Vec::new() } else { device_args(toolbox) },
        ..Inspection::default()
    };
    if toolbox.runner != Runner::Host
        && let Err(problem) = inspect_container(toolbox, &mut inspection, images).await
    {
        inspection.problem = Some(problem.to_string());
    }
    inspection
}

/// What podman says of toolboxes' tags and containers, asked ahead of their inspection (while
/// the host is probed: both wait on other processes), by toolbox name.
#[derive(Debug, Default)]
pub(crate) struct Asked {
    by_name: std::collections::BTreeMap<String, Inspection>,
}

impl Asked {
    /// Asks podman about every container toolbox of `toolboxes` at once.
    pub(crate) fn ask(toolboxes: &[&Toolbox]) -> Self {
        let images = podman::ImageAnswers::default();
        let by_name = std::thread::scope(|scope| {
            let handles: Vec<_> = toolboxes
                .iter()
                .filter(|toolbox| toolbox.runner != Runner::Host)
                .map(|toolbox| {
                    let images = &images;
                    scope.spawn(move || {
                        let runtime = crate::process::runtime().ok()?;
                        Some(runtime.block_on(containers_of(toolbox, images)))
                    })
                })
                .collect();
            handles.into_iter().filter_map(|handle| handle.join().ok().flatten()).collect::<Vec<_>>()
        });
        Self { by_name: by_name.into_iter().map(|inspection| (inspection.name.clone(), inspection)).collect() }
    }

    /// What was asked of `toolbox`, taken out.
    fn take(&mut self, toolbox: &str) -> Option<Inspection> {
        self.by_name.remove(toolbox)
    }
}

/// What determines what is inside `toolbox`: how it is declared, and what runs here (its
/// container and image, or its programs on the host).
fn cache_key(toolbox: &Toolbox, inspection: &Inspection) -> String {
    let declaration = serde_json::json!({
        "runner": toolbox.runner.name(),
        "image": toolbox.image.as_ref().map(|image| &image.value),
        "backend": toolbox.backend.as_ref().map(Backend::name),
        "bin_dir": toolbox.bin_dir,
        "env": toolbox.env,
        "container_args": toolbox.container_args,
        "devices": inspection.devices,
    });
    let runs: Vec<String> = match toolbox.runner {
        Runner::Host => ["llama-bench", "llama-server"]
            .iter()
            .map(|program| match launch(toolbox, &[(*program).to_owned()], &LaunchContext::default(), "key") {
                Ok(launched) => super::cache::program_stamp(&launched.program),
                // Not found: what would find it is where it is looked for.
                Err(_) => format!("{program} absent; PATH={}", std::env::var("PATH").unwrap_or_default()),
            })
            .collect(),
        Runner::Podman => inspection.running.iter().map(|image| image.id.clone()).collect(),
        Runner::Toolbox | Runner::Distrobox => inspection
            .container
            .iter()
            .flat_map(|container| [container.id.clone(), container.image_id.clone()])
            .collect(),
    };
    super::cache::key(&declaration, &runs)
}

/// What `program --help` in the toolbox lists: `Ok(None)` when it answered with no option (not
/// a tool of llama.cpp's, or one that cannot run here: its cells fail with its own words then),
/// `Err` when it could not be asked (not found, no answer in time): worth asking again.
async fn program_options(toolbox: &Toolbox, program: &str, inspection: &Inspection) -> Result<Option<ToolOptions>, ()> {
    let context = runs_here(toolbox, inspection);
    let argv = [program.to_owned(), "--help".to_owned()];
    let launched = launch(toolbox, &argv, &context, &label("help", &toolbox.name.value)).map_err(|_| ())?;
    let result = capture(&launched, VERSION_TIMEOUT).await.map_err(|_| ())?;
    if matches!(result.exit, Exit::TimedOut | Exit::Interrupted) {
        return Err(());
    }
    let options = ToolOptions::parse(&String::from_utf8_lossy(&result.combined));
    Ok((!options.known.is_empty()).then_some(options))
}

/// Why `program`, whose `--help` listed no option, cannot run in `toolbox`: not found (the
/// runner's words), or no llama.cpp tool of that name there.
fn absent_program(toolbox: &Toolbox, program: &str, inspection: &Inspection) -> String {
    let context = runs_here(toolbox, inspection);
    match launch(toolbox, &[program.to_owned()], &context, &label("help", &toolbox.name.value)) {
        Err(error) => error.reason(),
        Ok(_) => format!(
            "`{program} --help` in toolbox `{}` lists no option: the toolbox has no llama.cpp `{program}` \
             (its image must carry it on PATH, or give the toolbox `bin-dir`)",
            toolbox.name.value
        ),
    }
}

/// What a GPU toolbox's driver stack is, asked of the toolbox itself: the Vulkan loader's
/// driver (`vulkaninfo --summary`), the version file of `ROCm`, the NVIDIA driver. `None` for the CPU,
/// and where the toolbox has no such tool (the cells still record the driver llama.cpp names).
async fn driver_stack(toolbox: &Toolbox, inspection: &Inspection) -> Option<String> {
    let argv: &[&str] = match toolbox.backend.as_ref()? {
        Backend::Vulkan => &["vulkaninfo", "--summary"],
        Backend::Rocm => &["cat", "/opt/rocm/.info/version"],
        Backend::Cuda => &["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
        Backend::Cpu | Backend::Other(_) => return None,
    };
    let context = runs_here(toolbox, inspection);
    let argv: Vec<String> = argv.iter().map(|word| (*word).to_owned()).collect();
    let label = label("driver", &toolbox.name.value);
    let launched = launch(toolbox, &argv, &context, &label).ok()?;
    let result = capture(&launched, VERSION_TIMEOUT).await.ok()?;
    if result.exit != Exit::Code(0) {
        return None;
    }
    let output = String::from_utf8_lossy(&result.stdout);
    match toolbox.backend.as_ref()? {
        Backend::Vulkan => {
            let mut drivers: Vec<String> =
                crate::host::vulkan_devices(&output).iter().filter_map(crate::host::VulkanDevice::driver).collect();
            drivers.dedup();
            (!drivers.is_empty()).then(|| drivers.join("; "))
        }
        Backend::Rocm => output.lines().next().map(|version| format!("ROCm {}", version.trim())),
        _ => output.lines().next().map(|version| format!("NVIDIA driver {}", version.trim())),
    }
    .filter(|driver| !driver.trim().is_empty())
}

/// The tag, the container and the image that runs, for the container runners.
async fn inspect_container(
    toolbox: &Toolbox,
    inspection: &mut Inspection,
    images: &podman::ImageAnswers,
) -> Result<(), ToolboxError> {
    let name = toolbox.name.value.as_str();
    let tool = toolbox.runner.name();
    if let Err(LaunchError::ProgramNotFound { help, .. }) = container_tool(tool, name) {
        return Err(ToolboxError::NotInstalled { tool: tool.to_owned(), help });
    }
    let podman = podman_path()?;
    // The tag's image and the container are asked at once: each question is a podman start.
    let tag = async {
        match &inspection.image {
            Some(image) => images.image(&podman, image).await,
            None => Ok(None),
        }
    };
    let container =
        async { if toolbox.runner == Runner::Podman { Ok(None) } else { podman::container(&podman, name).await } };
    let (tag, container) = tokio::join!(tag, container);
    inspection.tag = tag?.map(ImageView::from);
    if toolbox.runner == Runner::Podman {
        let image = inspection.image.clone().unwrap_or_default();
        let Some(tag) = inspection.tag.clone() else {
            let help = format!("`bakeoff toolbox create {name}` pulls it, or build it under that name");
            return Err(ToolboxError::NoImage { image, help });
        };
        inspection.running = Some(tag);
        return Ok(());
    }
    let Some(container) = container? else {
        let from = inspection.image.as_ref().map(|image| format!(" from `{image}`")).unwrap_or_default();
        return Err(ToolboxError::NoContainer { runner: tool.to_owned(), name: name.to_owned(), from });
    };
    // The container runs the tag's image unless the tag moved since it was made.
    inspection.running = match &inspection.tag {
        Some(tag) if tag.id == container.image_id => Some(tag.clone()),
        _ => podman::image(&podman, &container.image_id).await?.map(ImageView::from),
    };
    if inspection.running.is_none() {
        let image = crate::digest::short_id(&container.image_id);
        return Err(ToolboxError::ImageGone { name: name.to_owned(), image });
    }
    if let (Some(image), Some(tag)) = (&inspection.image, &inspection.tag)
        && tag.id != container.image_id
    {
        inspection.note = Some(format!(
            "container `{name}` runs image {} but `{image}` now points at {}: its cells keep measuring the \
             container's image until `bakeoff toolbox refresh {name}` recreates it",
            crate::digest::short_id(&container.image_id),
            crate::digest::short_id(&tag.id)
        ));
    }
    inspection.container = Some(ContainerView {
        name: name.to_owned(),
        id: container.id,
        image_id: container.image_id,
        image_name: container.image_name,
        created: container.created,
    });
    Ok(())
}

fn podman_path() -> Result<PathBuf, ToolboxError> {
    which::which("podman").map_err(|_| ToolboxError::NotInstalled {
        tool: "podman".to_owned(),
        help: "bakeoff asks podman which image a container runs; install podman (Fedora: `dnf install podman`, \
               Debian: `apt install podman`)"
            .to_owned(),
    })
}

/// What `llama-bench --version` in a toolbox says about the llama.cpp there.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Build {
    /// The build's version line.
    Found(String),
    /// It ran and printed no version: not a llama.cpp we can name.
    Unnamed,
    /// The toolbox has no such program: its cells that run it cannot run.
    Missing(String),
}

/// `llama-bench --version` through the toolbox's own runner (on the host, `llama-server
/// --version` when only the server is there): the build, or the programs that are missing. A
/// runner that fails (podman's own error, a container that does not start) is a problem with
/// the runner's own words, never read as "no llama.cpp here".
async fn llama_cpp_build(toolbox: &Toolbox, inspection: &mut Inspection) -> Result<Option<String>, ToolboxError> {
    let name = toolbox.name.value.as_str();
    let context = runs_here(toolbox, inspection);
    let label = label("inspect", name);
    let mut missing = std::collections::BTreeMap::new();
    let mut build = None;
    match program_build(toolbox, "llama-bench", &context, &label).await? {
        Build::Found(version) => build = Some(version),
        Build::Unnamed => {}
        Build::Missing(reason) => {
            missing.insert("llama-bench".to_owned(), reason);
        }
    }
    // On the host, whether llama-server is there is a look at PATH; in a container it would
    // be another container start, so there llama-bench's run speaks for the image.
    if toolbox.runner == Runner::Host {
        match launch(toolbox, &["llama-server".to_owned()], &context, &label) {
            Err(error) => {
                missing.insert("llama-server".to_owned(), error.reason());
            }
            Ok(_) if build.is_none() => {
                if let Build::Found(version) = program_build(toolbox, "llama-server", &context, &label).await? {
                    build = Some(version);
                }
            }
            Ok(_) => {}
        }
    }
    inspection.missing = missing;
    Ok(build)
}

/// How an inspection launches in `toolbox`: the podman runner runs the image inspection found.
fn runs_here(toolbox: &Toolbox, inspection: &Inspection) -> LaunchContext {
    let mut context = LaunchContext::default();
    if let Some(image) = inspection.state().image_id {
        context.images.insert(toolbox.name.value.clone(), image);
    }
    context
}

/// A name for what an inspection runs (a podman container is called after it): the toolbox's
/// and this process's, so that concurrent inspections never replace each other's containers.
fn label(what: &str, toolbox: &str) -> String {
    let toolbox: String =
        toolbox.chars().map(|character| if character.is_ascii_alphanumeric() { character } else { '-' }).collect();
    format!("{what}-{toolbox}-{}", std::process::id())
}

/// Exit statuses of a container runner that are its own, not the program's: podman's 125 (the
/// runner failed), 126 (the program cannot be invoked); 127 is "no such program".
const RUNNER_FAILED: i32 = 125;
const CANNOT_INVOKE: i32 = 126;
const NOT_FOUND: i32 = 127;

async fn program_build(
    toolbox: &Toolbox,
    program: &str,
    context: &LaunchContext,
    label: &str,
) -> Result<Build, ToolboxError> {
    let name = toolbox.name.value.as_str();
    let argv = [program.to_owned(), "--version".to_owned()];
    let launched = match launch(toolbox, &argv, context, label) {
        Ok(launched) => launched,
        Err(error @ LaunchError::ProgramNotFound { .. }) => return Ok(Build::Missing(error.reason())),
        Err(error) => return Err(error.into()),
    };
    let command = launched.display();
    let result = capture(&launched, VERSION_TIMEOUT)
        .await
        .map_err(|error| ToolboxError::CannotRun { command: command.clone(), reason: error.to_string() })?;
    let output = String::from_utf8_lossy(&result.combined).into_owned();
    if let Some(version) = parse_version(&output) {
        return Ok(Build::Found(version));
    }
    let runner = toolbox.runner.name();
    match result.exit {
        Exit::Code(0) => Ok(Build::Unnamed),
        Exit::Code(NOT_FOUND) if toolbox.runner != Runner::Host => Ok(Build::Missing(format!(
            "`{program}` is not in toolbox `{name}` ({runner} exit code {NOT_FOUND}: {}): its image must carry \
             llama.cpp's binaries on PATH, or give the toolbox `bin-dir`",
            podman::error_line(&output)
        ))),
        Exit::Code(code @ (RUNNER_FAILED | CANNOT_INVOKE)) if toolbox.runner != Runner::Host => {
            let line = podman::error_line(&output);
            let help = runner_help(&line).map(str::to_owned);
            Err(ToolboxError::RunnerFailed { runner: runner.to_owned(), command, code, line, help })
        }
        Exit::TimedOut => Err(ToolboxError::NoAnswer { command, seconds: VERSION_TIMEOUT.as_secs() }),
        exit @ (Exit::Code(_) | Exit::Signal(_)) => {
            Err(ToolboxError::Failed { command, how: exit.to_string(), line: podman::error_line(&output) })
        }
        Exit::Interrupted => Err(ToolboxError::Interrupted { command }),
    }
}

/// What to do about a container runner's own error, where its cause is known.
fn runner_help(error: &str) -> Option<&'static str> {
    if error.contains("container-init binary not found") || error.contains("catatonit") {
        return Some(
            "podman runs bakeoff's containers with `--init` and needs its init binary: install catatonit \
             (Debian: `apt install catatonit`, Fedora: `dnf install catatonit`), or set `init_path` in \
             containers.conf",
        );
    }
    None
}

/// Inspects every toolbox concurrently (each waits on its own container), in order, with the
/// machine's inspection cache (asking afresh, and keeping what is found, with `fresh`).
pub(crate) fn inspect_all(toolboxes: &[&Toolbox], depth: Depth, fresh: bool) -> Vec<Inspection> {
    inspect_all_for(toolboxes, depth, fresh, &BTreeSet::new(), Asked::default())
}

/// [`inspect_all`], also reading the options of `programs` (llama.cpp tools that command cells
/// run) where they are.
fn inspect_all_for(
    toolboxes: &[&Toolbox],
    depth: Depth,
    fresh: bool,
    programs: &BTreeSet<String>,
    mut asked: Asked,
) -> Vec<Inspection> {
    let cache = InspectionCache::open(InspectionCache::default_path(), fresh);
    let inspections = std::thread::scope(|scope| {
        let handles: Vec<_> = toolboxes
            .iter()
            .map(|toolbox| {
                let cache = &cache;
                let asked = asked.take(&toolbox.name.value);
                scope.spawn(move || match crate::process::runtime() {
                    Ok(runtime) => runtime.block_on(inspect(toolbox, depth, Some(cache), programs, asked)),
                    Err(_) => Inspection {
                        name: toolbox.name.value.clone(),
                        runner: toolbox.runner.name().to_owned(),
                        problem: Some("cannot start the async runtime".to_owned()),
                        ..Inspection::default()
                    },
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("an inspection thread panicked")).collect()
    });
    cache.save();
    inspections
}

/// Every toolbox fully inspected (containers and llama.cpp build), as what enters
/// fingerprints and launches, by name: what planning, running and locking need.
pub(crate) fn toolbox_states(
    toolboxes: &[&Toolbox],
    fresh: bool,
    programs: &BTreeSet<String>,
    asked: Asked,
) -> Vec<(String, ToolboxState)> {
    inspect_all_for(toolboxes, Depth::Full, fresh, programs, asked)
        .into_iter()
        .map(|inspection| (inspection.name.clone(), inspection.state()))
        .collect()
}

/// `version: 7000 (abc1234)` (llama.cpp prints it on stderr) → `7000 (abc1234)`.
fn parse_version(text: &str) -> Option<String> {
    text.lines().find_map(|line| line.trim().strip_prefix("version:").map(|version| version.trim().to_owned()))
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
