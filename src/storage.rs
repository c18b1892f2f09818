//! The storage root (`--storage DIR`, `BAKEOFF_STORAGE`): one folder, a machine setting like
//! the model roots, under which everything bakeoff writes outside the project goes (its digest
//! and inspection caches, the quality bases, temporary files) and every child it starts keeps
//! its temporary files and caches (`TMPDIR`, `XDG_CACHE_HOME`, `XDG_DATA_HOME`,
//! `XDG_STATE_HOME`, `HF_HOME`, `PIP_CACHE_DIR`), unless the manifest's `env` sets them. A
//! campaign whose files must all be on one disk says so with `storage "strict"`: `check`,
//! `plan` and `run` then refuse a project, `results/` or a toolbox mount outside the root.
//! Without a root, nothing changes.

use std::path::{Path, PathBuf};

/// A storage root that cannot be used, or what `storage "strict"` refuses.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(code(bakeoff::storage::refused))]
pub struct StorageError {
    pub message: String,
    #[help]
    pub help: String,
}

/// The variable that sets the root when `--storage` does not.
pub const STORAGE_VARIABLE: &str = "BAKEOFF_STORAGE";

/// The variables every child gets, each with its folder under the root.
pub const CHILD_FOLDERS: [(&str, &str); 6] = [
    ("TMPDIR", "tmp"),
    ("XDG_CACHE_HOME", "cache"),
    ("XDG_DATA_HOME", "data"),
    ("XDG_STATE_HOME", "state"),
    ("HF_HOME", "huggingface"),
    ("PIP_CACHE_DIR", "pip"),
];

/// What podman, toolbox and distrobox themselves keep of the user's environment: rootless
/// podman keeps its images and containers under `XDG_DATA_HOME`, so with the root's there it
/// would find none of them. What runs inside a container still gets the root's (`-e`, `env`).
const KEPT_FOR_CONTAINER_TOOLS: [&str; 1] = ["XDG_DATA_HOME"];

/// Where a process started by bakeoff finds the user's own value of one of them.
const OWN_PREFIX: &str = "BAKEOFF_OWN_";

/// The user's own value of `variable`: what a bakeoff above this one handed on, else the
/// environment's.
fn users_own(variable: &str) -> Option<std::ffi::OsString> {
    match std::env::var_os(format!("{OWN_PREFIX}{variable}")) {
        Some(value) if value.is_empty() => None,
        Some(value) => Some(value),
        None => std::env::var_os(variable),
    }
}

