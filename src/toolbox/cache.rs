//! What a toolbox's inspection found inside it (its llama.cpp build, the programs it lacks, its
//! driver stack), kept in the machine's cache beside the file hashes, so that a plan does not
//! start every container to ask `llama-bench --version` again. An entry is keyed by everything
//! that determines it: the toolbox's declaration, and the container's id with its image's id
//! (toolbox, distrobox), the image's id (podman), or the path, size and modification time of
//! each llama.cpp program (host). Any of those changing is a miss; an inspection that failed is
//! never kept, so what the cache says is what a fresh inspection would say.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Bump when what an entry holds, or how it is found, changes.
const FORMAT: u32 = 2;

/// What an inspection found inside a toolbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Found {
    pub(crate) llama_cpp: Option<String>,
    pub(crate) missing: BTreeMap<String, String>,
    pub(crate) driver: Option<String>,
    /// What each llama.cpp program's `--help` lists, by program.
    #[serde(default)]
    pub(crate) options: BTreeMap<String, crate::tool_options::ToolOptions>,
    /// Programs whose `--help` listed no option: not asked again for the same container (a
    /// `toolbox run` costs a second), and their arguments go unchecked.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub(crate) no_options: std::collections::BTreeSet<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    format: u32,
    entries: BTreeMap<String, Found>,
}

/// The cache, shared by the inspections of one command.
#[derive(Debug)]
pub(crate) struct InspectionCache {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, Found>>,
    /// Ask afresh, and keep what is found (`--no-cache`, `toolbox status --refresh`).
    fresh: bool,
    changed: Mutex<bool>,
}

impl InspectionCache {
    /// The cache at `path`; a missing or unreadable file is an empty cache.
    pub(crate) fn open(path: PathBuf, fresh: bool) -> Self {
        let entries = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<File>(&bytes).ok())
            .filter(|file| file.format == FORMAT)
            .map(|file| file.entries)
            .unwrap_or_default();
        Self { path, entries: Mutex::new(entries), fresh, changed: Mutex::new(false) }
    }

    /// The machine's cache: `inspections.json` beside the file hashes.
    pub(crate) fn default_path() -> PathBuf {
        crate::inputs::StatCache::default_path().with_file_name("inspections.json")
    }

    pub(crate) fn get(&self, key: &str) -> Option<Found> {
        if self.fresh {
            return None;
        }
        self.entries.lock().expect("cache lock").get(key).cloned()
    }

    pub(crate) fn put(&self, key: String, found: Found) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.get(&key) != Some(&found) {
            entries.insert(key, found);
            *self.changed.lock().expect("cache lock") = true;
        }
    }

    /// Writes the cache when it changed. A cache that cannot be written costs the next command
    /// its inspections, nothing else.
    pub(crate) fn save(&self) {
        if !*self.changed.lock().expect("cache lock") {
            return;
        }
        let file = File { format: FORMAT, entries: self.entries.lock().expect("cache lock").clone() };
        let Ok(bytes) = serde_json::to_vec(&file) else { return };
        if let Some(directory) = self.path.parent() {
            let _ = std::fs::create_dir_all(directory);
        }
        let _ = crate::atomic::write_atomic(&self.path, &bytes);
    }
}

/// The key of an inspection: a hash of the toolbox's declaration and of what it runs here.
pub(crate) fn key(declaration: &serde_json::Value, runs: &[String]) -> String {
    let text = serde_json::json!({ "format": FORMAT, "bakeoff": env!("CARGO_PKG_VERSION"), "toolbox": declaration, "runs": runs });
    crate::digest::hex(&<sha2::Sha256 as sha2::Digest>::digest(text.to_string().as_bytes()))
}

/// `path size mtime` of a program, what decides whether it is the one inspected before.
pub(crate) fn program_stamp(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(metadata) => {
            let modified = metadata
                .modified()
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |elapsed| elapsed.as_nanos());
            format!("{} {} {modified}", path.display(), metadata.len())
        }
        Err(_) => format!("{} (absent)", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_save_and_fresh_asks_again() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("cache/inspections.json");
        let found = Found { llama_cpp: Some("b7100".to_owned()), ..Found::default() };
        let cache = InspectionCache::open(path.clone(), false);
        cache.put("k".to_owned(), found.clone());
        cache.save();
        assert_eq!(InspectionCache::open(path.clone(), false).get("k"), Some(found.clone()));
        assert_eq!(InspectionCache::open(path.clone(), true).get("k"), None, "--no-cache asks afresh");
        assert_eq!(InspectionCache::open(path.clone(), false).get("other"), None);
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(InspectionCache::open(path, false).get("k"), None, "an unreadable cache is empty");
    }

    #[test]
    fn a_key_changes_with_the_declaration_and_with_what_runs() {
        let declaration = serde_json::json!({"runner": "podman", "image": "x"});
        let base = key(&declaration, &["sha256:1".to_owned()]);
        assert_eq!(base, key(&declaration, &["sha256:1".to_owned()]));
        assert_ne!(base, key(&declaration, &["sha256:2".to_owned()]));
        assert_ne!(base, key(&serde_json::json!({"runner": "podman", "image": "y"}), &["sha256:1".to_owned()]));
        let directory = tempfile::tempdir().unwrap();
        let program = directory.path().join("llama-bench");
        std::fs::write(&program, "one").unwrap();
        let before = program_stamp(&program);
        std::fs::write(&program, "two!").unwrap();
        assert_ne!(before, program_stamp(&program), "a rebuilt program is another program");
        assert!(program_stamp(&directory.path().join("gone")).ends_with("(absent)"));
    }
}
