//! `experiment` declarations: the matrix, its filters, what each cell runs and how it is reported.

use std::collections::BTreeMap;

use kdl::{KdlNode, KdlValue};

use super::decode::Decoder;
use super::error::ErrorKind;
use super::source::{FileId, Location, Spanned};
use super::template::{self, Template};
use crate::suggest;

#[derive(Debug, Clone)]
pub struct Experiment {
    pub name: Spanned<String>,
    pub file: FileId,
    pub extends: Option<Spanned<String>>,
    pub description: Option<String>,
    pub axes: Vec<Axis>,
    pub excludes: Vec<Filter>,
    pub includes: Vec<Filter>,
    pub bench: Option<Bench>,
    pub server: Option<Server>,
    pub workloads: Vec<Workload>,
    pub command: Option<CommandSpec>,
    /// How far each configuration's next-token distribution is from a reference's.
    pub quality: Option<Quality>,
    pub timeout: Option<Spanned<u64>>,
    pub retries: Option<Spanned<u64>>,
    /// After this many failed or timed-out cells in a row on one toolbox, the run skips the
    /// toolbox's other cells.
    pub stop_after: Option<Spanned<u64>>,
    /// Every cell measured this many times, in interleaved rounds (with `until`: at most).
    pub rounds: Option<Spanned<u64>>,
    /// Adaptive rounds: more rounds only while a cell's interval is wider than asked.
    pub rounds_until: Option<super::Until>,
    pub report: Option<ReportSpec>,
    /// One axis searched for where a condition stops holding, instead of measured value by
    /// value; its grid is among `axes`.
    pub search: Option<super::Search>,
}

/// Which way a metric improves: the catalogue's, as `better=` names it.
pub use crate::metric::Better;

/// A cell's time allowance when the experiment gives no `timeout`.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

impl Experiment {
    /// An experiment with nothing in it yet, as decoding starts it.
    fn empty(name: Spanned<String>, extends: Option<Spanned<String>>, file: FileId) -> Self {
        Self {
            name,
            file,
            extends,
            description: None,
            axes: Vec::new(),
            excludes: Vec::new(),
            includes: Vec::new(),
            bench: None,
            server: None,
            workloads: Vec::new(),
            command: None,
            quality: None,
            timeout: None,
            retries: None,
            stop_after: None,
            rounds: None,
            rounds_until: None,
            report: None,
            search: None,
        }
    }

    /// How long one attempt of a cell may take (`timeout`, an hour when not given).
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |timeout| std::time::Duration::from_secs(timeout.value))
    }

    /// How many times a failing cell runs: once, and once more per `retries`.
    pub fn attempts(&self) -> u32 {
        let retries = self.retries.as_ref().map_or(0, |retries| retries.value);
        u32::try_from(retries).unwrap_or(u32::MAX).saturating_add(1)
    }

    /// How many rounds each cell is measured in (`rounds`, 1 when not given).
    pub fn round_count(&self) -> u32 {
        self.rounds.as_ref().map_or(1, |rounds| u32::try_from(rounds.value).unwrap_or(u32::MAX))
    }

    pub fn axis(&self, name: &str) -> Option<&Axis> {
        self.axes.iter().find(|axis| axis.name.value == name)
    }

    /// The values axis `name` takes in some cell: the matrix's, then those an `include` adds,
    /// each once; none when the matrix has no such axis (an `include` adds no axis).
    pub fn axis_values(&self, name: &str) -> Vec<&str> {
        let Some(axis) = self.axis(name) else { return Vec::new() };
        let mut values: Vec<&str> = axis.values.iter().map(|value| value.value.value.as_str()).collect();
        let included = self.includes.iter().flat_map(|include| &include.conditions);
        for (_, value) in included.filter(|(axis, _)| axis.value == name) {
            if !values.contains(&value.value.as_str()) {
                values.push(&value.value);
            }
        }
        values
    }

    /// Every path a request file's `path` stands for: one per combination of the values of the
    /// axes it names (`prompts/p{plen}.txt` → `prompts/p64.txt`, `prompts/p512.txt`), the path
    /// itself when it names none, nothing when it names an axis the experiment lacks.
    pub fn request_paths(&self, path: &str) -> Vec<String> {
        let mut combinations: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for name in template::path_axes(path) {
            let values = self.axis_values(&name);
            if values.is_empty() {
                return Vec::new();
            }
            combinations = combinations
                .into_iter()
                .flat_map(|chosen| {
                    let name = &name;
                    values.iter().map(move |value| {
                        let mut chosen = chosen.clone();
                        chosen.push((name.clone(), (*value).to_owned()));
                        chosen
                    })
                })
                .collect();
        }
        let mut paths: Vec<String> = combinations
            .iter()
            .filter_map(|chosen| {
                template::fill_path(path, |axis| {
                    chosen.iter().find(|(name, _)| name == axis).map(|(_, value)| value.clone())
                })
            })
            .collect();
        paths.dedup();
        paths
    }

    /// The `args` of `bench`, `server`, `command` and `quality`: the templates a cell's argv
    /// starts from.
    pub fn command_templates(&self) -> impl Iterator<Item = &Template> {
        let bench = self.bench.iter().flat_map(|bench| &bench.args);
        let server = self.server.iter().flat_map(|server| &server.args);
        let command = self.command.iter().flat_map(|command| &command.args);
        let quality = self.quality.iter().flat_map(|quality| &quality.args);
        bench.chain(server).chain(command).chain(quality)
    }

    /// The axis values that select the reference configuration of `quality`: its own
    /// `reference`, else the report's `baseline`.
    pub fn quality_reference(&self) -> &[(Spanned<String>, Spanned<String>)] {
        match (&self.quality, &self.report) {
            (Some(quality), _) if !quality.reference.is_empty() => &quality.reference,
            (_, Some(report)) => &report.baseline,
            _ => &[],
        }
    }

    /// The `args` of every variant, spliced where `{variant}` stands.
    pub fn variant_templates(&self) -> impl Iterator<Item = &Template> {
        self.axis("variant").into_iter().flat_map(|axis| &axis.values).flat_map(|value| &value.args)
    }
}

