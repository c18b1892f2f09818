//! Resolving a cell: its argv with real paths (to run) and with content hashes (to fingerprint).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::canonical::{
    ClientPrint, Fingerprint, HostPrint, ReplayPrint, RequestPrint, SCHEMA, ToolboxPrint, WorkloadPrint,
};
use crate::host::HostFacts;
use crate::manifest::{Experiment, Manifests, Part, Template};
use crate::matrix::{Cell, WorkloadKind};

/// What is known about a declared model on this machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelInput {
    /// Where the file is here; `None` when it was not found under any model root.
    pub path: Option<PathBuf>,
    /// Its content hash: hashed here, or pinned in the lock when the file is missing.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// Why the model cannot be used here, e.g. where it was looked for.
    pub problem: Option<String>,
    /// Why llama.cpp could not load the file (not GGUF, a truncated header): its bench and
    /// server cells are blocked; a command cell's program may read other formats.
    pub unloadable: Option<String>,
    /// What its header says of its architecture and experts, when it reads.
    pub(crate) shape: Option<crate::models::ModelShape>,
}

/// What inspecting a toolbox found (or what bakeoff.lock pinned, when it is not inspected).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolboxState {
    /// The digest of the image that runs: a toolbox or distrobox container's own image, the
    /// tag's image for podman.
    pub digest: Option<String>,
    pub llama_cpp: Option<String>,
    /// The image id the podman runner runs (pinned when inspected, so a run never follows a
    /// tag that moves under it).
    pub image_id: Option<String>,
    /// Why the toolbox cannot run here (no container, no image, the CLI fails): its cells are
    /// blocked with this reason.
    pub problem: Option<String>,
    /// Something to know that does not stop it (a container older than its image's tag).
    pub note: Option<String>,
    /// The llama.cpp programs it lacks (`llama-bench`, `llama-server`), with why: its cells
    /// that run them are blocked with that reason.
    pub missing: BTreeMap<String, String>,
    /// The driver stack a GPU toolbox's inspection read (`Mesa 25.0.7 …, radv`, `ROCm 6.4.4`):
    /// recorded with what its cells ran on, not part of their fingerprints.
    pub driver: Option<String>,
    /// The options each llama.cpp program of the toolbox takes (its `--help`), by program:
    /// a cell whose argv has another is blocked at plan time.
    pub options: BTreeMap<String, crate::tool_options::ToolOptions>,
}

/// Content hashes of every input the cells can name, gathered before fingerprinting.
#[derive(Debug, Clone, Default)]
pub struct InputDigests {
    pub models: BTreeMap<String, ModelInput>,
    /// Declared files by the path [`Manifests::input_path`] gives, → sha256.
    pub files: BTreeMap<PathBuf, String>,
    /// Their sizes in bytes.
    pub sizes: BTreeMap<PathBuf, u64>,
    pub toolboxes: BTreeMap<String, ToolboxState>,
}

/// A cell ready to plan and run.
#[derive(Debug, Clone)]
pub struct ResolvedCell {
    pub cell: Cell,
    pub id: String,
    /// The argv to launch inside the toolbox (for server workloads: the server's).
    pub argv: Vec<String>,
    pub fingerprint: Fingerprint,
    pub hash: String,
    pub toolbox: String,
    pub model: Option<String>,
    /// Why this cell cannot run on this host; empty when it can.
    pub blocked: Vec<String>,
    /// How its toolbox here differs from what bakeoff.lock pinned on another host.
    pub drift: Vec<crate::lock::LockDrift>,
    /// What to know about its toolbox that does not stop it (a container older than its tag).
    pub notes: Vec<String>,
    /// Inputs with no content hash here (a model neither found nor locked, a file that cannot
    /// be read): the fingerprint holds `unknown(…)` for them, not what they will hash to.
    pub unhashed: Vec<String>,
    /// A quality cell's base logits: which it writes or reads (set once every cell is resolved).
    pub base: Option<super::scoring::Base>,
}

const MISSING: &str = "<missing>";

