//! Manifest diagnostics: one stable code per kind of problem, each pointing at its cause.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity, SourceSpan};

use super::source::{Location, SourceMap};

/// What is wrong, with the user's values; the message reads right without colour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("{0}")]
    Syntax(String),
    #[error("cannot read `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("import cycle: {0}")]
    ImportCycle(String),
    #[error("unknown node `{name}` in {context}")]
    UnknownNode { name: String, context: String },
    #[error("unknown property `{name}` on `{node}`")]
    UnknownProperty { name: String, node: String },
    #[error("{node} needs {what}")]
    MissingValue { node: String, what: String },
    #[error("`{node}` takes {expected}, found {found}")]
    WrongType { node: String, expected: String, found: String },
    #[error("`{node}` takes {expected}")]
    TooManyValues { node: String, expected: String },
    #[error("{what} `{name}` is declared twice")]
    Duplicate { what: String, name: String },
    #[error("unknown toolbox `{0}`")]
    UnknownToolbox(String),
    #[error("unknown model `{0}`")]
    UnknownModel(String),
    #[error("unknown axis `{0}`")]
    UnknownAxis(String),
    #[error("unknown variant `{0}`")]
    UnknownVariant(String),
    #[error("unknown experiment `{0}`")]
    UnknownExperiment(String),
    #[error("`extends` cycle: {0}")]
    ExtendsCycle(String),
    #[error("axis `{0}` has no values")]
    EmptyAxis(String),
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidValue { what: String, value: String, reason: String },
    #[error("experiment `{0}` has nothing to run")]
    NothingToRun(String),
    #[error("{0}")]
    Inconsistent(String),
    #[error("unknown placeholder `{{{0}}}`")]
    UnknownPlaceholder(String),
    #[error("file `{0}` does not exist")]
    MissingFile(String),
    #[error("argument `{0}` looks like a path to an undeclared file")]
    UndeclaredPath(String),
    #[error("`{file}` left out: {errors} error(s) in it; {what}")]
    LeftOut { file: String, errors: usize, what: String },
}

impl ErrorKind {
    /// The stable code shown with the diagnostic and documented for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Syntax(_) => "bakeoff::manifest::syntax",
            Self::Unreadable { .. } => "bakeoff::manifest::unreadable",
            Self::ImportCycle(_) => "bakeoff::manifest::import_cycle",
            Self::UnknownNode { .. } => "bakeoff::manifest::unknown_node",
            Self::UnknownProperty { .. } => "bakeoff::manifest::unknown_property",
            Self::MissingValue { .. } => "bakeoff::manifest::missing_value",
            Self::WrongType { .. } => "bakeoff::manifest::wrong_type",
            Self::TooManyValues { .. } => "bakeoff::manifest::too_many_values",
            Self::Duplicate { .. } => "bakeoff::manifest::duplicate",
            Self::UnknownToolbox(_) => "bakeoff::manifest::unknown_toolbox",
            Self::UnknownModel(_) => "bakeoff::manifest::unknown_model",
            Self::UnknownAxis(_) => "bakeoff::manifest::unknown_axis",
            Self::UnknownVariant(_) => "bakeoff::manifest::unknown_variant",
            Self::UnknownExperiment(_) => "bakeoff::manifest::unknown_experiment",
            Self::ExtendsCycle(_) => "bakeoff::manifest::extends_cycle",
            Self::EmptyAxis(_) => "bakeoff::manifest::empty_axis",
            Self::InvalidValue { .. } => "bakeoff::manifest::invalid_value",
            Self::NothingToRun(_) => "bakeoff::manifest::nothing_to_run",
            Self::Inconsistent(_) => "bakeoff::manifest::inconsistent",
            Self::UnknownPlaceholder(_) => "bakeoff::manifest::unknown_placeholder",
            Self::MissingFile(_) => "bakeoff::manifest::missing_file",
            Self::UndeclaredPath(_) => "bakeoff::manifest::undeclared_path",
            Self::LeftOut { .. } => "bakeoff::manifest::left_out",
        }
    }
}

/// One problem in one manifest, pointing at the file, line and column of its cause.
#[derive(Debug, Clone)]
pub struct ManifestError {
    pub kind: ErrorKind,
    pub severity: Severity,
    pub at: Location,
    source: NamedSource<Arc<String>>,
    label: Option<String>,
    help: Option<String>,
}

impl ManifestError {
    pub fn new(sources: &SourceMap, at: Location, kind: ErrorKind) -> Self {
        Self { kind, severity: Severity::Error, at, source: sources.named_source(at), label: None, help: None }
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(formatter)
    }
}

impl std::error::Error for ManifestError {}

impl Diagnostic for ManifestError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }

    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label = self.label.clone().unwrap_or_else(|| "here".to_owned());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(Some(label), self.at.span))))
    }
}

/// Every problem found in one load, reported together.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{summary}")]
pub struct ManifestErrors {
    summary: String,
    pub problems: Vec<ManifestError>,
}

impl ManifestErrors {
    pub fn new(problems: Vec<ManifestError>) -> Self {
        let errors = problems.iter().filter(|problem| problem.is_error()).count();
        let summary = if errors == 1 {
            "found 1 problem in the manifests".to_owned()
        } else {
            format!("found {errors} problems in the manifests")
        };
        Self { summary, problems }
    }
}

impl Diagnostic for ManifestErrors {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("bakeoff::manifest"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("nothing was run; fix the manifests and try `bakeoff check` again"))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|problem| problem as &dyn Diagnostic)))
    }
}

/// Collects problems while decoding so that all of them are reported in one go.
#[derive(Debug, Default)]
pub(super) struct Problems {
    pub list: Vec<ManifestError>,
}

impl Problems {
    pub(super) fn push(&mut self, problem: ManifestError) {
        self.list.push(problem);
    }
}

/// Converts a span-less length into a miette span at `offset`.
pub(super) fn span(offset: usize, length: usize) -> SourceSpan {
    SourceSpan::new(offset.into(), length)
}
