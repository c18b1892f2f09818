//! Gathering the content hashes of every input the selected experiments name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::model_roots::ModelRoots;
use super::stat_cache::StatCache;
use crate::fingerprint::{InputDigests, ModelInput, ToolboxState};
use crate::lock::{LockError, LockFile};
use crate::manifest::{Experiment, Manifests, Part};

/// The model names and declared file paths that `experiments` use.
#[derive(Debug, Default)]
pub struct Needed {
    pub models: BTreeSet<String>,
    /// Full path → the path as written, for messages.
    pub files: BTreeMap<PathBuf, String>,
    /// Declared folders (a client's `workdir`), full path → the path as written.
    pub folders: BTreeMap<PathBuf, String>,
}

pub fn needed(manifests: &Manifests, experiments: &[&Experiment]) -> Needed {
    let mut needed = Needed::default();
    for experiment in experiments {
        needed.models.extend(experiment.axis_values("model").into_iter().map(str::to_owned));
        for template in experiment.command_templates().chain(experiment.variant_templates()) {
            for part in template.placeholders() {
                match part {
                    Part::ModelRef(name) => {
                        needed.models.insert(name.clone());
                    }
                    Part::File(path) => {
                        needed.files.insert(manifests.input_path(template.at, path), path.clone());
                    }
                    _ => {}
                }
            }
        }
        if let Some(corpus) = experiment.quality.as_ref().and_then(|quality| quality.corpus.as_ref()) {
            needed.files.insert(manifests.input_path(corpus.at, &corpus.value), corpus.value.clone());
        }
        for replay in experiment.workloads.iter().filter_map(|workload| workload.replay.as_ref()) {
            needed.files.insert(manifests.input_path(replay.path.at, &replay.path.value), replay.path.value.clone());
        }
        for workdir in experiment.workloads.iter().filter_map(|workload| workload.client.as_ref()?.workdir.as_ref()) {
            needed.folders.insert(manifests.input_path(workdir.at, &workdir.value), workdir.value.clone());
        }
        for request in experiment.workloads.iter().flat_map(|workload| &workload.requests) {
            for path in request.files.values() {
                for filled in experiment.request_paths(&path.value) {
                    needed.files.insert(manifests.input_path(path.at, &filled), filled);
                }
            }
        }
    }
    needed
}

/// Finds and hashes the needed inputs. A model found here whose hash differs from the lock is
/// an error; a model not found here keeps the lock's hash so its cells still fingerprint.
pub fn gather(
    manifests: &Manifests,
    needed: &Needed,
    roots: &ModelRoots,
    cache: &mut StatCache,
    lock: Option<&LockFile>,
) -> Result<InputDigests, Vec<LockError>> {
    let mut digests = InputDigests::default();
    let mut located = Vec::new();
    for name in &needed.models {
        let Some(model) = manifests.models.get(name) else {
            continue;
        };
        let locked = lock.and_then(|lock| lock.models.get(name));
        match roots.find(&model.file.value) {
            Ok(path) => located.push((name.clone(), path)),
            Err(problem) => {
                let expected = match locked {
                    Some(locked) => format!(
                        "; bakeoff.lock expects sha256 {} and {} bytes ({})",
                        locked.sha256,
                        locked.size,
                        crate::units::format_bytes(locked.size)
                    ),
                    None => "; bakeoff.lock does not pin it yet".to_owned(),
                };
                digests.models.insert(
                    name.clone(),
                    ModelInput {
                        path: None,
                        sha256: locked.map(|locked| locked.sha256.clone()),
                        size: locked.map(|locked| locked.size),
                        problem: Some(format!("model `{name}`: {problem}{expected}")),
                        unloadable: None,
                        shape: None,
                    },
                );
            }
        }
    }
    let paths: Vec<PathBuf> =
        located.iter().map(|(_, path)| path.clone()).chain(needed.files.keys().cloned()).collect();
    let mut results = cache.digest_all(&paths).into_iter();
    let mut mismatches = Vec::new();
    for (name, path) in located {
        let input = match results.next().expect("one digest per path") {
            Ok((sha256, size)) => {
                let shown = path.display().to_string();
                mismatches.extend(lock.and_then(|lock| lock.check_model(&name, &shown, &sha256, size)));
                let header = cache.gguf(&path);
                let unloadable = header.as_ref().err().map(|problem| {
                    format!(
                        "model `{name}`: `{}`: {problem}; llama.cpp cannot load it (`bakeoff models` lists the \
                         files under the model roots)",
                        path.display()
                    )
                });
                let shape = header.ok();
                ModelInput {
                    path: Some(path),
                    sha256: Some(sha256),
                    size: Some(size),
                    problem: None,
                    unloadable,
                    shape,
                }
            }
            Err(error) => ModelInput {
                problem: Some(format!("model `{name}`: cannot read `{}`: {error}", path.display())),
                unloadable: None,
                shape: None,
                path: None,
                sha256: None,
                size: None,
            },
        };
        digests.models.insert(name, input);
    }
    for path in needed.files.keys() {
        if let Ok((sha256, size)) = results.next().expect("one digest per path") {
            digests.files.insert(path.clone(), sha256);
            digests.sizes.insert(path.clone(), size);
        }
    }
    for (folder, (sha256, size)) in folder_digests(needed.folders.keys(), cache) {
        digests.files.insert(folder.clone(), sha256);
        digests.sizes.insert(folder, size);
    }
    for name in manifests.toolboxes.keys() {
        let locked = lock.and_then(|lock| lock.toolboxes.get(name));
        digests.toolboxes.insert(
            name.clone(),
            ToolboxState {
                digest: locked.and_then(|locked| locked.digest.clone()),
                llama_cpp: locked.and_then(|locked| locked.llama_cpp.clone()),
                ..ToolboxState::default()
            },
        );
    }
    if mismatches.is_empty() { Ok(digests) } else { Err(mismatches) }
}