/// Resolves `cell` of `experiment` against the inputs and host facts.
pub fn resolve_cell(
    manifests: &Manifests,
    experiment: &Experiment,
    cell: Cell,
    inputs: &InputDigests,
    host: &HostFacts,
) -> ResolvedCell {
    let mut resolver = Resolver {
        manifests,
        experiment,
        cell: &cell,
        inputs,
        blocked: Vec::new(),
        unhashed: Vec::new(),
        unloadable: Vec::new(),
    };
    let toolbox_name = cell.value("toolbox").unwrap_or("host").to_owned();
    let model = cell.value("model").map(str::to_owned);
    let (program, templates) = program_of(experiment, cell.kind());
    let mut argv = Vec::new();
    let mut printed = Vec::new();
    if !program.is_empty() {
        argv.push(program.to_owned());
        printed.push(program.to_owned());
        if let Some(model) = &model {
            let (path, hash) = resolver.model(model);
            argv.extend(["-m".to_owned(), path]);
            printed.extend(["-m".to_owned(), hash]);
        }
        if let Some((path, hash)) = resolver.corpus() {
            argv.extend(["-f".to_owned(), path]);
            printed.extend(["-f".to_owned(), hash]);
        }
    }
    resolver.expand(templates, &mut argv, &mut printed);
    if program == "llama-bench" {
        argv.extend(["-o".to_owned(), "jsonl".to_owned()]);
        printed.extend(["-o".to_owned(), "jsonl".to_owned()]);
    }
    let workload = resolver.workload();
    let mut blocked = resolver.blocked;
    let unhashed = resolver.unhashed;
    // llama-bench and llama-server load every model they are given.
    if !program.is_empty() {
        blocked.extend(resolver.unloadable);
    }
    // A flag the cell's model cannot take (a mixture's flag on a dense model, a metadata key of
    // another architecture) would label a change that did not happen.
    if let Some(model) = &model
        && let Some(shape) = inputs.models.get(model).and_then(|input| input.shape.as_ref())
    {
        blocked.extend(crate::models::inapplicable(&argv, model, shape));
    }

    let toolbox = manifests.toolboxes.get(&toolbox_name);
    let state = inputs.toolboxes.get(&toolbox_name).cloned().unwrap_or_default();
    let unmet = toolbox.iter().flat_map(|toolbox| &toolbox.requires).filter_map(|need| need.value.check(host).err());
    blocked.extend(unmet.map(|reason| format!("toolbox `{toolbox_name}` {reason}")));
    if let Some(problem) = &state.problem {
        blocked.push(format!("toolbox `{toolbox_name}`: {problem}"));
    } else if let Some(missing) = state.missing.get(program) {
        blocked.push(missing.clone());
    } else {
        blocked.extend(unknown_options(manifests, experiment, &argv, &toolbox_name, &state));
    }
    // A quality cell's inputs are the axes its arguments use: configurations that differ in
    // another axis (threads, say) are one measurement of quality.
    let used = (cell.kind() == WorkloadKind::Quality).then(|| super::scoring::used_axes(experiment));
    let (rounds, until) = rounds_of(experiment, used.is_some());
    let fingerprint = Fingerprint {
        schema: SCHEMA,
        rounds,
        until,
        axes: cell
            .axes
            .iter()
            .filter(|(axis, _)| axis != "model" && axis != "toolbox")
            .filter(|(axis, _)| used.as_ref().is_none_or(|used| used.contains(axis)))
            .map(|(axis, value)| (axis.clone(), value.clone()))
            .collect(),
        argv: printed,
        toolbox: ToolboxPrint {
            name: toolbox_name.clone(),
            runner: toolbox.map_or("host", |toolbox| toolbox.runner.name()).to_owned(),
            image: toolbox.and_then(|toolbox| toolbox.image.as_ref().map(|image| image.value.clone())),
            container_args: toolbox.map(|toolbox| toolbox.container_args.clone()).unwrap_or_default(),
            digest: state.digest,
            llama_cpp: state.llama_cpp,
            env: toolbox.map(|toolbox| toolbox.env.clone()).unwrap_or_default(),
        },
        workload,
        host: HostPrint::of(host),
    };
    let hash = fingerprint.hash();
    let fingerprint_toolbox = toolbox_name.clone();
    blocked.dedup();
    ResolvedCell {
        id: cell.id(),
        cell,
        argv,
        fingerprint,
        hash,
        toolbox: toolbox_name,
        model,
        blocked,
        drift: Vec::new(),
        notes: state.note.into_iter().map(|note| format!("toolbox `{fingerprint_toolbox}`: {note}")).collect(),
        unhashed,
        base: None,
    }
}