/// One matrix axis; the `variant` axis carries arguments with each value.
#[derive(Debug, Clone)]
pub struct Axis {
    pub name: Spanned<String>,
    pub values: Vec<AxisValue>,
}

#[derive(Debug, Clone)]
pub struct AxisValue {
    pub value: Spanned<String>,
    pub args: Vec<Template>,
}

/// An `exclude` or `include` line: axis = value pairs (globs allowed in `exclude`).
#[derive(Debug, Clone)]
pub struct Filter {
    pub at: Location,
    pub conditions: Vec<(Spanned<String>, Spanned<String>)>,
}

#[derive(Debug, Clone)]
pub struct Bench {
    pub at: Location,
    pub args: Vec<Template>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub at: Location,
    pub args: Vec<Template>,
    pub ready_timeout: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub name: Spanned<String>,
    pub requests: Vec<Request>,
    /// How many requests are sent in all (each of `requests` in turn).
    pub repeat: u64,
    /// How many of them are in flight at once.
    pub concurrency: u64,
    /// `cache "cold"`: every request starts on an empty prompt cache, and is checked to.
    pub cold: bool,
    /// `replay "traces/x.jsonl"`: a captured session's requests, sent in place of `requests`.
    pub replay: Option<Replay>,
    /// `client "claude" "-p" …`: a real agent client run against the server, through a
    /// recording proxy, in place of `requests`.
    pub client: Option<Client>,
}

/// An agent client run once per `repeat` against each configuration's server.
#[derive(Debug, Clone)]
pub struct Client {
    pub at: Location,
    /// The program and its arguments; `{proxy}` is the proxy's URL, `{axis}` the cell's value.
    pub argv: Vec<String>,
    /// `client-env KEY="value" …`: set for the client, beside the base URLs pointing at the proxy.
    pub env: BTreeMap<String, String>,
    /// `workdir "repos/sample"`: a folder, relative to the manifest, copied afresh for every run
    /// and the client's working directory.
    pub workdir: Option<Spanned<String>>,
}

/// A trace replayed: its requests sent in order, each after the previous reply, or at their
/// recorded offsets.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The trace file, relative to the manifest.
    pub path: Spanned<String>,
    /// `timing "recorded"`: each request waits for its recorded offset from the session's start.
    pub recorded: bool,
}

/// The HTTP API a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    Completion,
    OpenaiChat,
    AnthropicMessages,
}

