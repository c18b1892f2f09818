//! Cross-file checks: unique names, `extends`, and every reference an experiment makes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::error::{ErrorKind, ManifestError, Problems};
use super::experiment::{Axis, AxisValue, Experiment, Filter};
use super::load::{Declarations, StoragePolicy};
use super::model::Model;
use super::source::{Location, SourceMap, Spanned};
use super::template::{self, Part, Template};
use super::toolbox::Toolbox;
use crate::glob::{glob_match, is_glob};
use crate::suggest;

/// The validated manifests: what the rest of bakeoff works from.
#[derive(Debug, Clone)]
pub struct Manifests {
    pub sources: SourceMap,
    pub toolboxes: BTreeMap<String, Toolbox>,
    pub models: BTreeMap<String, Model>,
    /// In the order they were declared, with `extends` applied.
    pub experiments: Vec<Experiment>,
    pub warnings: Vec<ManifestError>,
    /// `storage "strict"` or `"warn"`, where a manifest says; `None` is `warn`.
    pub storage: Option<Spanned<StoragePolicy>>,
}

impl Manifests {
    pub fn experiment(&self, name: &str) -> Option<&Experiment> {
        self.experiments.iter().find(|experiment| experiment.name.value == name)
    }

    /// The canonical path of a `{file:PATH}` or `prompt-file` named in the file of `at`.
    pub fn input_path(&self, at: Location, path: &str) -> PathBuf {
        self.sources.get(at.file).dir().join(path)
    }
}