/// The llama.cpp program a cell of `kind` runs (none for a command) and the `args` it is given.
fn program_of<'a>(experiment: &'a Experiment, kind: WorkloadKind<'_>) -> (&'static str, &'a [Template]) {
    match kind {
        WorkloadKind::Bench => ("llama-bench", experiment.bench.as_ref().map_or(&[], |bench| &bench.args)),
        WorkloadKind::Command => ("", experiment.command.as_ref().map_or(&[], |command| &command.args)),
        WorkloadKind::Server(_) => ("llama-server", experiment.server.as_ref().map_or(&[], |server| &server.args)),
        WorkloadKind::Quality => ("llama-perplexity", experiment.quality.as_ref().map_or(&[], |quality| &quality.args)),
    }
}

/// The options of the cell's llama.cpp tool (llama-bench, llama-server, or the `llama-*` a
/// command cell runs) that the toolbox's build does not take, each as a reason to block the cell:
/// the build's own words or a did-you-mean, and where the manifest writes the option.
fn unknown_options(
    manifests: &Manifests,
    experiment: &Experiment,
    argv: &[String],
    toolbox: &str,
    state: &ToolboxState,
) -> Vec<String> {
    let Some(tool) = argv.first() else { return Vec::new() };
    let Some(options) = state.options.get(tool) else { return Vec::new() };
    let build = state.llama_cpp.as_deref().unwrap_or("unknown");
    options
        .check(argv)
        .into_iter()
        .map(|unknown| {
            let option = &unknown.option;
            let written = experiment.command_templates().chain(experiment.variant_templates()).find(|template| {
                template.text == *option
                    || template.text.strip_prefix(option.as_str()).is_some_and(|rest| rest.starts_with('='))
            });
            let place = written
                .map(|template| format!(" ({})", crate::manifest::line_column(&manifests.sources, template.at)))
                .unwrap_or_default();
            format!(
                "`{option}` is not an option of {tool} in toolbox `{toolbox}` (build {build}): {}{place}",
                unknown.why
            )
        })
        .collect()
}

struct Resolver<'a> {
    manifests: &'a Manifests,
    experiment: &'a Experiment,
    cell: &'a Cell,
    inputs: &'a InputDigests,
    blocked: Vec<String>,
    unhashed: Vec<String>,
    /// Models the cell names that llama.cpp could not load.
    unloadable: Vec<String>,
}