impl Api {
    pub const NAMES: [&'static str; 3] = ["completion", "openai-chat", "anthropic-messages"];

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "completion" => Self::Completion,
            "openai-chat" => Self::OpenaiChat,
            "anthropic-messages" => Self::AnthropicMessages,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub at: Location,
    pub api: Api,
    /// Literal fields (`prompt`, `system`, `max-tokens`, sampling settings) as text.
    pub fields: BTreeMap<String, String>,
    /// `prompt-file` and `system-file`, relative to the manifest.
    pub files: BTreeMap<String, Spanned<String>>,
    /// A `conversation`'s turns: each sent with the earlier turns and the server's replies.
    /// Empty for a `request`.
    pub turns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub at: Location,
    pub args: Vec<Template>,
    pub metrics: Vec<MetricSpec>,
}

/// `quality { corpus …; reference axis=value…; args … }`: llama-perplexity over a text, each
/// configuration against the reference configuration's next-token distributions.
#[derive(Debug, Clone)]
pub struct Quality {
    pub at: Location,
    /// The text scored, relative to the manifest: a declared input.
    pub corpus: Option<Spanned<String>>,
    /// Axis values of the reference configuration; empty: the report's `baseline`.
    pub reference: Vec<(Spanned<String>, Spanned<String>)>,
    pub args: Vec<Template>,
}

#[derive(Debug, Clone)]
pub struct MetricSpec {
    pub name: Spanned<String>,
    pub regex: Spanned<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ReportSpec {
    pub baseline: Vec<(Spanned<String>, Spanned<String>)>,
    pub tables: Vec<TableSpec>,
}

#[derive(Debug, Clone)]
pub struct TableSpec {
    pub at: Location,
    pub rows: Option<Spanned<String>>,
    pub columns: Option<Spanned<String>>,
    pub metric: Option<Spanned<String>>,
    /// `better="higher"` or `"lower"`: which way the metric improves, when its unit does not say.
    pub better: Option<Spanned<Better>>,
}

const CHILDREN: [&str; 15] = [
    "description",
    "matrix",
    "exclude",
    "include",
    "bench",
    "server",
    "workload",
    "command",
    "quality",
    "timeout",
    "retries",
    "stop-after",
    "rounds",
    "report",
    "search",
];
const REQUEST_TEXT_FIELDS: [&str; 2] = ["prompt", "system"];
const REQUEST_FILE_FIELDS: [&str; 2] = ["prompt-file", "system-file"];
const REQUEST_NUMBER_FIELDS: [&str; 8] =
    ["max-tokens", "temperature", "top-p", "top-k", "min-p", "seed", "repeat-penalty", "timeout"];

/// `stop-after N`, N at least 1.
fn decode_stop_after(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Spanned<u64>> {
    let help = "give the number of failed cells in a row after which a toolbox's other cells are skipped";
    bounded_count(decoder, node, "stop-after", 1..=u64::MAX, "no cell could ever run", help)
}

/// A whole number within `range`; outside it, a problem saying `reason` and `help`.
fn bounded_count(
    decoder: &mut Decoder<'_>,
    node: &KdlNode,
    what: &str,
    range: std::ops::RangeInclusive<u64>,
    reason: &str,
    help: &str,
) -> Option<Spanned<u64>> {
    let count = decoder.single_count(node)?;
    if !range.contains(&count.value) {
        decoder.report(
            count.at.span,
            ErrorKind::InvalidValue {
                what: what.to_owned(),
                value: count.value.to_string(),
                reason: reason.to_owned(),
            },
            help,
        );
        return None;
    }
    Some(count)
}

pub(super) fn decode(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Experiment> {
    decoder.check_properties(node, &["extends"]);
    let name = decoder.single_string(node)?;
    if let Some(reason) = unusable_name(&name.value) {
        decoder.report(
            name.at.span,
            ErrorKind::InvalidValue { what: "experiment name".to_owned(), value: name.value.clone(), reason },
            "use letters, digits, `-`, `_` and `.`: the report is written to `results/<name>/`",
        );
    }
    let mut experiment = Experiment::empty(name, decoder.string_property(node, "extends"), decoder.file);
    for child in decoder.children(node) {
        let once = |decoder: &mut Decoder<'_>, present: bool| {
            if present {
                decoder.report(
                    child.name().span(),
                    ErrorKind::Duplicate { what: "node".to_owned(), name: child.name().value().to_owned() },
                    "an experiment has one of these; merge the two",
                );
            }
        };
        match child.name().value() {
            "description" => {
                decoder.check_properties(child, &[]);
                once(decoder, experiment.description.is_some());
                experiment.description = decoder.single_string(child).map(|text| text.value);
            }
            "matrix" => {
                decoder.check_properties(child, &[]);
                decoder.check_no_arguments(child);
                once(decoder, !experiment.axes.is_empty());
                experiment.axes = decode_matrix(decoder, child);
            }
            "exclude" => experiment.excludes.extend(decode_filter(decoder, child)),
            "include" => experiment.includes.extend(decode_filter(decoder, child)),
            "bench" => {
                once(decoder, experiment.bench.is_some());
                experiment.bench = Some(decode_bench(decoder, child));
            }
            "server" => {
                once(decoder, experiment.server.is_some());
                experiment.server = Some(decode_server(decoder, child));
            }
            "workload" => {
                if let Some(workload) = decode_workload(decoder, child) {
                    push_workload(decoder, &mut experiment.workloads, workload);
                }
            }
            "command" => {
                once(decoder, experiment.command.is_some());
                experiment.command = Some(decode_command(decoder, child));
            }
            "quality" => {
                once(decoder, experiment.quality.is_some());
                experiment.quality = Some(decode_quality(decoder, child));
            }
            "timeout" => {
                once(decoder, experiment.timeout.is_some());
                experiment.timeout = decode_timeout(decoder, child);
            }
            "retries" => {
                decoder.check_properties(child, &[]);
                once(decoder, experiment.retries.is_some());
                experiment.retries = decoder.single_count(child);
            }
            "stop-after" => {
                decoder.check_properties(child, &[]);
                once(decoder, experiment.stop_after.is_some());
                experiment.stop_after = decode_stop_after(decoder, child);
            }
            "rounds" => {
                once(decoder, experiment.rounds.is_some());
                (experiment.rounds, experiment.rounds_until) = super::rounds::decode_rounds(decoder, child);
            }
            "report" => {
                once(decoder, experiment.report.is_some());
                experiment.report = Some(decode_report(decoder, child));
            }
            "search" => {
                once(decoder, experiment.search.is_some());
                experiment.search = super::search::decode_search(decoder, child);
            }
            _ => decoder.unknown_node(child, &format!("experiment `{}`", experiment.name.value), &CHILDREN),
        }
    }
    Some(experiment)
}

fn push_workload(decoder: &mut Decoder<'_>, workloads: &mut Vec<Workload>, workload: Workload) {
    if workloads.iter().any(|other| other.name.value == workload.name.value) {
        decoder.report(
            workload.name.at.span,
            ErrorKind::Duplicate { what: "workload".to_owned(), name: workload.name.value.clone() },
            "give each workload its own name",
        );
    }
    workloads.push(workload);
}

fn decode_timeout(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Spanned<u64>> {
    decoder.check_properties(node, &[]);
    let help = "give the seconds a cell may take, e.g. `timeout 1800`";
    bounded_count(decoder, node, "timeout", 1..=u64::MAX, "a cell cannot finish in 0 seconds", help)
}

fn decode_matrix(decoder: &mut Decoder<'_>, node: &KdlNode) -> Vec<Axis> {
    let mut axes: Vec<Axis> = Vec::new();
    let mut variants: Option<Axis> = None;
    for child in decoder.children(node) {
        let axis_name = child.name().value();
        if axis_name == "variant" {
            decoder.check_properties(child, &[]);
            let Some(value) = decoder.single_string(child) else {
                continue;
            };
            let args = decode_block_args(decoder, child, &["args"]);
            let axis = variants.get_or_insert_with(|| Axis {
                name: Spanned::new("variant".to_owned(), decoder.at(child.name().span())),
                values: Vec::new(),
            });
            if axis.values.iter().any(|other| other.value.value == value.value) {
                decoder.report(
                    value.at.span,
                    ErrorKind::Duplicate { what: "variant".to_owned(), name: value.value.clone() },
                    "give each variant its own name",
                );
            }
            axis.values.push(AxisValue { value, args });
            continue;
        }
        decoder.check_properties(child, &[]);
        decoder.check_no_children(child);
        if let Some(bad) = axis_name.chars().find(|c| matches!(c, '=' | ',' | '/' | '{' | '}' | ':')) {
            decoder.report(
                child.name().span(),
                ErrorKind::InvalidValue {
                    what: "axis name".to_owned(),
                    value: axis_name.to_owned(),
                    reason: format!("`{bad}` cannot appear in an axis name"),
                },
                "use letters, digits, `-` and `_`",
            );
            continue;
        }
        let at = decoder.at(child.name().span());
        if axes.iter().any(|axis| axis.name.value == axis_name) {
            decoder.report(
                child.name().span(),
                ErrorKind::Duplicate { what: "axis".to_owned(), name: axis_name.to_owned() },
                "list all values of an axis on one line",
            );
            continue;
        }
        let mut values: Vec<AxisValue> = Vec::new();
        for entry in decoder.arguments(child) {
            let Some(value) = decoder.scalar(child, entry) else {
                continue;
            };
            if values.iter().any(|other| other.value.value == value.value) {
                decoder.report(
                    entry.span(),
                    ErrorKind::Duplicate { what: format!("axis `{axis_name}` value"), name: value.value.clone() },
                    "remove the repeated value",
                );
                continue;
            }
            values.push(AxisValue { value, args: Vec::new() });
        }
        if values.is_empty() {
            decoder.report(
                child.name().span(),
                ErrorKind::EmptyAxis(axis_name.to_owned()),
                format!("give it at least one value, e.g. `{axis_name} 0 4096`, or remove the line"),
            );
            continue;
        }
        axes.push(Axis { name: Spanned::new(axis_name.to_owned(), at), values });
    }
    axes.extend(variants);
    axes
}

fn decode_filter(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Filter> {
    decoder.check_no_arguments(node);
    decoder.check_no_children(node);
    let mut conditions = Vec::new();
    for entry in node.entries() {
        let Some(key) = entry.name() else { continue };
        if let Some(value) = decoder.scalar(node, entry) {
            conditions.push((Spanned::new(key.value().to_owned(), decoder.at(key.span())), value));
        }
    }
    if conditions.is_empty() {
        decoder.report(
            node.span(),
            ErrorKind::MissingValue {
                node: format!("`{}`", node.name().value()),
                what: "at least one `axis=value`".to_owned(),
            },
            format!("write e.g. `{} toolbox=\"llama-rocm-*\" fa=1`", node.name().value()),
        );
        return None;
    }
    Some(Filter { at: decoder.at(node.name().span()), conditions })
}

/// The `args` of a block such as `bench { args … }`; other allowed names are left to the caller.
fn decode_block_args(decoder: &mut Decoder<'_>, node: &KdlNode, allowed: &[&str]) -> Vec<Template> {
    let mut args = Vec::new();
    for child in decoder.children(node) {
        if child.name().value() == "args" {
            decoder.check_properties(child, &[]);
            args.extend(decode_args(decoder, child));
        } else if !allowed.contains(&child.name().value()) {
            decoder.unknown_node(child, &format!("`{}`", node.name().value()), allowed);
        }
    }
    args
}

/// Every positional value of an `args` node as a template.
pub(super) fn decode_args(decoder: &mut Decoder<'_>, node: &KdlNode) -> Vec<Template> {
    let mut templates = Vec::new();
    for entry in decoder.arguments(node) {
        let Some(text) = decoder.scalar(node, entry) else {
            continue;
        };
        let parts = if matches!(entry.value(), KdlValue::String(_)) {
            match template::parse(&text.value) {
                Ok(parts) => parts,
                Err(error) => {
                    decoder.report(
                        entry.span(),
                        ErrorKind::InvalidValue {
                            what: "argument".to_owned(),
                            value: text.value,
                            reason: error.to_string(),
                        },
                        "placeholders are `{axis}`, `{variant}`, `{model}`, `{model:NAME}` and `{file:PATH}`",
                    );
                    continue;
                }
            }
        } else {
            vec![template::Part::Text(text.value.clone())]
        };
        templates.push(Template { parts, text: text.value, at: text.at });
    }
    templates
}

fn decode_server(decoder: &mut Decoder<'_>, node: &KdlNode) -> Server {
    decoder.check_properties(node, &[]);
    decoder.check_no_arguments(node);
    let mut ready_timeout = None;
    for child in decoder.children(node) {
        if child.name().value() == "ready-timeout" {
            decoder.check_properties(child, &[]);
            ready_timeout = decoder.single_count(child).map(|value| value.value);
        }
    }
    let args = decode_block_args(decoder, node, &["args", "ready-timeout"]);
    Server { at: decoder.at(node.name().span()), args, ready_timeout }
}

/// What a `workload` holds.
const WORKLOAD_CHILDREN: [&str; 10] = [
    "request",
    "conversation",
    "replay",
    "timing",
    "client",
    "client-env",
    "workdir",
    "repeat",
    "concurrency",
    "cache",
];

fn decode_workload(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Workload> {
    decoder.check_properties(node, &[]);
    let name = decoder.single_string(node)?;
    let mut requests = Vec::new();
    let mut request_nodes = 0;
    let mut repeat = 1;
    let mut concurrency = 1;
    let mut cold = false;
    let mut conversations = 0;
    let mut replay: Option<Replay> = None;
    let mut recorded = false;
    let mut client: Option<Client> = None;
    for child in decoder.children(node) {
        match child.name().value() {
            "request" | "conversation" => {
                request_nodes += 1;
                conversations += usize::from(child.name().value() == "conversation");
                requests.extend(decode_request(decoder, child));
            }
            "repeat" | "concurrency" => {
                let what = child.name().value();
                decoder.check_properties(child, &[]);
                if let Some(count) = decoder.single_count(child) {
                    if count.value == 0 {
                        decoder.report(
                            count.at.span,
                            ErrorKind::InvalidValue {
                                what: what.to_owned(),
                                value: "0".to_owned(),
                                reason: if what == "repeat" {
                                    "a workload runs at least once".to_owned()
                                } else {
                                    "at least one request is in flight".to_owned()
                                },
                            },
                            format!("use `{what} 1` or more"),
                        );
                    }
                    if what == "repeat" {
                        repeat = count.value;
                    } else {
                        concurrency = count.value;
                    }
                }
            }
            "client" | "client-env" | "workdir" => decode_client_node(decoder, child, &mut client),
            "replay" => {
                decoder.check_properties(child, &[]);
                if let Some(path) = decoder.single_string(child) {
                    replay = Some(Replay { path, recorded: false });
                }
            }
            "timing" => {
                if let Some(value) = decode_timing(decoder, child) {
                    recorded = value;
                }
            }
            "cache" => {
                if let Some(value) = decode_cache(decoder, child) {
                    cold = value;
                }
            }
            _ => decoder.unknown_node(child, &format!("workload `{}`", name.value), &WORKLOAD_CHILDREN),
        }
    }
    if conversations > 0 && (request_nodes > 1 || concurrency > 1) {
        decoder.report(
            node.name().span(),
            ErrorKind::Inconsistent(format!(
                "workload `{}` has a `conversation` beside other requests or `concurrency`",
                name.value
            )),
            "a conversation is the workload's one request node, its turns sent one after another; `repeat` runs it again",
        );
    }
    if let Some(replay) = &mut replay {
        replay.recorded = recorded;
    }
    check_replay(decoder, node, &name.value, replay.as_ref(), recorded, request_nodes > 0 || concurrency > 1);
    if let Some(found) = &client {
        check_client(decoder, &name.value, found, request_nodes > 0 || concurrency > 1 || replay.is_some());
    }
    if request_nodes == 0 && replay.is_none() && client.is_none() {
        decoder.report(
            name.at.span,
            ErrorKind::MissingValue {
                node: format!("workload `{}`", name.value),
                what: "a `request`, a `conversation`, a `replay` or a `client`".to_owned(),
            },
            "add e.g. `request api=\"openai-chat\" prompt=\"Say hello.\" max-tokens=64`",
        );
    }
    Some(Workload { name, requests, repeat, concurrency, cold, replay, client })
}

/// `client`, `client-env` or `workdir` into the workload's client.
fn decode_client_node(decoder: &mut Decoder<'_>, node: &KdlNode, client: &mut Option<Client>) {
    let at = decoder.at(node.name().span());
    let found = client.get_or_insert_with(|| Client { at, argv: Vec::new(), env: BTreeMap::new(), workdir: None });
    match node.name().value() {
        "client" => {
            decoder.check_properties(node, &[]);
            let argv: Vec<String> = node
                .entries()
                .iter()
                .filter_map(|entry| decoder.scalar(node, entry))
                .map(|value| value.value)
                .collect();
            if argv.is_empty() {
                decoder.report(
                    node.name().span(),
                    ErrorKind::MissingValue { node: "client".to_owned(), what: "a program".to_owned() },
                    "write e.g. `client \"claude\" \"-p\" \"What does this repository do?\"`",
                );
            }
            found.at = at;
            found.argv = argv;
        }
        "client-env" => {
            decoder.check_no_arguments(node);
            for entry in node.entries() {
                if let (Some(key), Some(value)) = (entry.name(), decoder.scalar(node, entry)) {
                    found.env.insert(key.value().to_owned(), value.value);
                }
            }
        }
        _ => {
            decoder.check_properties(node, &[]);
            found.workdir = decoder.single_string(node);
        }
    }
}

/// A client is its workload's only source of requests, and `client-env`/`workdir` need one.
fn check_client(decoder: &mut Decoder<'_>, name: &str, client: &Client, beside_requests: bool) {
    if client.argv.is_empty() {
        decoder.report(
            client.at.span,
            ErrorKind::Inconsistent(format!("workload `{name}` has `client-env` or `workdir` but no `client`")),
            "add the program to run: `client \"claude\" \"-p\" \"…\"`",
        );
    } else if beside_requests {
        decoder.report(
            client.at.span,
            ErrorKind::Inconsistent(format!(
                "workload `{name}` has a `client` beside requests, a replay or `concurrency`"
            )),
            "a client makes its own requests; put others in another workload",
        );
    }
}

/// A replay is its workload's only source of requests, sent one at a time; a `timing` needs one.
fn check_replay(
    decoder: &mut Decoder<'_>,
    node: &KdlNode,
    name: &str,
    replay: Option<&Replay>,
    recorded: bool,
    beside_requests: bool,
) {
    match replay {
        Some(replay) if beside_requests => decoder.report(
            replay.path.at.span,
            ErrorKind::Inconsistent(format!("workload `{name}` has a `replay` beside requests or `concurrency`")),
            "a replay sends its trace's requests in order, one at a time; put other requests in another workload",
        ),
        None if recorded => decoder.report(
            node.name().span(),
            ErrorKind::Inconsistent(format!("workload `{name}` has a `timing` but no `replay`")),
            "`timing` says how a trace's requests are spaced: add `replay \"traces/FILE.jsonl\"`",
        ),
        _ => {}
    }
}

/// `timing "recorded"` (true) or `"back-to-back"` (false) in a replay workload.
fn decode_timing(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<bool> {
    decoder.check_properties(node, &[]);
    let value = decoder.single_string(node)?;
    match value.value.as_str() {
        "recorded" => Some(true),
        "back-to-back" => Some(false),
        other => {
            decoder.report(
                value.at.span,
                ErrorKind::InvalidValue {
                    what: "timing".to_owned(),
                    value: other.to_owned(),
                    reason: "a replay's timing is `recorded` or `back-to-back`".to_owned(),
                },
                "`timing \"recorded\"` keeps the captured gaps between requests; `back-to-back` (the default) sends each after the previous reply",
            );
            None
        }
    }
}

/// `cache "cold"` (true) or `"warm"` (false).
fn decode_cache(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<bool> {
    decoder.check_properties(node, &[]);
    let value = decoder.single_string(node)?;
    match value.value.as_str() {
        "cold" => Some(true),
        "warm" => Some(false),
        other => {
            decoder.report(
                value.at.span,
                ErrorKind::InvalidValue {
                    what: "cache".to_owned(),
                    value: other.to_owned(),
                    reason: "a cache is `cold` or `warm`".to_owned(),
                },
                "`cache \"cold\"` starts every request on an empty prompt cache; `warm` (the default) lets the server reuse it",
            );
            None
        }
    }
}

/// A `request`, or a `conversation` (the same properties but the prompt, and `turn` children).
fn decode_request(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Request> {
    let conversation = node.name().value() == "conversation";
    let mut allowed = vec!["api"];
    allowed.extend(REQUEST_TEXT_FIELDS.iter().filter(|key| !conversation || **key != "prompt"));
    allowed.extend(REQUEST_FILE_FIELDS.iter().filter(|key| !conversation || **key != "prompt-file"));
    allowed.extend(REQUEST_NUMBER_FIELDS);
    decoder.check_properties(node, &allowed);
    decoder.check_no_arguments(node);
    let mut turns = Vec::new();
    if conversation {
        for child in decoder.children(node) {
            if child.name().value() == "turn" {
                decoder.check_properties(child, &[]);
                turns.extend(decoder.single_string(child).map(|turn| turn.value));
            } else {
                decoder.unknown_node(child, "`conversation`", &["turn"]);
            }
        }
        if turns.is_empty() {
            decoder.report(
                node.name().span(),
                ErrorKind::MissingValue { node: "`conversation`".to_owned(), what: "a `turn`".to_owned() },
                "add the user's turns: `conversation api=\"openai-chat\" { turn \"…\"; turn \"…\" }`",
            );
        }
    } else {
        decoder.check_no_children(node);
    }
    let at = decoder.at(node.name().span());
    let api = match decoder.string_property(node, "api") {
        None => Api::OpenaiChat,
        Some(name) => match Api::from_name(&name.value) {
            Some(api) => api,
            None => {
                let help = suggest::help_for(&name.value, Api::NAMES, "APIs");
                decoder.report(
                    name.at.span,
                    ErrorKind::InvalidValue {
                        what: "api".to_owned(),
                        value: name.value,
                        reason: "not a known API".to_owned(),
                    },
                    help,
                );
                return None;
            }
        },
    };
    let mut fields = BTreeMap::new();
    for key in REQUEST_TEXT_FIELDS {
        if let Some(text) = decoder.string_property(node, key) {
            fields.insert(key.to_owned(), text.value);
        }
    }
    for key in REQUEST_NUMBER_FIELDS {
        let Some(entry) = node.entries().iter().find(|entry| entry.name().is_some_and(|name| name.value() == key))
        else {
            continue;
        };
        match entry.value() {
            KdlValue::Integer(_) | KdlValue::Float(_) => {
                if let Some(text) = super::decode::value_text(entry) {
                    fields.insert(key.to_owned(), text);
                }
            }
            other => decoder.wrong_type(node, entry, &format!("a number for `{key}`"), other),
        }
    }
    let mut files = BTreeMap::new();
    for key in REQUEST_FILE_FIELDS {
        if let Some(path) = decoder.string_property(node, key) {
            files.insert(key.to_owned(), path);
        }
    }
    if !conversation && !fields.contains_key("prompt") && !files.contains_key("prompt-file") {
        decoder.report(
            node.name().span(),
            ErrorKind::MissingValue { node: "`request`".to_owned(), what: "a `prompt` or `prompt-file`".to_owned() },
            "add `prompt=\"…\"` or `prompt-file=\"prompts/….txt\"`",
        );
    }
    Some(Request { at, api, fields, files, turns })
}

fn decode_command(decoder: &mut Decoder<'_>, node: &KdlNode) -> CommandSpec {
    decoder.check_properties(node, &[]);
    decoder.check_no_arguments(node);
    let mut metrics = Vec::new();
    for child in decoder.children(node) {
        if child.name().value() != "metric" {
            continue;
        }
        decoder.check_properties(child, &["regex"]);
        let Some(name) = decoder.single_string(child) else {
            continue;
        };
        let Some(regex) = decoder.string_property(child, "regex") else {
            decoder.report(
                child.name().span(),
                ErrorKind::MissingValue { node: format!("metric `{}`", name.value), what: "a `regex=`".to_owned() },
                "add `regex=\"speed: ([0-9.]+)\"`; its first group is the value",
            );
            continue;
        };
        if let Err(error) = regex::Regex::new(&regex.value) {
            decoder.report(
                regex.at.span,
                ErrorKind::InvalidValue {
                    what: "regex".to_owned(),
                    value: regex.value.clone(),
                    // The regex crate draws a multi-line caret diagram; its last line says what is wrong.
                    reason: error
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim_start_matches("error: ")
                        .to_owned(),
                },
                "escape regex metacharacters with `\\\\` inside a KDL string, or use a raw string #\"…\"#",
            );
        } else if metrics.iter().any(|other: &MetricSpec| other.name.value == name.value) {
            decoder.report(
                name.at.span,
                ErrorKind::Duplicate { what: "metric".to_owned(), name: name.value.clone() },
                "give each metric its own name",
            );
        } else {
            metrics.push(MetricSpec { name, regex });
        }
    }
    let args = decode_block_args(decoder, node, &["args", "metric"]);
    if args.is_empty() {
        decoder.report(
            node.name().span(),
            ErrorKind::MissingValue { node: "`command`".to_owned(), what: "`args`".to_owned() },
            "add `args \"program\" \"--flag\" …`",
        );
    }
    CommandSpec { at: decoder.at(node.name().span()), args, metrics }
}

fn decode_bench(decoder: &mut Decoder<'_>, node: &KdlNode) -> Bench {
    decoder.check_properties(node, &[]);
    decoder.check_no_arguments(node);
    let args = decode_block_args(decoder, node, &["args"]);
    Bench { at: decoder.at(node.name().span()), args }
}

fn decode_quality(decoder: &mut Decoder<'_>, node: &KdlNode) -> Quality {
    decoder.check_properties(node, &[]);
    decoder.check_no_arguments(node);
    let mut corpus = None;
    let mut reference = Vec::new();
    for child in decoder.children(node) {
        match child.name().value() {
            "corpus" => {
                decoder.check_properties(child, &[]);
                decoder.check_no_children(child);
                corpus = decoder.single_string(child);
            }
            "reference" => {
                if let Some(filter) = decode_filter(decoder, child) {
                    reference = filter.conditions;
                }
            }
            _ => {}
        }
    }
    let args = decode_block_args(decoder, node, &["args", "corpus", "reference"]);
    if corpus.is_none() {
        decoder.report(
            node.name().span(),
            ErrorKind::MissingValue { node: "`quality`".to_owned(), what: "a `corpus`".to_owned() },
            "add `corpus \"prompts/wiki.test.raw\"`: the text llama-perplexity scores",
        );
    }
    Quality { at: decoder.at(node.name().span()), corpus, reference, args }
}

/// Why `name` cannot name an experiment: it becomes the report's directory in `results/`.
fn unusable_name(name: &str) -> Option<String> {
    if name.is_empty() || name.starts_with('.') {
        Some("it must not be empty or start with `.`".to_owned())
    } else if !name.chars().all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character)) {
        Some("it must be usable as a directory name".to_owned())
    } else {
        crate::reserved::reserved_reason(name)
    }
}

fn decode_report(decoder: &mut Decoder<'_>, node: &KdlNode) -> ReportSpec {
    decoder.check_properties(node, &[]);
    decoder.check_no_arguments(node);
    let mut report = ReportSpec::default();
    for child in decoder.children(node) {
        match child.name().value() {
            "baseline" => {
                if let Some(filter) = decode_filter(decoder, child) {
                    report.baseline = filter.conditions;
                }
            }
            "table" => {
                decoder.check_properties(child, &["rows", "columns", "metric", "better"]);
                decoder.check_no_arguments(child);
                let written = decoder.string_property(child, "better");
                let better = written
                    .as_ref()
                    .and_then(|better| Better::parse(&better.value).map(|value| Spanned { value, at: better.at }));
                if let Some(better) = written.as_ref().filter(|_| better.is_none()) {
                    decoder.report(
                        better.at.span,
                        ErrorKind::InvalidValue {
                            what: "better".to_owned(),
                            value: better.value.clone(),
                            reason: "a metric gets better when it is higher or lower".to_owned(),
                        },
                        "write `better=\"higher\"` or `better=\"lower\"`",
                    );
                }
                report.tables.push(TableSpec {
                    at: decoder.at(child.name().span()),
                    rows: decoder.string_property(child, "rows"),
                    columns: decoder.string_property(child, "columns"),
                    metric: decoder.string_property(child, "metric"),
                    better,
                });
            }
            _ => decoder.unknown_node(child, "`report`", &["baseline", "table"]),
        }
    }
    report
}
