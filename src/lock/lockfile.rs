//! `bakeoff.lock`: the pinned inputs (model hashes and sizes, file hashes, toolbox images).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;

pub(crate) const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    pub format: u32,
    pub models: BTreeMap<String, LockedModel>,
    pub files: BTreeMap<String, LockedFile>,
    pub toolboxes: BTreeMap<String, LockedToolbox>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedModel {
    pub file: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedFile {
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedToolbox {
    pub runner: String,
    pub image: Option<String>,
    /// Filled in when the toolbox is inspected.
    pub digest: Option<String>,
    pub llama_cpp: Option<String>,
    /// The host whose inspection pinned `digest` and `llama_cpp`. On that host a difference is
    /// an error (the image changed under the user); on another it is that machine's build,
    /// shown in the plan and recorded with each result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_on: Option<PinnedOn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedOn {
    pub id: String,
    pub name: String,
}

/// A toolbox on this host that differs from what bakeoff.lock pinned on another host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LockDrift {
    pub toolbox: String,
    /// `image digest` or `llama.cpp build`.
    pub what: String,
    pub locked: String,
    pub found: String,
    /// The name of the host that pinned the locked value.
    pub pinned_on: String,
}

impl std::fmt::Display for LockDrift {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "toolbox `{}`: {} {} here, {} in bakeoff.lock (pinned on {})",
            self.toolbox, self.what, self.found, self.locked, self.pinned_on
        )
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("cannot read `{path}`")]
    #[diagnostic(code(bakeoff::lock::unreadable), help("check the file's permissions"))]
    Unreadable {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("`{path}` is not a valid lock file: {message}")]
    #[diagnostic(
        code(bakeoff::lock::invalid),
        help("restore it from git (`git checkout -- bakeoff.lock`), or delete it and run `bakeoff lock`")
    )]
    Invalid { path: String, message: String },
    #[error(
        "model `{model}` at `{path}` does not match bakeoff.lock: locked sha256 {locked} ({locked_size} bytes), found sha256 {found} ({found_size} bytes)"
    )]
    #[diagnostic(
        code(bakeoff::lock::model_mismatch),
        help("if the new file is intended, accept it with `bakeoff lock`; otherwise restore the locked file")
    )]
    ModelMismatch { model: String, path: String, locked: String, locked_size: u64, found: String, found_size: u64 },
    #[error("toolbox `{toolbox}` has another {what} than bakeoff.lock: locked {locked}, found {found}")]
    #[diagnostic(
        code(bakeoff::lock::toolbox_mismatch),
        help("if the new image or build is intended, accept it with `bakeoff lock`; otherwise restore the locked one")
    )]
    ToolboxMismatch { toolbox: String, what: String, locked: String, found: String },
    #[error("cannot write `{path}`")]
    #[diagnostic(code(bakeoff::lock::unwritable))]
    Unwritable {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl LockFile {
    /// Reads the lock; `Ok(None)` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<Self>, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LockError::Unreadable { path: path.display().to_string(), source });
            }
        };
        Self::parse(&text, &path.display().to_string()).map(Some)
    }

    /// The lock in `text`, read from `path`.
    pub fn parse(text: &str, path: &str) -> Result<Self, LockError> {
        let lock: Self = serde_json::from_str(text)
            .map_err(|error| LockError::Invalid { path: path.to_owned(), message: error.to_string() })?;
        if lock.format != FORMAT {
            return Err(LockError::Invalid {
                path: path.to_owned(),
                message: format!("format {} is not the supported format {FORMAT}", lock.format),
            });
        }
        Ok(lock)
    }

    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        let mut text = serde_json::to_string_pretty(self).expect("a lock file always serialises");
        text.push('\n');
        write_atomic(path, text.as_bytes())
            .map_err(|source| LockError::Unwritable { path: path.display().to_string(), source })
    }

    /// Every pinned value that differs from `old`, as `what: old → new` lines.
    pub fn changes_since(&self, old: &Self) -> Vec<String> {
        let mut lines = Vec::new();
        diff_maps(&old.models, &self.models, "model", &mut lines, |model| {
            format!("sha256 {} ({} bytes, {})", model.sha256, model.size, model.file)
        });
        diff_maps(&old.files, &self.files, "file", &mut lines, |file| format!("sha256 {}", file.sha256));
        diff_maps(&old.toolboxes, &self.toolboxes, "toolbox", &mut lines, |toolbox| {
            let pinned_on = toolbox.pinned_on.as_ref().map(|host| format!(" (pinned on {})", host.name));
            format!(
                "{} {} digest {} llama.cpp {}{}",
                toolbox.runner,
                toolbox.image.as_deref().unwrap_or("(no image)"),
                toolbox.digest.as_deref().unwrap_or("(not inspected)"),
                toolbox.llama_cpp.as_deref().unwrap_or("(not inspected)"),
                pinned_on.unwrap_or_default()
            )
        });
        lines
    }
}

