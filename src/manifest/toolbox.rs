//! `toolbox` declarations: where and how cells run, and what the host must provide.

use std::collections::BTreeMap;

use kdl::KdlNode;

use super::decode::Decoder;
use super::error::ErrorKind;
use super::source::{Location, Spanned};
use crate::host::{Fact, Requirement};
use crate::suggest;

/// How a toolbox launches commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runner {
    Toolbox,
    Distrobox,
    Podman,
    Host,
}

impl Runner {
    pub const NAMES: [&'static str; 4] = ["toolbox", "distrobox", "podman", "host"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "toolbox" => Self::Toolbox,
            "distrobox" => Self::Distrobox,
            "podman" => Self::Podman,
            "host" => Self::Host,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// The llama.cpp backend a toolbox's build is for: what its cells must have run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Cpu,
    Vulkan,
    Rocm,
    Cuda,
    /// A backend bakeoff cannot check (`metal`, `sycl`): recorded, not verified.
    Other(String),
}

impl Backend {
    pub const NAMES: [&'static str; 4] = ["cpu", "vulkan", "rocm", "cuda"];

    pub fn from_name(name: &str) -> Self {
        match name {
            "cpu" => Self::Cpu,
            "vulkan" => Self::Vulkan,
            "rocm" => Self::Rocm,
            "cuda" => Self::Cuda,
            other => Self::Other(other.to_owned()),
        }
    }

    /// As the manifest spells it.
    pub fn name(&self) -> &str {
        match self {
            Self::Cpu => "cpu",
            Self::Vulkan => "vulkan",
            Self::Rocm => "rocm",
            Self::Cuda => "cuda",
            Self::Other(name) => name,
        }
    }

    /// As llama.cpp names its backend in its output (`backends`, `Vulkan0`, `ggml_vulkan:`);
    /// `None` for the CPU and for backends bakeoff cannot check.
    pub fn llama_name(&self) -> Option<&'static str> {
        match self {
            Self::Vulkan => Some("Vulkan"),
            Self::Rocm => Some("ROCm"),
            Self::Cuda => Some("CUDA"),
            Self::Cpu | Self::Other(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Toolbox {
    pub name: Spanned<String>,
    pub runner: Runner,
    pub image: Option<Spanned<String>>,
    pub backend: Option<Backend>,
    pub bin_dir: Option<String>,
    pub env: BTreeMap<String, String>,
    /// More `podman run` / `distrobox create` arguments (`--group-add video`, …).
    pub container_args: Vec<String>,
    /// Node features a cluster node must have to run its cells (`--constraint=rocm&gfx1151`
    /// with Slurm). Where a cell runs, not what it is: not in the fingerprint.
    pub features: Vec<String>,
    pub requires: Vec<Spanned<Requirement>>,
}

impl Toolbox {
    /// Whether this is the `host` toolbox that exists when no manifest declares one (its name
    /// has no place in a file).
    pub fn is_builtin(&self) -> bool {
        self.name.at.span.is_empty()
    }

    /// The toolbox every project has without declaring it: commands run on this machine.
    pub fn builtin_host(at: Location) -> Self {
        Self {
            name: Spanned::new("host".to_owned(), at),
            runner: Runner::Host,
            image: None,
            backend: None,
            bin_dir: None,
            env: BTreeMap::new(),
            container_args: Vec::new(),
            features: Vec::new(),
            requires: Vec::new(),
        }
    }
}

const CHILDREN: [&str; 8] = ["runner", "image", "backend", "bin-dir", "env", "container-args", "features", "requires"];

pub(super) fn decode(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Toolbox> {
    decoder.check_properties(node, &[]);
    let name = decoder.single_string(node)?;
    let mut runner = None;
    let mut image = None;
    let mut backend = None;
    let mut bin_dir = None;
    let mut env = BTreeMap::new();
    let mut container_args = Vec::new();
    let mut container_args_at = None;
    let mut features = Vec::new();
    let mut requires = Vec::new();
    for child in decoder.children(node) {
        match child.name().value() {
            "runner" => {
                decoder.check_properties(child, &[]);
                if let Some(value) = decoder.single_string(child) {
                    match Runner::from_name(&value.value) {
                        Some(found) => runner = Some(found),
                        None => decoder.report(
                            child.entries()[0].span(),
                            ErrorKind::InvalidValue {
                                what: "runner".to_owned(),
                                value: value.value.clone(),
                                reason: "not a known runner".to_owned(),
                            },
                            suggest::help_for(&value.value, Runner::NAMES, "runners"),
                        ),
                    }
                }
            }
            "image" => {
                decoder.check_properties(child, &[]);
                image = decoder.single_string(child);
            }
            "backend" => {
                decoder.check_properties(child, &[]);
                backend = decode_backend(decoder, child);
            }
            "bin-dir" => {
                decoder.check_properties(child, &[]);
                bin_dir = decoder.single_string(child).map(|value| value.value);
            }
            "env" => {
                decoder.check_no_arguments(child);
                for entry in child.entries() {
                    if let (Some(key), Some(value)) = (entry.name(), decoder.scalar(child, entry)) {
                        env.insert(key.value().to_owned(), value.value);
                    }
                }
            }
            "container-args" => {
                decoder.check_properties(child, &[]);
                container_args_at = Some(child.name().span());
                for entry in child.entries().iter().filter(|entry| entry.name().is_none()) {
                    if let Some(value) = decoder.scalar(child, entry) {
                        container_args.push(value.value);
                    }
                }
            }
            "features" => features.extend(decode_features(decoder, child)),
            "requires" => {
                decoder.check_properties(child, &[]);
                decoder.check_no_arguments(child);
                requires.extend(decode_requirements(decoder, child));
            }
            _ => decoder.unknown_node(child, &format!("toolbox `{}`", name.value), &CHILDREN),
        }
    }
    let runner = runner.unwrap_or(if image.is_some() { Runner::Toolbox } else { Runner::Host });
    if runner == Runner::Podman && image.is_none() {
        decoder.report(
            node.name().span(),
            ErrorKind::MissingValue { node: format!("toolbox `{}`", name.value), what: "an `image`".to_owned() },
            "the podman runner starts a container from an image: add `image \"registry/name:tag\"`",
        );
    }
    if let Some(span) = container_args_at
        && matches!(runner, Runner::Toolbox | Runner::Host)
    {
        let help = if runner == Runner::Toolbox {
            "toolbox create passes no arguments to podman; toolbox containers are privileged and see the \
             host's /dev, so devices need none. Use runner \"distrobox\" or \"podman\" for other arguments"
        } else {
            "the host runner starts no container; remove `container-args`"
        };
        let problem = decoder
            .error(
                span,
                ErrorKind::Inconsistent(format!("`container-args` has no effect with runner `{}`", runner.name())),
            )
            .help(help)
            .warning();
        decoder.push(problem);
    }
    Some(Toolbox { name, runner, image, backend, bin_dir, env, container_args, features, requires })
}

/// `backend "vulkan"`: one bakeoff checks its cells ran on, or another it records unchecked
/// (with a warning).
fn decode_backend(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Backend> {
    let value = decoder.single_string(node)?;
    let backend = Backend::from_name(&value.value);
    if let Backend::Other(name) = &backend {
        let problem = decoder
            .error(
                value.at.span,
                ErrorKind::InvalidValue {
                    what: "backend".to_owned(),
                    value: name.clone(),
                    reason: "bakeoff cannot check that its cells ran on it".to_owned(),
                },
            )
            .help(suggest::help_for(name, Backend::NAMES, "backends bakeoff checks"))
            .warning();
        decoder.push(problem);
    }
    Some(backend)
}

/// `features "rocm" "gfx1151"`: each a name Slurm can put in a constraint.
fn decode_features(decoder: &mut Decoder<'_>, node: &KdlNode) -> Vec<String> {
    decoder.check_properties(node, &[]);
    let mut features = Vec::new();
    for entry in node.entries().iter().filter(|entry| entry.name().is_none()) {
        let Some(value) = decoder.scalar(node, entry) else { continue };
        match feature_problem(&value.value) {
            Some(reason) => decoder.report(
                entry.span(),
                ErrorKind::InvalidValue { what: "feature".to_owned(), value: value.value, reason },
                "a feature is a name a cluster's nodes declare (`Feature=rocm,gfx1151` in slurm.conf)",
            ),
            None => features.push(value.value),
        }
    }
    features
}

/// Why `name` cannot be a node feature: Slurm's constraint syntax gives `&|,[]*()!:` and
/// blanks their own meaning.
fn feature_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("empty".to_owned());
    }
    name.chars()
        .find(|character| !(character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '.' | '+')))
        .map(|character| format!("`{character}` is not allowed in a feature name (letters, digits, `_-.+`)"))
}

/// `kernel-param "NAME" "COMPARISON"`: two strings.
fn decode_kernel_param(
    decoder: &mut Decoder<'_>,
    node: &KdlNode,
    reason: Option<String>,
) -> Option<Spanned<Requirement>> {
    let help = "write `kernel-param \"ttm.pages_limit\" \">=33554432\"` (a number compared) or \
                `kernel-param \"amd_iommu\" \"off\"` (a glob the value matches)";
    let arguments = decoder.arguments(node);
    let [name, text] = arguments.as_slice() else {
        let span = arguments.get(2).map_or_else(|| node.span(), |extra| extra.span());
        decoder.report(
            span,
            ErrorKind::InvalidValue {
                what: "kernel-param requirement".to_owned(),
                value: node.to_string().trim().to_owned(),
                reason: "it takes a parameter name and what its value must be".to_owned(),
            },
            help,
        );
        return None;
    };
    let name = decoder.scalar(node, name)?;
    let text = decoder.scalar(node, text)?;
    match Requirement::kernel_param(&name.value, &text.value, reason) {
        Ok(requirement) => Some(Spanned::new(requirement, text.at)),
        Err(error) => {
            decoder.report(
                text.at.span,
                ErrorKind::InvalidValue {
                    what: "kernel-param requirement".to_owned(),
                    value: text.value,
                    reason: error.to_string(),
                },
                help,
            );
            None
        }
    }
}

fn decode_requirements(decoder: &mut Decoder<'_>, node: &KdlNode) -> Vec<Spanned<Requirement>> {
    let mut requirements = Vec::new();
    for child in decoder.children(node) {
        let Some(fact) = Fact::from_name(child.name().value()) else {
            decoder.unknown_node(child, "`requires`", &Fact::NAMES);
            continue;
        };
        decoder.check_properties(child, &["reason"]);
        let reason = decoder.string_property(child, "reason").map(|reason| reason.value);
        if fact == Fact::KernelParam {
            requirements.extend(decode_kernel_param(decoder, child, reason));
            continue;
        }
        let Some(text) = decoder.single_string(child) else {
            continue;
        };
        match Requirement::parse(fact, &text.value, reason) {
            Ok(requirement) => requirements.push(Spanned::new(requirement, text.at)),
            Err(error) => {
                let problem = decoder
                    .error(
                        text.at.span,
                        ErrorKind::InvalidValue {
                            what: format!("{} requirement", fact.name()),
                            value: text.value,
                            reason: error.to_string(),
                        },
                    )
                    .help("write comparisons such as `>=6.18.4`, `!=20251125` or `>=6.18, <6.20`");
                decoder.push(problem);
            }
        }
    }
    requirements
}
