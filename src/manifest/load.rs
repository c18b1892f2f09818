//! Reading manifest files, following `import`s, and decoding their top-level nodes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kdl::KdlDocument;

use super::decode::Decoder;
use super::error::{ErrorKind, ManifestError, Problems, span};
use super::experiment::{self, Experiment};
use super::model::{self, Model};
use super::source::{FileId, Location, SourceFile, SourceMap, Spanned};
use super::toolbox::{self, Toolbox};

/// Everything declared in the loaded files, before names are cross-checked.
#[derive(Debug, Default)]
pub(super) struct Declarations {
    pub toolboxes: Vec<Toolbox>,
    pub models: Vec<Model>,
    pub experiments: Vec<Experiment>,
    /// `storage "strict"` (or `"warn"`), each where it was written.
    pub storage: Vec<Spanned<StoragePolicy>>,
}

const TOP_LEVEL: [&str; 5] = ["import", "toolbox", "model", "experiment", "storage"];

/// Loads the given files and everything they import. A file named twice is read once.
pub(super) struct Loader<'a> {
    root: &'a Path,
    pub sources: SourceMap,
    pub problems: Problems,
    pub declarations: Declarations,
    /// Files being loaded, innermost last, to detect import cycles.
    stack: Vec<PathBuf>,
}

impl<'a> Loader<'a> {
    pub(super) fn new(root: &'a Path) -> Self {
        Self {
            root,
            sources: SourceMap::default(),
            problems: Problems::default(),
            declarations: Declarations::default(),
            stack: Vec::new(),
        }
    }

    /// Loads a file named on the command line or found in `experiments/`.
    pub(super) fn load_file(&mut self, path: &Path) -> Result<(), std::io::Error> {
        let canonical = path.canonicalize()?;
        if self.sources.find(&canonical).is_some() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&canonical)?;
        self.load_text(canonical, text);
        Ok(())
    }

    /// Decodes `text` as the file at `path` (already canonical).
    pub(super) fn load_text(&mut self, path: PathBuf, text: String) -> FileId {
        let display = display_path(self.root, &path);
        let file = self.sources.add(SourceFile { path: path.clone(), display, text: Arc::new(text) });
        let text = Arc::clone(&self.sources.get(file).text);
        let document = match KdlDocument::parse(&text) {
            Ok(document) => document,
            Err(error) => {
                for diagnostic in error.diagnostics {
                    let message = diagnostic.message.unwrap_or_else(|| "invalid KDL".to_owned());
                    let mut problem = ManifestError::new(
                        &self.sources,
                        Location { file, span: diagnostic.span },
                        ErrorKind::Syntax(lowercase_first(&message)),
                    )
                    .help(diagnostic.help.unwrap_or_else(|| "see https://kdl.dev for the KDL syntax".to_owned()));
                    if let Some(label) = diagnostic.label {
                        problem = problem.label(label);
                    }
                    self.problems.push(problem);
                }
                return file;
            }
        };
        self.stack.push(path);
        for node in document.nodes() {
            if node.name().value() == "import" {
                self.import(file, node);
                continue;
            }
            let mut decoder = Decoder { sources: &self.sources, file, problems: &mut self.problems };
            match node.name().value() {
                "toolbox" => self.declarations.toolboxes.extend(toolbox::decode(&mut decoder, node)),
                "model" => self.declarations.models.extend(model::decode(&mut decoder, node)),
                "experiment" => self.declarations.experiments.extend(experiment::decode(&mut decoder, node)),
                "storage" => self.declarations.storage.extend(decode_storage(&mut decoder, node)),
                _ => decoder.unknown_node(node, "a manifest", &TOP_LEVEL),
            }
        }
        self.stack.pop();
        file
    }

    fn import(&mut self, file: FileId, node: &kdl::KdlNode) {
        let mut decoder = Decoder { sources: &self.sources, file, problems: &mut self.problems };
        decoder.check_properties(node, &[]);
        decoder.check_no_children(node);
        let Some(target) = decoder.single_string(node) else {
            return;
        };
        let at = target.at;
        let joined = self.sources.get(file).dir().join(&target.value);
        let canonical = match joined.canonicalize() {
            Ok(canonical) => canonical,
            Err(error) => {
                let problem = ManifestError::new(
                    &self.sources,
                    at,
                    ErrorKind::Unreadable { path: target.value.clone(), reason: error.to_string() },
                )
                .help(format!("the path is relative to this file: looked for `{}`", display_path(self.root, &joined)));
                self.problems.push(problem);
                return;
            }
        };
        if let Some(position) = self.stack.iter().position(|open| *open == canonical) {
            let mut chain: Vec<String> =
                self.stack[position..].iter().map(|path| display_path(self.root, path)).collect();
            chain.push(display_path(self.root, &canonical));
            let problem = ManifestError::new(&self.sources, at, ErrorKind::ImportCycle(chain.join(" → ")))
                .help("remove one of these imports; each file needs importing once");
            self.problems.push(problem);
            return;
        }
        if self.sources.find(&canonical).is_some() {
            return;
        }
        match std::fs::read_to_string(&canonical) {
            Ok(text) => {
                self.load_text(canonical, text);
            }
            Err(error) => {
                let problem = ManifestError::new(
                    &self.sources,
                    at,
                    ErrorKind::Unreadable { path: target.value.clone(), reason: error.to_string() },
                )
                .help("import a readable UTF-8 KDL file");
                self.problems.push(problem);
            }
        }
    }

    /// A location for things that have no place in a file, such as the built-in host toolbox.
    pub(super) fn nowhere(&self) -> Location {
        Location { file: FileId(0), span: span(0, 0) }
    }
}

/// `path` relative to the project root where it is inside it.
pub fn display_path(root: &Path, path: &Path) -> String {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    path.strip_prefix(&root).unwrap_or(path).display().to_string()
}

fn lowercase_first(message: &str) -> String {
    let mut characters = message.chars();
    match characters.next() {
        Some(first) if !message.starts_with("KDL") => first.to_lowercase().chain(characters).collect(),
        _ => message.to_owned(),
    }
}

/// What the project asks of where bakeoff writes, beside a storage root (`--storage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoragePolicy {
    /// `check`, `plan` and `run` say what lies outside the root (the default).
    Warn,
    /// They refuse: a project whose files must all be on one disk.
    Strict,
}

/// `storage "strict"` or `storage "warn"`.
fn decode_storage(decoder: &mut Decoder<'_>, node: &kdl::KdlNode) -> Option<Spanned<StoragePolicy>> {
    decoder.check_properties(node, &[]);
    decoder.check_no_children(node);
    let value = decoder.single_string(node)?;
    let policy = match value.value.as_str() {
        "strict" => StoragePolicy::Strict,
        "warn" => StoragePolicy::Warn,
        other => {
            decoder.report(
                value.at.span,
                ErrorKind::InvalidValue {
                    what: "storage".to_owned(),
                    value: other.to_owned(),
                    reason: "not a storage policy".to_owned(),
                },
                "`storage \"strict\"` refuses to run when the project, results/ or a toolbox's mounts lie outside \
                 the storage root (`--storage DIR`); `storage \"warn\"` only says so",
            );
            return None;
        }
    };
    Some(Spanned { value: policy, at: value.at })
}
