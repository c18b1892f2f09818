//! A local cache of file digests keyed by path, device, inode, size and mtime, so that a warm
//! plan reads no model bytes. It lives outside `results/` (per machine, never checked in).

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::hasher::hash_file;
use crate::atomic::write_atomic;

const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    device: u64,
    inode: u64,
    size: u64,
    mtime_ns: i128,
    sha256: String,
    /// For a model file: empty when its GGUF header reads, else why not (not GGUF, truncated),
    /// so that a warm plan checks models without opening them. Absent until first checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gguf: Option<String>,
    /// For a model whose header reads: its architecture and experts, which flags depend on.
    /// Absent in entries from before it was kept: the header is read again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shape: Option<crate::models::ModelShape>,
}

#[derive(Debug, Clone)]
struct Identity {
    device: u64,
    inode: u64,
    size: u64,
    mtime_ns: i128,
    modified: std::time::SystemTime,
}

/// A file hashed on a worker thread: its index in the request, cache key, identity and digest.
type Hashed = (usize, String, Identity, io::Result<(String, u64)>);

enum Lookup {
    Hit((String, u64)),
    Miss(String, Identity),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    files: BTreeMap<String, Entry>,
}

/// Digests of files hashed before, valid while the file's identity and mtime are unchanged.
#[derive(Debug)]
pub struct StatCache {
    path: Option<PathBuf>,
    files: BTreeMap<String, Entry>,
    dirty: bool,
    /// How many bytes this process read to hash files, for tests and `--verbose` output.
    pub bytes_hashed: u64,
}

impl StatCache {
    /// Opens the cache at `path`; a missing or unreadable cache starts empty.
    pub fn open(path: PathBuf) -> Self {
        let files = std::fs::read(&path).ok().map(|bytes| Self::entries(&bytes)).unwrap_or_default();
        Self { path: Some(path), files, dirty: false, bytes_hashed: 0 }
    }

    /// The entries of a cache file's bytes; none when they are not a cache of this format
    /// (the cache only saves rehashing).
    pub(crate) fn entries(bytes: &[u8]) -> BTreeMap<String, Entry> {
        serde_json::from_slice::<CacheFile>(bytes)
            .ok()
            .filter(|cache| cache.format == FORMAT)
            .map(|cache| cache.files)
            .unwrap_or_default()
    }

    /// A cache that keeps nothing on disk.
    pub fn in_memory() -> Self {
        Self { path: None, files: BTreeMap::new(), dirty: false, bytes_hashed: 0 }
    }

    /// The default location: `$BAKEOFF_CACHE_DIR`, else `$XDG_CACHE_HOME/bakeoff`, else `~/.cache/bakeoff`.
    pub fn default_path() -> PathBuf {
        let directory = std::env::var_os("BAKEOFF_CACHE_DIR").map_or_else(
            || {
                std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                    .unwrap_or_else(std::env::temp_dir)
                    .join("bakeoff")
            },
            PathBuf::from,
        );
        directory.join("file-hashes.json")
    }

    /// The sha256 and size of `path`, from the cache when the file is unchanged.
    pub fn digest(&mut self, path: &Path) -> io::Result<(String, u64)> {
        self.digest_all(&[path.to_path_buf()]).pop().expect("one result per path")
    }

    /// Digests of several files; the ones not in the cache are hashed concurrently.
    pub fn digest_all(&mut self, paths: &[PathBuf]) -> Vec<io::Result<(String, u64)>> {
        let mut results: Vec<Option<io::Result<(String, u64)>>> = Vec::with_capacity(paths.len());
        let mut misses = Vec::new();
        for (index, path) in paths.iter().enumerate() {
            match self.lookup(path) {
                Ok(Lookup::Hit(digest)) => results.push(Some(Ok(digest))),
                Ok(Lookup::Miss(key, identity)) => {
                    results.push(None);
                    misses.push((index, key, identity));
                }
                Err(error) => results.push(Some(Err(error))),
            }
        }
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(misses.len().max(1));
        let hashed: Vec<Hashed> = std::thread::scope(|scope| {
            let chunks: Vec<_> = misses.chunks(misses.len().div_ceil(workers).max(1)).collect();
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|(index, key, identity)| {
                                (*index, key.clone(), identity.clone(), hash_file(Path::new(key)))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|handle| handle.join().expect("a hashing thread panicked")).collect()
        });
        for (index, key, identity, result) in hashed {
            if let Ok((sha256, size)) = &result {
                self.bytes_hashed += size;
                self.remember(key, &identity, sha256.clone());
            }
            results[index] = Some(result);
        }
        results.into_iter().map(|result| result.expect("every path has a result")).collect()
    }

