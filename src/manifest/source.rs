//! Manifest source files: their text, display names and the locations that point into them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub usize);

/// A place in a manifest: the file and the byte span inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub file: FileId,
    pub span: SourceSpan,
}

/// One manifest file as read from disk.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The canonical path, used to tell whether two imports name the same file.
    pub path: PathBuf,
    /// The path shown to people: relative to the project root where possible.
    pub display: String,
    pub text: Arc<String>,
}

impl SourceFile {
    /// The directory that relative paths in this file are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub fn named_source(&self) -> NamedSource<Arc<String>> {
        NamedSource::new(&self.display, Arc::clone(&self.text)).with_language("kdl")
    }
}

/// Every manifest file loaded for one invocation.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() - 1)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|file| file.path == path).map(FileId)
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(index, file)| (FileId(index), file))
    }

    pub fn named_source(&self, location: Location) -> NamedSource<Arc<String>> {
        self.get(location.file).named_source()
    }
}

/// A value together with the place in a manifest it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub at: Location,
}

impl<T> Spanned<T> {
    pub fn new(value: T, at: Location) -> Self {
        Self { value, at }
    }
}