/// Line and column (1-based) of a byte offset, for messages that point at another place.
pub fn line_column(sources: &SourceMap, at: Location) -> String {
    let file = sources.get(at.file);
    let before = &file.text[..at.span.offset().min(file.text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |newline| before.len() - newline - 1) + 1;
    format!("{}:{line}:{column}", file.display)
}

pub(super) fn resolve(
    sources: SourceMap,
    declarations: Declarations,
    builtin: Location,
    problems: &mut Problems,
) -> Manifests {
    let toolboxes = unique(&sources, declarations.toolboxes, |toolbox| &toolbox.name, "toolbox", problems);
    let mut toolboxes = toolboxes;
    toolboxes.entry("host".to_owned()).or_insert_with(|| Toolbox::builtin_host(builtin));
    let models = unique(&sources, declarations.models, |model| &model.name, "model", problems);
    let declared =
        unique(&sources, declarations.experiments.clone(), |experiment| &experiment.name, "experiment", problems);

    let mut experiments = Vec::new();
    let mut seen = BTreeSet::new();
    for experiment in &declarations.experiments {
        if !seen.insert(experiment.name.value.clone()) {
            continue;
        }
        let Some(mut merged) = merge_extends(&sources, &declared, experiment, problems) else {
            continue;
        };
        let mut checker = Checker { sources: &sources, toolboxes: &toolboxes, models: &models, problems };
        checker.check(&mut merged);
        experiments.push(merged);
    }
    let storage = storage_policy(&sources, &declarations.storage, problems);
    let warnings = problems.list.iter().filter(|problem| !problem.is_error()).cloned().collect();
    Manifests { sources, toolboxes, models, experiments, warnings, storage }
}

/// The one storage policy of the manifests: said twice the same way is fine, two ways is an
/// error at the second.
fn storage_policy(
    sources: &SourceMap,
    declared: &[Spanned<StoragePolicy>],
    problems: &mut Problems,
) -> Option<Spanned<StoragePolicy>> {
    let first = declared.first()?;
    for other in &declared[1..] {
        if other.value != first.value {
            problems.push(
                ManifestError::new(
                    sources,
                    other.at,
                    ErrorKind::Duplicate { what: "storage policy".to_owned(), name: "storage".to_owned() },
                )
                .help(format!("the first, at {}, says otherwise; keep one", line_column(sources, first.at))),
            );
        }
    }
    Some(first.clone())
}

fn unique<T>(
    sources: &SourceMap,
    items: Vec<T>,
    name: impl Fn(&T) -> &Spanned<String>,
    what: &str,
    problems: &mut Problems,
) -> BTreeMap<String, T> {
    let mut map: BTreeMap<String, T> = BTreeMap::new();
    for item in items {
        let key = name(&item).value.clone();
        if let Some(first) = map.get(&key) {
            let first = line_column(sources, name(first).at);
            problems.push(
                ManifestError::new(sources, name(&item).at, ErrorKind::Duplicate { what: what.to_owned(), name: key })
                    .help(format!("the first declaration is at {first}; rename or remove one")),
            );
            continue;
        }
        map.insert(key, item);
    }
    map
}

/// Applies the chain of `extends`; `None` when the chain is broken (already reported).
fn merge_extends(
    sources: &SourceMap,
    declared: &BTreeMap<String, Experiment>,
    experiment: &Experiment,
    problems: &mut Problems,
) -> Option<Experiment> {
    let mut chain = vec![experiment];
    let mut current = experiment;
    while let Some(parent_name) = &current.extends {
        let Some(parent) = declared.get(&parent_name.value) else {
            problems.push(
                ManifestError::new(sources, parent_name.at, ErrorKind::UnknownExperiment(parent_name.value.clone()))
                    .help(suggest::help_for(&parent_name.value, declared.keys().map(String::as_str), "experiments")),
            );
            return None;
        };
        if chain.iter().any(|link| link.name.value == parent.name.value) {
            let mut names: Vec<&str> = chain.iter().map(|link| link.name.value.as_str()).collect();
            names.push(&parent.name.value);
            // Every member of the cycle finds it; report it once, from the first by name.
            let start = names.iter().position(|name| *name == parent.name.value).unwrap_or(0);
            let members = &names[start..names.len() - 1];
            if members.iter().min() == Some(&experiment.name.value.as_str()) {
                problems.push(
                    ManifestError::new(sources, parent_name.at, ErrorKind::ExtendsCycle(names[start..].join(" → ")))
                        .help("an experiment cannot extend itself, directly or through others"),
                );
            }
            return None;
        }
        chain.push(parent);
        current = parent;
    }
    let mut merged = chain.pop()?.clone();
    while let Some(child) = chain.pop() {
        merged = apply(merged, child);
    }
    Some(merged)
}

/// `child` over `parent`: named axes replace the parent's, other nodes replace when present.
fn apply(parent: Experiment, child: &Experiment) -> Experiment {
    let mut axes = parent.axes;
    for axis in &child.axes {
        match axes.iter_mut().find(|existing| existing.name.value == axis.name.value) {
            Some(existing) => *existing = axis.clone(),
            None => axes.push(axis.clone()),
        }
    }
    Experiment {
        name: child.name.clone(),
        file: child.file,
        extends: child.extends.clone(),
        description: child.description.clone().or(parent.description),
        axes,
        excludes: parent.excludes.into_iter().chain(child.excludes.iter().cloned()).collect(),
        includes: parent.includes.into_iter().chain(child.includes.iter().cloned()).collect(),
        bench: child.bench.clone().or(parent.bench),
        server: child.server.clone().or(parent.server),
        workloads: if child.workloads.is_empty() { parent.workloads } else { child.workloads.clone() },
        command: child.command.clone().or(parent.command),
        quality: child.quality.clone().or(parent.quality),
        timeout: child.timeout.clone().or(parent.timeout),
        retries: child.retries.clone().or(parent.retries),
        stop_after: child.stop_after.clone().or(parent.stop_after),
        // `rounds` and its `until` go together.
        rounds_until: if child.rounds.is_some() { child.rounds_until.clone() } else { parent.rounds_until },
        rounds: child.rounds.clone().or(parent.rounds),
        report: child.report.clone().or(parent.report),
        search: child.search.clone().or(parent.search),
    }
}

struct Checker<'a> {
    sources: &'a SourceMap,
    toolboxes: &'a BTreeMap<String, Toolbox>,
    models: &'a BTreeMap<String, Model>,
    problems: &'a mut Problems,
}