impl Resolver<'_> {
    /// The model's path to run with and its `sha256:` stand-in to fingerprint.
    fn model(&mut self, name: &str) -> (String, String) {
        let input = self.inputs.models.get(name);
        let path = input.and_then(|input| input.path.as_ref()).map(|path| path.display().to_string());
        let hash = input.and_then(|input| input.sha256.as_ref()).map(|hash| format!("sha256:{hash}"));
        if path.is_none() {
            let reason = input
                .and_then(|input| input.problem.clone())
                .unwrap_or_else(|| format!("model `{name}` was not looked up"));
            self.blocked.push(reason);
        }
        self.unloadable.extend(input.and_then(|input| input.unloadable.clone()));
        let hash = hash.unwrap_or_else(|| {
            self.unhashed.push(name.to_owned());
            format!("sha256:unknown({name})")
        });
        (path.unwrap_or_else(|| MISSING.to_owned()), hash)
    }

    /// A quality cell's corpus: its path to run with and its `sha256:` stand-in.
    fn corpus(&mut self) -> Option<(String, String)> {
        if self.cell.kind() != WorkloadKind::Quality {
            return None;
        }
        let corpus = self.experiment.quality.as_ref()?.corpus.as_ref()?;
        let full = self.manifests.input_path(corpus.at, &corpus.value);
        Some(match self.inputs.files.get(&full) {
            Some(hash) => (full.display().to_string(), format!("sha256:{hash}")),
            None => {
                self.blocked.push(format!("corpus `{}` could not be hashed", corpus.value));
                self.unhashed.push(corpus.value.clone());
                (full.display().to_string(), format!("sha256:unknown({})", corpus.value))
            }
        })
    }

    fn file(&mut self, template: &Template, path: &str) -> (String, String) {
        let full = self.manifests.input_path(template.at, path);
        match self.inputs.files.get(&full) {
            Some(hash) => (full.display().to_string(), format!("sha256:{hash}")),
            None => {
                self.blocked.push(format!("file `{path}` could not be hashed"));
                self.unhashed.push(path.to_owned());
                (full.display().to_string(), format!("sha256:unknown({path})"))
            }
        }
    }

    fn expand(&mut self, templates: &[Template], argv: &mut Vec<String>, printed: &mut Vec<String>) {
        for template in templates {
            if template.is_variant_splice() {
                let variant = self.cell.value("variant").unwrap_or_default();
                let args = self
                    .experiment
                    .axis("variant")
                    .and_then(|axis| axis.values.iter().find(|value| value.value.value == variant))
                    .map(|value| value.args.clone())
                    .unwrap_or_default();
                self.expand(&args, argv, printed);
                continue;
            }
            let mut real = String::new();
            let mut print = String::new();
            for part in &template.parts {
                let (run, hashed) = match part {
                    Part::Text(text) => (text.clone(), text.clone()),
                    Part::Axis(axis) => {
                        let value = self.cell.value(axis).unwrap_or_default().to_owned();
                        (value.clone(), value)
                    }
                    Part::Model => {
                        let name = self.cell.value("model").unwrap_or_default().to_owned();
                        self.model(&name)
                    }
                    Part::ModelRef(name) => self.model(name),
                    Part::File(path) => self.file(template, path),
                    Part::Variant => (String::new(), String::new()),
                };
                real.push_str(&run);
                print.push_str(&hashed);
            }
            argv.push(real);
            printed.push(print);
        }
    }

    fn workload(&mut self) -> WorkloadPrint {
        match self.cell.kind() {
            WorkloadKind::Bench => WorkloadPrint::Bench,
            WorkloadKind::Command => WorkloadPrint::Command {
                metrics: self
                    .experiment
                    .command
                    .iter()
                    .flat_map(|command| &command.metrics)
                    .map(|metric| (metric.name.value.clone(), metric.regex.value.clone()))
                    .collect(),
            },
            // The corpus's hash (its `unknown(…)` stand-in was named where the argv took it).
            WorkloadKind::Quality => WorkloadPrint::Quality {
                corpus: self
                    .experiment
                    .quality
                    .as_ref()
                    .and_then(|quality| quality.corpus.as_ref())
                    .and_then(|corpus| self.inputs.files.get(&self.manifests.input_path(corpus.at, &corpus.value)))
                    .cloned()
                    .unwrap_or_default(),
                reference: None,
            },
            WorkloadKind::Server(name) => {
                let Some(workload) = self.experiment.workloads.iter().find(|workload| workload.name.value == name)
                else {
                    return WorkloadPrint::Server {
                        name: name.to_owned(),
                        parallel: 1,
                        prompt_cache: None,
                        repeat: 1,
                        requests: Vec::new(),
                        replay: None,
                        session: None,
                    };
                };
                let requests = workload
                    .requests
                    .iter()
                    .map(|request| {
                        let mut files = BTreeMap::new();
                        for (key, path) in &request.files {
                            let filled = self.cell.request_path(&path.value);
                            let full = self.manifests.input_path(path.at, &filled);
                            let hash = self.inputs.files.get(&full).cloned().unwrap_or_else(|| {
                                self.blocked.push(format!("file `{filled}` could not be hashed"));
                                self.unhashed.push(filled.clone());
                                format!("unknown({filled})")
                            });
                            files.insert(key.clone(), hash);
                        }
                        RequestPrint {
                            api: serde_json::to_value(request.api)
                                .ok()
                                .and_then(|value| value.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            fields: request.fields.clone(),
                            files,
                            turns: request.turns.clone(),
                        }
                    })
                    .collect();
                let replay = self.replay_print(workload);
                let client = self.client_print(workload);
                WorkloadPrint::Server {
                    name: name.to_owned(),
                    parallel: workload.concurrency,
                    prompt_cache: workload.cold.then(|| "cold".to_owned()),
                    repeat: workload.repeat,
                    requests,
                    replay,
                    session: client,
                }
            }
        }
    }
    /// A replay workload's trace: its hash and timing; a trace that cannot be read blocks.
    fn replay_print(&mut self, workload: &crate::manifest::Workload) -> Option<ReplayPrint> {
        workload.replay.as_ref().map(|replay| {
            let full = self.manifests.input_path(replay.path.at, &replay.path.value);
            let trace = match self.inputs.files.get(&full) {
                Some(hash) => {
                    // A trace that cannot be sent is found now, not after the server started.
                    if let Err(error) = crate::traffic::read(&full) {
                        self.blocked.push(format!("trace `{}` {error}", replay.path.value));
                    }
                    hash.clone()
                }
                None => {
                    self.blocked.push(format!("file `{}` could not be hashed", replay.path.value));
                    self.unhashed.push(replay.path.value.clone());
                    format!("unknown({})", replay.path.value)
                }
            };
            let timing = if replay.recorded { "recorded" } else { "back-to-back" };
            ReplayPrint { trace, timing: timing.to_owned() }
        })
    }

    /// A client workload's client: a program not on PATH blocks, with how to install it.
    fn client_print(&mut self, workload: &crate::manifest::Workload) -> Option<ClientPrint> {
        workload.client.as_ref().map(|client| {
            if let Some(program) = client.argv.first()
                && which::which(program).is_err()
            {
                self.blocked.push(client_missing(program));
            }
            let workdir = client.workdir.as_ref().map(|workdir| {
                let full = self.manifests.input_path(workdir.at, &workdir.value);
                self.inputs.files.get(&full).cloned().unwrap_or_else(|| {
                    self.blocked.push(format!("workdir `{}` could not be read", workdir.value));
                    self.unhashed.push(workdir.value.clone());
                    format!("unknown({})", workdir.value)
                })
            });
            // A credential changes no measurement, and must not reach a record.
            let env = client
                .env
                .iter()
                .map(|(key, value)| {
                    let value = if crate::secret::is_credential(key) { crate::secret::HIDDEN } else { value };
                    (key.clone(), value.to_owned())
                })
                .collect();
            ClientPrint { argv: crate::secret::redacted_args(&client.argv), env, workdir }
        })
    }
}