/// Those variables as the user had them before [`Storage::apply_to_process`].
static USERS_OWN: std::sync::OnceLock<Vec<(&'static str, Option<std::ffi::OsString>)>> = std::sync::OnceLock::new();

/// Gives a container tool (podman, toolbox, distrobox) the user's own `XDG_DATA_HOME` back;
/// nothing without a storage root.
pub(crate) fn for_container_tool(command: &mut tokio::process::Command, program: &Path) {
    let Some(kept) = USERS_OWN.get() else { return };
    let name = program.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    if !matches!(name, "podman" | "toolbox" | "distrobox") {
        return;
    }
    for (variable, value) in kept {
        match value {
            Some(value) => command.env(variable, value),
            None => command.env_remove(variable),
        };
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// `--storage DIR`, else `BAKEOFF_STORAGE`: an existing folder, made absolute, with the
    /// children's folders made in it. `None` when neither is set.
    pub fn from_settings(option: Option<&Path>) -> Result<Option<Self>, StorageError> {
        let from_variable = std::env::var_os(STORAGE_VARIABLE).filter(|value| !value.is_empty()).map(PathBuf::from);
        let (given, how) = match (option, from_variable) {
            (Some(path), _) => (path.to_path_buf(), "--storage"),
            (None, Some(path)) => (path, STORAGE_VARIABLE),
            (None, None) => return Ok(None),
        };
        let root = given.canonicalize().map_err(|error| StorageError {
            message: format!("the storage root `{}` ({how}) cannot be used: {error}", given.display()),
            help: "make the folder first (`mkdir -p`), on the disk the campaign is to write to".to_owned(),
        })?;
        if !root.is_dir() {
            return Err(StorageError {
                message: format!("the storage root `{}` ({how}) is not a folder", given.display()),
                help: "name a folder on the disk the campaign is to write to".to_owned(),
            });
        }
        let storage = Self { root };
        for (_, folder) in CHILD_FOLDERS {
            let path = storage.root.join(folder);
            std::fs::create_dir_all(&path).map_err(|error| StorageError {
                message: format!("cannot make `{}` under the storage root: {error}", path.display()),
                help: "the storage root must be writable by this user".to_owned(),
            })?;
        }
        Ok(Some(storage))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the quality references' base logits of the store at `results` go (hundreds of MB
    /// to tens of GB each): a folder per store, so that one project's `gc` never removes
    /// another's bases.
    pub fn bases_dir(&self, results: &Path) -> PathBuf {
        use sha2::Digest as _;
        let results = resolved(results);
        let digest = crate::digest::hex(&sha2::Sha256::digest(results.as_os_str().as_encoded_bytes()));
        let name = results
            .parent()
            .and_then(Path::file_name)
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        self.root.join("bases").join(format!("{name}-{}", &digest[..12]))
    }

    /// The variables children get, each a folder under the root.
    pub fn child_env(&self) -> Vec<(String, String)> {
        CHILD_FOLDERS
            .iter()
            .map(|(variable, folder)| ((*variable).to_owned(), self.root.join(folder).display().to_string()))
            .collect()
    }

    /// Sets the children's variables (and `BAKEOFF_STORAGE`, for a Slurm job's bakeoff) in this
    /// process's environment: every child inherits them, and bakeoff's own caches and
    /// temporary files follow `XDG_CACHE_HOME` and `TMPDIR`. Called once, at the start, before
    /// any other thread exists.
    pub fn apply_to_process(&self) {
        let own: Vec<(&'static str, Option<std::ffi::OsString>)> =
            KEPT_FOR_CONTAINER_TOOLS.map(|variable| (variable, users_own(variable))).into();
        // A Slurm job's bakeoff inherits this process's environment: it finds the user's own
        // values under `BAKEOFF_OWN_…` (empty for unset), not the root's.
        let handed_on: Vec<(String, std::ffi::OsString)> = own
            .iter()
            .map(|(variable, value)| (format!("{OWN_PREFIX}{variable}"), value.clone().unwrap_or_default()))
            .collect();
        let _ = USERS_OWN.set(own);
        for (variable, value) in self
            .child_env()
            .into_iter()
            .map(|(variable, value)| (variable, std::ffi::OsString::from(value)))
            .chain([(STORAGE_VARIABLE.to_owned(), self.root.clone().into_os_string())])
            .chain(handed_on)
        {
            // SAFETY: the command line calls this first, while the process has one thread, so
            // nothing reads the environment concurrently.
            unsafe { std::env::set_var(variable, value) };
        }
    }

    /// Whether `path` lies under the root, its symlinks resolved (a path not made yet: its
    /// nearest existing folder's).
    pub fn holds(&self, path: &Path) -> bool {
        resolved(path).starts_with(&self.root)
    }
}

/// `path` with its symlinks resolved as far as it exists, the rest appended.
fn resolved(path: &Path) -> PathBuf {
    let absolute =
        if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest.iter().rev().fold(canonical, |path, part| path.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_held_by_where_it_resolves_to() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path().join("raid");
        std::fs::create_dir_all(&root).unwrap();
        let storage = Storage { root: root.canonicalize().unwrap() };
        assert!(storage.holds(&root.join("project/results/not-yet")));
        assert!(!storage.holds(directory.path()));
        // A link under the root to a folder outside it is outside.
        let outside = directory.path().join("home");
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        assert!(!storage.holds(&root.join("link/results")));
    }
}