/// Each folder's digest and size: sha256 over its files in path order, each as its path within
/// the folder and its own sha256 (from the stat cache, so an unchanged folder costs a `stat` per
/// file), and their bytes added up. A folder that cannot be read in full has none.
pub fn folder_digests<'a>(
    folders: impl Iterator<Item = &'a PathBuf>,
    cache: &mut StatCache,
) -> BTreeMap<PathBuf, (String, u64)> {
    use sha2::{Digest, Sha256};
    let mut digests = BTreeMap::new();
    for folder in folders {
        let Ok(entries) = walkdir::WalkDir::new(folder).sort_by_file_name().into_iter().collect::<Result<Vec<_>, _>>()
        else {
            continue;
        };
        let files: Vec<PathBuf> =
            entries.into_iter().filter(|entry| entry.file_type().is_file()).map(walkdir::DirEntry::into_path).collect();
        let Ok(hashed) = cache.digest_all(&files).into_iter().collect::<Result<Vec<_>, _>>() else { continue };
        let mut hasher = Sha256::new();
        let mut size = 0;
        for (file, (sha256, bytes)) in files.iter().zip(hashed) {
            let relative = file.strip_prefix(folder).unwrap_or(file);
            hasher.update(relative.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(sha256.as_bytes());
            hasher.update([0]);
            size += bytes;
        }
        digests.insert(folder.clone(), (crate::digest::hex(&hasher.finalize()), size));
    }
    digests
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A model named only in an `include` was not looked up: its cells were blocked with
    /// "model `b` was not looked up" however the model roots were set.
    #[test]
    fn a_model_only_an_include_names_is_needed() {
        let text = "model \"a\" file=\"a.gguf\"\nmodel \"b\" file=\"b.gguf\"\n\
                    experiment \"e\" {\n    matrix { model \"a\"; threads 1 2; }\n    \
                    include model=\"b\" threads=1\n    bench { args \"-t\" \"{threads}\" }\n}\n";
        let manifests = crate::manifest::load_text(Path::new("/"), Path::new("/e.kdl"), text).unwrap();
        let experiment = manifests.experiment("e").unwrap();
        let needed = super::needed(&manifests, &[experiment]);
        assert_eq!(needed.models.iter().map(String::as_str).collect::<Vec<_>>(), ["a", "b"]);
    }
}