fn diff_maps<T: PartialEq>(
    old: &BTreeMap<String, T>,
    new: &BTreeMap<String, T>,
    what: &str,
    lines: &mut Vec<String>,
    show: impl Fn(&T) -> String,
) {
    for (name, value) in new {
        match old.get(name) {
            None => lines.push(format!("{what} `{name}`: (none) → {}", show(value))),
            Some(previous) if previous != value => {
                lines.push(format!("{what} `{name}`: {} → {}", show(previous), show(value)));
            }
            Some(_) => {}
        }
    }
    for (name, value) in old {
        if !new.contains_key(name) {
            lines.push(format!("{what} `{name}`: {} → (none)", show(value)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock() -> LockFile {
        let mut lock = LockFile { format: FORMAT, ..LockFile::default() };
        lock.models.insert("m".to_owned(), LockedModel { file: "m.gguf".to_owned(), sha256: "aa".to_owned(), size: 4 });
        lock.toolboxes.insert(
            "radv".to_owned(),
            LockedToolbox {
                runner: "toolbox".to_owned(),
                image: Some("docker.io/kyuz0/amd-strix-halo-toolboxes:vulkan-radv".to_owned()),
                digest: Some("sha256:4a5e".to_owned()),
                llama_cpp: Some("b7100".to_owned()),
                pinned_on: Some(PinnedOn { id: "0123".to_owned(), name: "strix-1".to_owned() }),
            },
        );
        lock
    }

    #[test]
    fn a_saved_lock_loads_as_it_was_and_a_missing_one_is_none() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("bakeoff.lock");
        assert!(LockFile::load(&path).unwrap().is_none());
        lock().save(&path).unwrap();
        assert_eq!(LockFile::load(&path).unwrap(), Some(lock()));
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"), "a newline at the end, for git");
    }

    #[test]
    fn another_format_or_bad_json_is_an_error_naming_the_file() {
        let other = LockFile::parse(r#"{"format": 2, "models": {}, "files": {}, "toolboxes": {}}"#, "bakeoff.lock");
        assert!(
            matches!(&other, Err(LockError::Invalid { path, message }) if path == "bakeoff.lock" && message.contains("format 2")),
            "{other:?}"
        );
        assert!(matches!(LockFile::parse("{", "x.lock"), Err(LockError::Invalid { .. })));
    }

    #[test]
    fn changes_name_each_pin_old_and_new() {
        let old = lock();
        let mut new = lock();
        new.models.get_mut("m").unwrap().sha256 = "bb".to_owned();
        new.files.insert("prompts/p.txt".to_owned(), LockedFile { sha256: "cc".to_owned() });
        new.toolboxes.remove("radv");
        assert_eq!(
            new.changes_since(&old),
            [
                "model `m`: sha256 aa (4 bytes, m.gguf) → sha256 bb (4 bytes, m.gguf)",
                "file `prompts/p.txt`: (none) → sha256 cc",
                "toolbox `radv`: toolbox docker.io/kyuz0/amd-strix-halo-toolboxes:vulkan-radv digest sha256:4a5e llama.cpp \
                 b7100 (pinned on strix-1) → (none)",
            ]
        );
        assert!(old.changes_since(&old).is_empty());
    }
}