#[cfg(test)]
impl ResolvedCell {
    /// A cell of experiment `e` with `axes`, running `block` (its workload named `workload`),
    /// fingerprinted with `argv` on an empty host: for tests of what comes after resolution.
    pub(crate) fn stand_in(axes: &[(&str, &str)], workload: &str, block: crate::matrix::Block, argv: &[&str]) -> Self {
        let cell = Cell {
            experiment: "e".to_owned(),
            axes: axes.iter().map(|(axis, value)| ((*axis).to_owned(), (*value).to_owned())).collect(),
            workload: workload.to_owned(),
            block,
        };
        let kind = match block {
            crate::matrix::Block::Bench => serde_json::json!({ "kind": "bench" }),
            crate::matrix::Block::Command => serde_json::json!({ "kind": "command", "metrics": {} }),
            crate::matrix::Block::Server => {
                serde_json::json!({ "kind": "server", "name": workload, "repeat": 1, "requests": [] })
            }
            crate::matrix::Block::Quality => serde_json::json!({ "kind": "quality", "corpus": "", "reference": null }),
        };
        let printed: BTreeMap<&str, &str> =
            axes.iter().copied().filter(|(axis, _)| *axis != "model" && *axis != "toolbox").collect();
        let fingerprint: Fingerprint = serde_json::from_value(serde_json::json!({
            "argv": argv, "axes": printed, "schema": SCHEMA,
            "host": { "cpu": "", "firmware": null, "gpus": [], "kernel": "", "memory_bytes": 0 },
            "toolbox": { "digest": null, "env": {}, "image": null, "llama_cpp": null, "name": "host", "runner": "host" },
            "workload": kind
        }))
        .expect("a stand-in fingerprint parses");
        Self {
            id: cell.id(),
            model: cell.value("model").map(str::to_owned),
            cell,
            argv: argv.iter().map(|word| (*word).to_owned()).collect(),
            hash: fingerprint.hash(),
            fingerprint,
            toolbox: "host".to_owned(),
            blocked: Vec::new(),
            drift: Vec::new(),
            notes: Vec::new(),
            unhashed: Vec::new(),
            base: None,
        }
    }
}

