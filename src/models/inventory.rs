//! The GGUF files under the model roots: one entry per model (the first shard of a split
//! one), with its header's metadata or why it could not be read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::gguf::{self, GgufInfo};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelFile {
    pub path: PathBuf,
    pub root: PathBuf,
    /// The path under its root, as a manifest's `file` would name it.
    pub relative: String,
    /// Bytes in all its shards.
    pub size: u64,
    pub shards: u64,
    pub metadata: Option<GgufInfo>,
    /// Why the header could not be read.
    pub error: Option<String>,
}

/// A directory that could not be walked; the rest of the walk goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalkProblem {
    pub path: PathBuf,
    pub error: String,
}

/// `Model-00002-of-00003.gguf` → (`Model`, 2, 3).
fn shard(name: &str) -> Option<(&str, u64, u64)> {
    let stem = name.get(..name.len().checked_sub(5)?)?;
    if !name[stem.len()..].eq_ignore_ascii_case(".gguf") {
        return None;
    }
    let (rest, count) = stem.rsplit_once("-of-")?;
    let (prefix, number) = rest.rsplit_once('-')?;
    let digits = |text: &str| text.len() == 5 && text.bytes().all(|byte| byte.is_ascii_digit());
    if !(digits(number) && digits(count)) {
        return None;
    }
    Some((prefix, number.parse().ok()?, count.parse().ok()?))
}

/// Walks each root (following symlinks) for `.gguf` files and reads their headers.
pub(crate) fn scan(roots: &[PathBuf]) -> (Vec<ModelFile>, Vec<WalkProblem>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for root in roots {
        // Split models: shard sizes are added to the first shard's entry.
        let mut shard_sizes: BTreeMap<(PathBuf, String), (u64, u64)> = BTreeMap::new();
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    let path = error.path().unwrap_or(root).to_path_buf();
                    problems.push(WalkProblem { path, error: error.to_string() });
                    continue;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_gguf = Path::new(&name).extension().is_some_and(|extension| extension.eq_ignore_ascii_case("gguf"));
            if !entry.file_type().is_file() || !is_gguf {
                continue;
            }
            let size = entry.metadata().map_or(0, |metadata| metadata.len());
            let directory = entry.path().parent().unwrap_or(root).to_path_buf();
            match shard(&name) {
                Some((prefix, number, _)) => {
                    let totals = shard_sizes.entry((directory, prefix.to_owned())).or_default();
                    totals.0 += size;
                    totals.1 += 1;
                    if number == 1 {
                        found.push((entry.path().to_path_buf(), Some(prefix.to_owned()), size));
                    }
                }
                None => found.push((entry.path().to_path_buf(), None, size)),
            }
        }
        for (path, prefix, size) in found {
            let directory = path.parent().unwrap_or(root).to_path_buf();
            let (size, shards) = match prefix {
                Some(prefix) => shard_sizes.get(&(directory, prefix)).copied().unwrap_or((size, 1)),
                None => (size, 1),
            };
            let (metadata, error) = match gguf::read(&path) {
                Ok(info) => (Some(info), None),
                Err(error) => (None, Some(error.to_string())),
            };
            let relative = path.strip_prefix(root).unwrap_or(&path).display().to_string();
            files.push(ModelFile { path, root: root.clone(), relative, size, shards, metadata, error });
        }
    }
    (files, problems)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_shards_of_split_models() {
        assert_eq!(super::shard("GLM-BF16-00001-of-00002.gguf"), Some(("GLM-BF16", 1, 2)));
        assert_eq!(super::shard("GLM-BF16-00002-of-00002.GGUF"), Some(("GLM-BF16", 2, 2)));
        assert_eq!(super::shard("gemma-3-270m-q4_k_m.gguf"), None);
        assert_eq!(super::shard("x-1-of-2.gguf"), None);
        assert_eq!(super::shard(".gguf"), None);
    }
}
