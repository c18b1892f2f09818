//! Loading the manifests for some experiments when another file is broken: a file with errors
//! that the named experiments cannot depend on is left out with a warning, so one broken
//! experiment does not stop `plan` or `report` of the others.
//!
//! A left-out file could still change what a named experiment means, and then nothing is left
//! out: when it declares a toolbox or model the experiment uses (broken, or a second definition
//! of a name declared elsewhere), when a named experiment or one it extends is declared there
//! or is missing without it, when only an import brings it in (a file that stays needs it), and
//! when its text does not parse (what it declares is unknown) while the experiment runs on the
//! built-in `host` toolbox, which it might have redefined.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::error::{ErrorKind, ManifestError, ManifestErrors};
use super::experiment::Experiment;
use super::load::{Loader, display_path};
use super::resolve::Manifests;
use super::template::Part;
use super::{LoadError, finish};

/// What one attempt at loading found: the resolved manifests, every problem, and what each file
/// declared (by name) before names were checked across files.
struct Attempt {
    manifests: Manifests,
    problems: Vec<ManifestError>,
    declared: Vec<(PathBuf, Declared)>,
}

/// What a declaration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Toolbox,
    Model,
    Experiment,
}

type Declared = (Kind, String);

fn attempt(root: &Path, files: &[PathBuf]) -> Result<Attempt, LoadError> {
    let mut loader = Loader::new(root);
    for file in files {
        loader.load_file(file).map_err(|source| LoadError::Unreadable { path: file.display().to_string(), source })?;
    }
    let declarations = &loader.declarations;
    let names = declarations
        .toolboxes
        .iter()
        .map(|toolbox| (Kind::Toolbox, &toolbox.name))
        .chain(declarations.models.iter().map(|model| (Kind::Model, &model.name)))
        .chain(declarations.experiments.iter().map(|experiment| (Kind::Experiment, &experiment.name)));
    let declared =
        names.map(|(kind, name)| (loader.sources.get(name.at.file).path.clone(), (kind, name.value.clone()))).collect();
    let (manifests, problems) = finish(loader);
    Ok(Attempt { manifests, problems, declared })
}

impl Attempt {
    fn has_errors(&self) -> bool {
        self.problems.iter().any(ManifestError::is_error)
    }

    /// The files with errors, each with its errors.
    fn broken(&self) -> BTreeMap<PathBuf, Vec<&ManifestError>> {
        let mut broken: BTreeMap<PathBuf, Vec<&ManifestError>> = BTreeMap::new();
        for problem in self.problems.iter().filter(|problem| problem.is_error()) {
            broken.entry(self.manifests.sources.get(problem.at.file).path.clone()).or_default().push(problem);
        }
        broken
    }
}

/// What the left-out files declared, as far as it could be read.
#[derive(Default)]
struct LeftOut {
    names: BTreeSet<Declared>,
    /// Some left-out file did not parse: what it declares is unknown.
    unparsed: bool,
    warnings: Vec<ManifestError>,
}

/// Loads `files` (and their imports) for the experiments `named`, relative paths shown against
/// `root`. With every file sound, or no name given, this is [`super::load`]. Otherwise a file
/// with errors that the named experiments cannot depend on is left out, its errors reported as
/// one warning (and so is a file broken only by what was left out, such as an experiment that
/// extends a left-out one); when they might depend on it, every error is reported as
/// [`super::load`] does.
pub fn load_for(root: &Path, files: &[PathBuf], named: &[String]) -> Result<Manifests, LoadError> {
    let first = attempt(root, files)?;
    if !first.has_errors() {
        return Ok(first.manifests);
    }
    let all_errors = || LoadError::Invalid(ManifestErrors::new(first.problems.clone()));
    if named.is_empty() {
        return Err(all_errors());
    }
    let canonical: Vec<(PathBuf, &PathBuf)> =
        files.iter().map(|file| (file.canonicalize().unwrap_or_else(|_| file.clone()), file)).collect();
    let mut left_out = LeftOut::default();
    let mut removed: BTreeSet<PathBuf> = BTreeSet::new();
    let mut current = None;
    // Each round leaves out at least one more file, so this ends.
    loop {
        let last = current.as_ref().unwrap_or(&first);
        if !last.has_errors() {
            break;
        }
        for (path, errors) in last.broken() {
            // A broken file that only an import brings in is needed by a file that stays.
            if !canonical.iter().any(|(file, _)| *file == path) || removed.contains(&path) {
                return Err(all_errors());
            }
            let declared: Vec<&Declared> =
                last.declared.iter().filter(|(file, _)| *file == path).map(|(_, declared)| declared).collect();
            let unparsed = errors.iter().any(|error| matches!(error.kind, ErrorKind::Syntax(_)));
            left_out.unparsed |= unparsed;
            left_out.warnings.push(warning(root, last, &path, &errors, &declared, unparsed));
            left_out.names.extend(declared.into_iter().cloned());
            removed.insert(path);
        }
        let kept: Vec<PathBuf> =
            canonical.iter().filter(|(path, _)| !removed.contains(path)).map(|(_, file)| (*file).clone()).collect();
        let Ok(next) = attempt(root, &kept) else {
            return Err(all_errors());
        };
        current = Some(next);
    }
    let Some(mut manifests) = current.map(|current| current.manifests) else {
        return Err(all_errors());
    };
    if !independent(&manifests, named, &left_out) {
        return Err(all_errors());
    }
    manifests.warnings.extend(left_out.warnings);
    Ok(manifests)
}