/// Why a client cannot run here: it is not on PATH, with how to install the ones we know.
fn client_missing(program: &str) -> String {
    let name = std::path::Path::new(program).file_name().and_then(|name| name.to_str()).unwrap_or(program);
    let install = match name {
        "claude" => "install it with `npm install -g @anthropic-ai/claude-code`",
        "aider" => "install it with `pip install aider-chat`",
        "kilocode" | "kilo" => "install it with `npm install -g @kilocode/cli`",
        "codex" => "install it with `npm install -g @openai/codex`",
        _ => "install it, or give its path",
    };
    format!("client `{program}` is not installed here (not on PATH): {install}")
}

/// How many rounds a cell is measured in, and when adaptive rounds may stop. Quality is no
/// timing: one pass measures it, whatever the rounds.
fn rounds_of(experiment: &Experiment, quality: bool) -> (u32, Option<super::UntilPrint>) {
    if quality {
        return (1, None);
    }
    (experiment.round_count(), experiment.rounds_until.as_ref().map(super::UntilPrint::of))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::expand;

    const MANIFEST: &str = r#"
toolbox "host" { runner "host" }
model "m" { file "m.gguf" }
experiment "e" {
    matrix {
        model "m"
        toolbox "host"
    }
    bench { args "-p" 64 }
    server { args "-c" 4096 }
    workload "agent" {
        request api="openai-chat" system-file="system.txt" prompt="hi"
    }
}
"#;

    /// What has no hash is named, so that a caller can tell a fingerprint it cannot trust.
    #[test]
    fn inputs_without_a_hash_are_named() {
        let project = tempfile::tempdir().unwrap();
        std::fs::write(project.path().join("system.txt"), "You are terse.").unwrap();
        let manifests = crate::manifest::load_text(project.path(), &project.path().join("e.kdl"), MANIFEST).unwrap();
        let experiment = &manifests.experiments[0];
        let resolve = |inputs: &InputDigests| -> Vec<Vec<String>> {
            expand(experiment)
                .into_iter()
                .map(|cell| resolve_cell(&manifests, experiment, cell, inputs, &HostFacts::default()).unhashed)
                .collect()
        };
        assert_eq!(
            resolve(&InputDigests::default()),
            [vec!["m".to_owned()], vec!["m".to_owned(), "system.txt".to_owned()]]
        );
        let mut known = InputDigests::default();
        known.models.insert("m".to_owned(), ModelInput { sha256: Some("00ff".to_owned()), ..ModelInput::default() });
        known.files.insert(project.path().join("system.txt"), "11ee".to_owned());
        assert_eq!(resolve(&known), [Vec::<String>::new(), Vec::new()]);
    }
}