impl Checker<'_> {
    fn push(&mut self, at: Location, kind: ErrorKind, help: String) {
        self.problems.push(ManifestError::new(self.sources, at, kind).help(help));
    }

    fn check(&mut self, experiment: &mut Experiment) {
        // Any workload name works, but a cell id names its workload: a server workload may not
        // share the name of the cells of the experiment's own `bench` or `command` block.
        for workload in &experiment.workloads {
            let taken = match workload.name.value.as_str() {
                "bench" => experiment.bench.is_some(),
                "command" => experiment.command.is_some(),
                "quality" => experiment.quality.is_some(),
                _ => false,
            };
            if taken {
                self.push(
                    workload.name.at,
                    ErrorKind::Duplicate { what: "workload".to_owned(), name: workload.name.value.clone() },
                    format!(
                        "the cells of this experiment's `{name}` block are called `{name}` too: rename the workload",
                        name = workload.name.value
                    ),
                );
            }
        }
        if let Some(search) = &experiment.search {
            // The searched axis takes the grid's values, as if the matrix listed them.
            if let Some(listed) = experiment.axis(&search.axis.value) {
                self.push(
                    listed.name.at,
                    ErrorKind::Duplicate { what: "axis".to_owned(), name: search.axis.value.clone() },
                    format!(
                        "`{}` is searched: its values come from the `search` range; remove it from the matrix",
                        search.axis.value
                    ),
                );
            } else {
                let at = search.axis.at;
                experiment.axes.push(Axis {
                    name: search.axis.clone(),
                    values: search
                        .grid()
                        .into_iter()
                        .map(|value| AxisValue { value: Spanned::new(value.to_string(), at), args: Vec::new() })
                        .collect(),
                });
            }
        }
        if experiment.axis("toolbox").is_none() {
            let at = experiment.name.at;
            experiment.axes.push(Axis {
                name: Spanned::new("toolbox".to_owned(), at),
                values: vec![AxisValue { value: Spanned::new("host".to_owned(), at), args: Vec::new() }],
            });
        }
        for axis in &experiment.axes {
            for value in &axis.values {
                self.check_axis_value(&axis.name.value, &value.value);
            }
        }
        self.check_runs(experiment);
        self.check_references(experiment);
    }

    /// What the cells run: something, and a server only together with its workloads.
    fn check_runs(&mut self, experiment: &Experiment) {
        let name = experiment.name.value.clone();
        let has_workloads = !experiment.workloads.is_empty();
        if experiment.bench.is_none()
            && experiment.server.is_none()
            && experiment.command.is_none()
            && experiment.quality.is_none()
        {
            self.push(
                experiment.name.at,
                ErrorKind::NothingToRun(name.clone()),
                "add a `bench { args … }`, a `server { … }` with `workload`s, a `command { args … }` or a \
                 `quality { … }`"
                    .to_owned(),
            );
        }
        if let Some(server) = &experiment.server
            && !has_workloads
        {
            self.push(
                server.at,
                ErrorKind::Inconsistent("`server` has no `workload` to send".to_owned()),
                "add `workload \"name\" { request prompt=\"…\" }` beside the server".to_owned(),
            );
        }
        if has_workloads && experiment.server.is_none() {
            self.push(
                experiment.workloads[0].name.at,
                ErrorKind::Inconsistent("`workload` without a `server` to send it to".to_owned()),
                "add `server { args … }`; bakeoff starts llama-server for the workloads".to_owned(),
            );
        }
        let needs_model = experiment
            .bench
            .as_ref()
            .map(|bench| bench.at)
            .or(experiment.server.as_ref().map(|server| server.at))
            .or(experiment.quality.as_ref().map(|quality| quality.at));
        if let Some(at) = needs_model
            && experiment.axis("model").is_none()
        {
            self.push(
                at,
                ErrorKind::Inconsistent(
                    "llama-bench, llama-server and llama-perplexity need a `model` axis".to_owned(),
                ),
                "add `model \"name\"` to the matrix; bakeoff passes its path with `-m`".to_owned(),
            );
        }
    }

    /// Filters, placeholders, declared files and the report name only what exists.
    fn check_references(&mut self, experiment: &Experiment) {
        for filter in &experiment.excludes {
            self.check_filter(experiment, filter, true);
        }
        for filter in &experiment.includes {
            self.check_filter(experiment, filter, false);
        }
        let templates: Vec<&Template> = experiment.command_templates().collect();
        let variant_args: Vec<&Template> = experiment.variant_templates().collect();
        let splices = templates.iter().any(|template| template.is_variant_splice());
        for template in templates.iter().copied() {
            self.check_template(experiment, template, true);
        }
        for template in variant_args.iter().copied() {
            self.check_template(experiment, template, false);
        }
        if !splices && !variant_args.is_empty() {
            let at = experiment.axis("variant").map_or(experiment.name.at, |axis| axis.name.at);
            self.problems.push(
                ManifestError::new(
                    self.sources,
                    at,
                    ErrorKind::Inconsistent("variant arguments are never used".to_owned()),
                )
                .help("put `\"{variant}\"` in the `args` where the variant's arguments belong")
                .warning(),
            );
        }
        for workload in &experiment.workloads {
            if let Some(replay) = &workload.replay {
                self.check_file(replay.path.at, &replay.path.value);
            }
            if let Some(workdir) = workload.client.as_ref().and_then(|client| client.workdir.as_ref()) {
                let full = self.sources.get(workdir.at.file).dir().join(&workdir.value);
                if !full.is_dir() {
                    self.push(
                        workdir.at,
                        ErrorKind::MissingFile(workdir.value.clone()),
                        format!(
                            "a client's workdir is a folder, relative to this manifest: looked for `{}`",
                            full.display()
                        ),
                    );
                }
            }
            for request in &workload.requests {
                for path in request.files.values() {
                    self.check_request_file(experiment, path);
                }
            }
        }
        if let Some(quality) = &experiment.quality {
            self.check_quality(experiment, quality);
        }
        if let Some(report) = &experiment.report {
            for (axis, value) in &report.baseline {
                self.check_filter_axis(experiment, axis, value, false);
                self.check_baseline_value(experiment, axis, value, "baseline");
            }
            let produced = super::produces::Produces::of(experiment);
            for table in &report.tables {
                for axis in [&table.rows, &table.columns].into_iter().flatten() {
                    if experiment.axis(&axis.value).is_none() && !super::pseudo_axis::is_pseudo_axis(&axis.value) {
                        self.unknown_axis(experiment, axis);
                    }
                }
                if let Some(metric) = table.metric.as_ref().filter(|metric| !produced.can(&metric.value)) {
                    let names = produced.listed();
                    let mut help =
                        suggest::help_for(&metric.value, names.iter().map(String::as_str), "metrics its cells record");
                    if produced.serves() {
                        help.push_str(
                            " (server metrics also come as `_first`, `_warm`, `_p50`/`_p90`/`_p99`, `_turnK_first` and `_turnK_warm`)",
                        );
                    }
                    self.problems.push(
                        ManifestError::new(
                            self.sources,
                            metric.at,
                            ErrorKind::Inconsistent(format!(
                                "no cell of `{}` records metric `{}`: this table stays empty",
                                experiment.name.value, metric.value
                            )),
                        )
                        .help(help)
                        .warning(),
                    );
                }
            }
        }
    }

    fn check_axis_value(&mut self, axis: &str, value: &Spanned<String>) {
        match axis {
            "model" if !self.models.contains_key(&value.value) => self.push(
                value.at,
                ErrorKind::UnknownModel(value.value.clone()),
                suggest::help_for(&value.value, self.models.keys().map(String::as_str), "models"),
            ),
            "toolbox" if !self.toolboxes.contains_key(&value.value) => self.push(
                value.at,
                ErrorKind::UnknownToolbox(value.value.clone()),
                suggest::help_for(&value.value, self.toolboxes.keys().map(String::as_str), "toolboxes"),
            ),
            _ => {}
        }
    }

    /// A baseline must be a configuration the matrix has: `baseline threads=3` on `threads 1 2`
    /// once passed, and the report then named a baseline no ratio was against. (Variants,
    /// models and toolboxes are checked by name with the other selectors.)
    fn check_baseline_value(
        &mut self,
        experiment: &Experiment,
        axis: &Spanned<String>,
        value: &Spanned<String>,
        what: &str,
    ) {
        if experiment.axis(&axis.value).is_none() || ["variant", "model", "toolbox"].contains(&axis.value.as_str()) {
            return;
        }
        let values = experiment.axis_values(&axis.value);
        if values.contains(&value.value.as_str()) {
            return;
        }
        let listed: Vec<String> = values.iter().map(|value| format!("`{value}`")).collect();
        self.push(
            value.at,
            ErrorKind::Inconsistent(format!("the {what} `{}={}` is no cell of the matrix", axis.value, value.value)),
            format!("axis `{}` has the values {}", axis.value, listed.join(", ")),
        );
    }

    fn unknown_axis(&mut self, experiment: &Experiment, axis: &Spanned<String>) {
        let help = suggest::help_for(&axis.value, experiment.axes.iter().map(|axis| axis.name.value.as_str()), "axes");
        self.push(axis.at, ErrorKind::UnknownAxis(axis.value.clone()), help);
    }

    fn check_filter(&mut self, experiment: &Experiment, filter: &Filter, exclude: bool) {
        for (axis, value) in &filter.conditions {
            self.check_filter_axis(experiment, axis, value, exclude);
        }
    }

    fn check_filter_axis(
        &mut self,
        experiment: &Experiment,
        axis: &Spanned<String>,
        value: &Spanned<String>,
        exclude: bool,
    ) {
        let Some(declared) = experiment.axis(&axis.value) else {
            self.unknown_axis(experiment, axis);
            return;
        };
        let matches = declared.values.iter().any(|candidate| {
            if exclude {
                glob_match(&value.value, &candidate.value.value)
            } else {
                candidate.value.value == value.value
            }
        });
        if matches {
            return;
        }
        match axis.value.as_str() {
            "variant" => self.push(
                value.at,
                ErrorKind::UnknownVariant(value.value.clone()),
                suggest::help_for(
                    &value.value,
                    declared.values.iter().map(|value| value.value.value.as_str()),
                    "variants",
                ),
            ),
            "model" | "toolbox" if !(exclude && is_glob(&value.value)) => {
                self.check_axis_value(&axis.value, value);
            }
            _ if exclude => self.problems.push(
                ManifestError::new(
                    self.sources,
                    value.at,
                    ErrorKind::Inconsistent(format!("`{}={}` excludes no cell", axis.value, value.value)),
                )
                .help(format!(
                    "axis `{}` has the values {}",
                    axis.value,
                    declared
                        .values
                        .iter()
                        .map(|value| format!("`{}`", value.value.value))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .warning(),
            ),
            _ => {}
        }
    }

    fn check_template(&mut self, experiment: &Experiment, template: &Template, variant_allowed: bool) {
        for part in template.placeholders() {
            match part {
                Part::Axis(axis) if experiment.axis(axis).is_none() => {
                    let names: Vec<&str> = experiment.axes.iter().map(|axis| axis.name.value.as_str()).collect();
                    self.push(
                        template.at,
                        ErrorKind::UnknownPlaceholder(axis.clone()),
                        suggest::help_for(axis, names, "axes"),
                    );
                }
                Part::Variant if !variant_allowed => self.push(
                    template.at,
                    ErrorKind::Inconsistent("a variant's arguments cannot contain `{variant}`".to_owned()),
                    "remove the placeholder".to_owned(),
                ),
                Part::Variant if experiment.axis("variant").is_none() => self.push(
                    template.at,
                    ErrorKind::UnknownPlaceholder("variant".to_owned()),
                    "declare variants in the matrix: `variant \"name\" { args … }`".to_owned(),
                ),
                Part::Variant if !template.is_variant_splice() => self.push(
                    template.at,
                    ErrorKind::Inconsistent("`{variant}` must be a whole argument".to_owned()),
                    "it is replaced by the variant's arguments; write `\"{variant}\"` on its own".to_owned(),
                ),
                Part::Model if experiment.axis("model").is_none() => self.push(
                    template.at,
                    ErrorKind::UnknownPlaceholder("model".to_owned()),
                    "add a `model` axis to the matrix, or name a model with `{model:NAME}`".to_owned(),
                ),
                Part::ModelRef(name) if !self.models.contains_key(name) => self.push(
                    template.at,
                    ErrorKind::UnknownModel(name.clone()),
                    suggest::help_for(name, self.models.keys().map(String::as_str), "models"),
                ),
                Part::File(path) => self.check_file(template.at, path),
                _ => {}
            }
        }
        if let [Part::Text(text)] = template.parts.as_slice()
            && template::looks_like_path(text)
        {
            self.problems.push(
                ManifestError::new(self.sources, template.at, ErrorKind::UndeclaredPath(text.clone()))
                    .help(format!("write `{{file:{text}}}` so that a change to the file reruns the cells that use it"))
                    .warning(),
            );
        }
    }

    /// A `prompt-file` or `system-file`: its placeholders are axes of the experiment, and the
    /// file exists for each value (each combination of values) they take.
    fn check_request_file(&mut self, experiment: &Experiment, path: &Spanned<String>) {
        let parts = match template::parse(&path.value) {
            Ok(parts) => parts,
            Err(error) => {
                let kind = ErrorKind::InvalidValue {
                    what: "path".to_owned(),
                    value: path.value.clone(),
                    reason: error.to_string(),
                };
                self.push(path.at, kind, "a path takes `{axis}` placeholders only".to_owned());
                return;
            }
        };
        for part in &parts {
            match part {
                Part::Text(_) => {}
                Part::Axis(name) => {
                    if experiment.axis(name).is_none() {
                        let names: Vec<&str> = experiment.axes.iter().map(|axis| axis.name.value.as_str()).collect();
                        self.push(
                            path.at,
                            ErrorKind::UnknownPlaceholder(name.clone()),
                            suggest::help_for(name, names, "axes"),
                        );
                        return;
                    }
                }
                _ => {
                    let kind = ErrorKind::InvalidValue {
                        what: "path".to_owned(),
                        value: path.value.clone(),
                        reason: "a path takes `{axis}` placeholders only".to_owned(),
                    };
                    self.push(
                        path.at,
                        kind,
                        "write the axis whose value names the file: `prompts/p{plen}.txt`".to_owned(),
                    );
                    return;
                }
            }
        }
        for filled in experiment.request_paths(&path.value) {
            self.check_file(path.at, &filled);
        }
    }

    /// The corpus is a file, the same for every configuration (their divergences are over one
    /// text), and the reference names values the matrix has.
    fn check_quality(&mut self, experiment: &Experiment, quality: &super::experiment::Quality) {
        if let Some(corpus) = &quality.corpus {
            if corpus.value.contains('{') {
                self.push(
                    corpus.at,
                    ErrorKind::InvalidValue {
                        what: "corpus".to_owned(),
                        value: corpus.value.clone(),
                        reason: "every configuration is scored on one text, the reference's".to_owned(),
                    },
                    "name one file; a second corpus is a second experiment".to_owned(),
                );
            } else {
                self.check_file(corpus.at, &corpus.value);
            }
        }
        if experiment.quality_reference().is_empty() {
            self.push(
                quality.at,
                ErrorKind::MissingValue {
                    node: "`quality`".to_owned(),
                    what: "a `reference` (or a report `baseline`)".to_owned(),
                },
                "add `reference model=\"…\"`: the configuration every other is measured against".to_owned(),
            );
        }
        for (axis, value) in &quality.reference {
            self.check_filter_axis(experiment, axis, value, false);
            self.check_baseline_value(experiment, axis, value, "reference");
        }
    }

    fn check_file(&mut self, at: Location, path: &str) {
        let full = self.sources.get(at.file).dir().join(path);
        if !full.is_file() {
            self.push(
                at,
                ErrorKind::MissingFile(path.to_owned()),
                format!("the path is relative to this manifest: looked for `{}`", full.display()),
            );
        }
    }
}