/// The warning for a left-out file: where its first error is, how many it has, and what it
/// declares.
fn warning(
    root: &Path,
    attempt: &Attempt,
    path: &Path,
    errors: &[&ManifestError],
    declared: &[&Declared],
    unparsed: bool,
) -> ManifestError {
    let experiments: Vec<String> =
        declared.iter().filter(|(kind, _)| *kind == Kind::Experiment).map(|(_, name)| format!("`{name}`")).collect();
    let what = match experiments.len() {
        _ if unparsed => "what it declares cannot be read".to_owned(),
        0 => "it declares no experiment".to_owned(),
        1 => format!("experiment {} is not loaded", experiments[0]),
        _ => format!("experiments {} are not loaded", experiments.join(", ")),
    };
    let file = display_path(root, path);
    ManifestError::new(
        &attempt.manifests.sources,
        errors[0].at,
        ErrorKind::LeftOut { file: file.clone(), errors: errors.len(), what },
    )
    .label(errors[0].kind.to_string())
    .help(format!("`bakeoff check {file}` lists its problems; naming an experiment of it, or none, stops on them"))
    .warning()
}

/// Whether the named experiments, loaded without the left-out files, mean what they would with
/// them: each is there, and uses no toolbox, model or parent experiment a left-out file declares
/// (nor the built-in `host` toolbox, when a left-out file could not be read).
fn independent(manifests: &Manifests, named: &[String], left_out: &LeftOut) -> bool {
    let declared = |kind: Kind, name: &str| left_out.names.contains(&(kind, name.to_owned()));
    let builtin_host = manifests.toolboxes.get("host").is_some_and(super::Toolbox::is_builtin);
    named.iter().all(|name| {
        let Some(experiment) = manifests.experiment(name) else {
            return false;
        };
        let toolboxes = used(experiment, "toolbox");
        let depends = declared(Kind::Experiment, name)
            || parents(manifests, experiment).iter().any(|parent| declared(Kind::Experiment, parent))
            || toolboxes.iter().any(|toolbox| declared(Kind::Toolbox, toolbox))
            || models_used(experiment).iter().any(|model| declared(Kind::Model, model))
            || (left_out.unparsed && builtin_host && toolboxes.contains("host"));
        !depends
    })
}

/// The values of an axis of `experiment` (the toolboxes of `toolbox`, the models of `model`).
fn used(experiment: &Experiment, axis: &str) -> BTreeSet<String> {
    experiment.axis_values(axis).into_iter().map(str::to_owned).collect()
}

/// The models `experiment` runs: its `model` axis and every `{model:NAME}`.
fn models_used(experiment: &Experiment) -> BTreeSet<String> {
    let mut models = used(experiment, "model");
    for template in experiment.command_templates().chain(experiment.variant_templates()) {
        for part in template.placeholders() {
            if let Part::ModelRef(name) = part {
                models.insert(name.clone());
            }
        }
    }
    models
}

/// The experiments `experiment` extends, nearest first.
fn parents(manifests: &Manifests, experiment: &Experiment) -> Vec<String> {
    let mut parents: Vec<String> = Vec::new();
    let mut next = experiment.extends.as_ref().map(|parent| parent.value.clone());
    while let Some(name) = next.filter(|name| !parents.contains(name)) {
        next =
            manifests.experiment(&name).and_then(|parent| parent.extends.as_ref().map(|parent| parent.value.clone()));
        parents.push(name);
    }
    parents
}
