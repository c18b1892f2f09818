//! Manifests: KDL files → a typed, validated model that keeps every span.

mod decode;
mod error;
mod experiment;
mod load;
mod model;
mod resolve;
mod source;
mod template;
mod toolbox;

use std::path::{Path, PathBuf};

pub use error::{ErrorKind, ManifestError, ManifestErrors};
pub use experiment::{
    Api, Axis, AxisValue, Bench, CommandSpec, Experiment, Filter, MetricSpec, ReportSpec, Request, Server, TableSpec,
    Workload,
};
pub use load::display_path;
pub use model::Model;
pub use resolve::{Manifests, line_column};
pub use source::{FileId, Location, SourceFile, SourceMap, Spanned};
pub use template::{Part, Template, looks_like_path};
pub use toolbox::{Runner, Toolbox};

/// Why a set of manifests could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("cannot read manifest `{path}`")]
    #[diagnostic(code(bakeoff::manifest::unreadable), help("check the path; manifests are UTF-8 KDL files"))]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] ManifestErrors),
}

/// Loads `files` (and their imports), relative paths shown against `root`.
pub fn load(root: &Path, files: &[PathBuf]) -> Result<Manifests, LoadError> {
    let mut loader = load::Loader::new(root);
    for file in files {
        loader
            .load_file(file)
            .map_err(|source| LoadError::Unreadable { path: file.display().to_string(), source })?;
    }
    finish(loader)
}

/// Loads manifest text as if it were the file at `path`; imports resolve beside it.
pub fn load_text(root: &Path, path: &Path, text: &str) -> Result<Manifests, LoadError> {
    let mut loader = load::Loader::new(root);
    loader.load_text(path.to_path_buf(), text.to_owned());
    finish(loader)
}

fn finish(mut loader: load::Loader<'_>) -> Result<Manifests, LoadError> {
    let builtin = loader.nowhere();
    let manifests =
        resolve::resolve(loader.sources, std::mem::take(&mut loader.declarations), builtin, &mut loader.problems);
    if loader.problems.has_errors() {
        return Err(ManifestErrors::new(loader.problems.list).into());
    }
    Ok(manifests)
}
