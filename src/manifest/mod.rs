//! Manifests: KDL files → a typed, validated model that keeps every span.

mod decode;
mod error;
mod experiment;
mod load;
mod model;
mod partial;
mod produces;
pub mod pseudo_axis;
mod resolve;
mod rounds;
mod search;
mod source;
mod template;
mod toolbox;

use std::path::{Path, PathBuf};

pub use error::{ErrorKind, ManifestError, ManifestErrors};
pub use experiment::{
    Api, Axis, AxisValue, Bench, Better, Client, CommandSpec, DEFAULT_TIMEOUT, Experiment, Filter, MetricSpec, Quality,
    Replay, ReportSpec, Request, Server, TableSpec, Workload,
};
pub use load::{StoragePolicy, display_path};
pub use model::Model;
pub use partial::load_for;
pub(crate) use produces::{BlockProduces, condition_axes, produces, swept_sizes};
pub use resolve::{Manifests, line_column};
pub use rounds::{Until, parse_until};
pub use search::{Keep, MAX_POINTS, Op, Search, Want, parse_keep};
pub use source::{FileId, Location, SourceFile, SourceMap, Spanned};
pub use template::{Part, Template, fill_path, looks_like_path};
pub use toolbox::{Backend, Runner, Toolbox};

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
        loader.load_file(file).map_err(|source| LoadError::Unreadable { path: file.display().to_string(), source })?;
    }
    finish_or_fail(loader)
}

/// Loads manifest text as if it were the file at `path`; imports resolve beside it.
pub fn load_text(root: &Path, path: &Path, text: &str) -> Result<Manifests, LoadError> {
    let mut loader = load::Loader::new(root);
    loader.load_text(path.to_path_buf(), text.to_owned());
    finish_or_fail(loader)
}

fn finish_or_fail(loader: load::Loader<'_>) -> Result<Manifests, LoadError> {
    let (manifests, problems) = finish(loader);
    if problems.iter().any(ManifestError::is_error) {
        return Err(ManifestErrors::new(problems).into());
    }
    Ok(manifests)
}

/// The manifests as far as they resolve, and every problem found on the way.
fn finish(mut loader: load::Loader<'_>) -> (Manifests, Vec<ManifestError>) {
    let builtin = loader.nowhere();
    let manifests =
        resolve::resolve(loader.sources, std::mem::take(&mut loader.declarations), builtin, &mut loader.problems);
    (manifests, loader.problems.list)
}

#[cfg(test)]
mod fuzz {
    //! The decoder never panics, whatever it is given. `PROPTEST_CASES` raises the count
    //! (scripts/fuzz-manifests.sh runs many more than the test suite does).

    use std::path::Path;

    use proptest::prelude::*;

    const VALID: &str = include_str!("../../experiments/glm-flash-quant.kdl");

    fn load(text: &str) {
        let _ = super::load_text(Path::new("/nonexistent"), Path::new("/nonexistent/fuzz.kdl"), text);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(1500)
        ))]

        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            load(&text);
        }

        #[test]
        fn kdl_shaped_text(text in r#"([a-z{}"=;/\\#() \n0-9.-]|model|toolbox|experiment|matrix|bench|args|include|exclude|extends=|\{[a-z:]*\}){0,80}"#) {
            load(&text);
        }

        #[test]
        fn mutated_valid_manifest(edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..8)) {
            let mut text: Vec<char> = VALID.chars().collect();
            for (index, operation, character) in edits {
                if text.is_empty() {
                    break;
                }
                let position = index.index(text.len());
                match operation {
                    0 => { text.remove(position); }
                    1 => text.insert(position, character),
                    _ => text[position] = character,
                }
            }
            load(&text.into_iter().collect::<String>());
        }
    }
}