    fn lookup(&self, path: &Path) -> io::Result<Lookup> {
        let canonical = path.canonicalize()?;
        let key = canonical.display().to_string();
        let metadata = std::fs::metadata(&canonical)?;
        let identity = Identity {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.len(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000 + i128::from(metadata.mtime_nsec()),
            modified: metadata.modified().unwrap_or(std::time::UNIX_EPOCH),
        };
        if let Some(entry) = self.files.get(&key)
            && entry.device == identity.device
            && entry.inode == identity.inode
            && entry.size == identity.size
            && entry.mtime_ns == identity.mtime_ns
        {
            return Ok(Lookup::Hit((entry.sha256.clone(), entry.size)));
        }
        Ok(Lookup::Miss(key, identity))
    }

    fn remember(&mut self, key: String, identity: &Identity, sha256: String) {
        // Racy-clean rule (as git's index has): a file modified within the clock's resolution
        // of now could change again without its mtime moving, so such a digest is not kept.
        let age = std::time::SystemTime::now().duration_since(identity.modified).unwrap_or_default();
        if age.as_secs() >= 2 {
            let Identity { device, inode, size, mtime_ns, .. } = *identity;
            self.files.insert(key, Entry { device, inode, size, mtime_ns, sha256, gguf: None, shape: None });
            self.dirty = true;
        }
    }

    /// What a model file's GGUF header says of its shape, or why llama.cpp could not load it
    /// (`not a GGUF file (it starts with …)`, a truncated header). The verdict is kept beside the
    /// file's digest: call this after [`StatCache::digest_all`] has looked the file up, and a
    /// warm plan opens no model file.
    pub(crate) fn gguf(&mut self, path: &Path) -> Result<crate::models::ModelShape, String> {
        let read = |path: &Path| crate::models::read(path).map(|info| crate::models::ModelShape::of(&info));
        let Ok(key) = path.canonicalize().map(|path| path.display().to_string()) else {
            // Nowhere to keep the verdict: the header is read each time.
            return read(path).map_err(|error| error.to_string());
        };
        if let Some(entry) = self.files.get(&key) {
            match (&entry.gguf, &entry.shape) {
                (Some(problem), _) if !problem.is_empty() => return Err(problem.clone()),
                // A shape kept before vocabularies were read is read again.
                (Some(_), Some(shape)) if shape.vocab.is_some() => return Ok(shape.clone()),
                _ => {}
            }
        }
        let verdict = read(path);
        if let Some(entry) = self.files.get_mut(&key) {
            entry.gguf = Some(verdict.as_ref().err().map_or_else(String::new, ToString::to_string));
            entry.shape = verdict.as_ref().ok().cloned();
            self.dirty = true;
        }
        verdict.map_err(|error| error.to_string())
    }

    /// Writes the cache back if anything was added. Failing to save only costs a rehash later.
    pub fn save(&mut self) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let cache = CacheFile { format: FORMAT, files: std::mem::take(&mut self.files) };
        let bytes = serde_json::to_vec_pretty(&cache).map_err(io::Error::other)?;
        self.files = cache.files;
        write_atomic(path, &bytes)?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn age(path: &Path) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(60)).unwrap();
    }

    #[test]
    fn a_warm_lookup_reads_no_bytes_and_a_change_rehashes() {
        let directory = tempfile::tempdir().unwrap();
        let model = directory.path().join("model.gguf");
        std::fs::write(&model, vec![7u8; 4096]).unwrap();
        age(&model);
        let cache_path = directory.path().join("cache/file-hashes.json");
        let mut cache = StatCache::open(cache_path.clone());
        let (first, _) = cache.digest(&model).unwrap();
        assert_eq!(cache.bytes_hashed, 4096);
        cache.save().unwrap();

        let mut warm = StatCache::open(cache_path.clone());
        assert_eq!(warm.digest(&model).unwrap().0, first);
        assert_eq!(warm.bytes_hashed, 0);

        std::fs::write(&model, vec![8u8; 4096]).unwrap();
        age(&model);
        let (changed, _) = warm.digest(&model).unwrap();
        assert_ne!(changed, first);
        assert_eq!(warm.bytes_hashed, 4096);
    }

    #[test]
    fn a_just_written_file_is_not_cached() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("prompt.txt");
        std::fs::write(&file, "hello").unwrap();
        let mut cache = StatCache::in_memory();
        cache.digest(&file).unwrap();
        cache.digest(&file).unwrap();
        assert_eq!(cache.bytes_hashed, 10);
    }
}
