//! Creating and updating `bakeoff.lock`: pin every model, declared file and toolbox image as
//! this machine finds them, keeping what it cannot see.

use std::path::PathBuf;

use super::pipeline::{Loaded, Project};
use crate::Error;
use crate::inputs::{Needed, StatCache, folder_digests, needed};
use crate::lock::{FORMAT, Found, LockFile, LockedFile, LockedModel, LockedToolbox, PinnedOn};
use crate::manifest::display_path;
use crate::notice::Notice;

/// What [`Project::update_lock`] did.
#[derive(Debug, Clone, Default)]
pub struct LockUpdate {
    /// `old → new` lines, one per pin that changed.
    pub changes: Vec<String>,
    /// Whether the file was written (it changed, or there was none).
    pub written: bool,
    /// What could not be pinned from here, and why.
    pub warnings: Vec<Notice>,
}

impl Project {
    /// Pins every model and declared file of the manifests and every toolbox's image digest
    /// and llama.cpp build as this machine finds them, keeping the pins of what it cannot find
    /// or inspect, and writes `bakeoff.lock` when anything changed or there is none.
    pub fn update_lock(&self, loaded: &Loaded) -> Result<LockUpdate, Error> {
        let mut warnings = Vec::new();
        let manifests = &loaded.manifests;
        let old = self.lock()?.unwrap_or_default();
        let mut new = LockFile { format: FORMAT, ..LockFile::default() };
        let mut cache = StatCache::open(StatCache::default_path());

        let mut found: Vec<(String, String, PathBuf)> = Vec::new();
        for (name, model) in &manifests.models {
            match self.roots.find(&model.file.value) {
                Ok(path) => found.push((name.clone(), model.file.value.clone(), path)),
                Err(problem) => {
                    if let Some(pinned) = old.models.get(name) {
                        warnings.push(Notice::warning(format!(
                            "model `{name}`: {problem}; keeping its pinned sha256 {}",
                            pinned.sha256
                        )));
                        new.models.insert(name.clone(), pinned.clone());
                    } else {
                        warnings.push(Notice::warning(format!("model `{name}`: {problem}; it is not pinned")));
                    }
                }
            }
        }
        let Needed { files, folders, .. } = needed(manifests, &manifests.experiments.iter().collect::<Vec<_>>());
        let paths: Vec<PathBuf> = found.iter().map(|(_, _, path)| path.clone()).chain(files.keys().cloned()).collect();
        let mut digests = cache.digest_all(&paths).into_iter();
        for (name, file, path) in found {
            let (sha256, size) = digests.next().expect("one digest per path").map_err(|source| Error::Io {
                what: format!("cannot hash model `{name}` at `{}`", path.display()),
                source,
            })?;
            new.models.insert(name, LockedModel { file, sha256, size });
        }
        for path in files.keys() {
            let (sha256, _) = digests
                .next()
                .expect("one digest per path")
                .map_err(|source| Error::Io { what: format!("cannot hash `{}`", path.display()), source })?;
            let key = display_path(&self.root, &path.canonicalize().unwrap_or_else(|_| path.clone()));
            new.files.insert(key, LockedFile { sha256 });
        }
        // A folder (a client's working folder) is pinned as one digest over its files, its path
        // ending in `/`.
        let digested = folder_digests(folders.keys(), &mut cache);
        for path in folders.keys() {
            let Some((sha256, _)) = digested.get(path) else {
                return Err(Error::Io {
                    what: format!("cannot hash the folder `{}`", path.display()),
                    source: std::io::Error::other("a file in it cannot be read"),
                });
            };
            let key = display_path(&self.root, &path.canonicalize().unwrap_or_else(|_| path.clone()));
            new.files.insert(format!("{}/", key.trim_end_matches('/')), LockedFile { sha256: sha256.clone() });
        }
        let _ = cache.save();
        let host = self.host()?;
        let experiments = manifests.experiments.iter().collect::<Vec<_>>();
        let inspectable = self.inspectable(loaded, &experiments, &host);
        let inspected = crate::toolbox::toolbox_states(
            &inspectable,
            self.no_cache,
            &std::collections::BTreeSet::new(),
            crate::toolbox::Asked::default(),
        );
        for (name, state) in &inspected {
            if let Some(problem) = &state.problem {
                warnings.push(Notice::warning(format!("toolbox `{name}` is not pinned from this machine: {problem}")));
            }
        }
        let here = PinnedOn { id: host.id.clone(), name: host.label() };
        for (name, toolbox) in &manifests.toolboxes {
            let found = inspected
                .iter()
                .find(|(inspected, _)| inspected == name)
                .map(|(_, state)| Found { digest: state.digest.as_deref(), llama_cpp: state.llama_cpp.as_deref() });
            let image = toolbox.image.as_ref().map(|image| image.value.clone());
            let pin = LockedToolbox::repinned(old.toolboxes.get(name), toolbox.runner.name(), image, found, &here);
            new.toolboxes.insert(name.clone(), pin);
        }
        let changes = new.changes_since(&old);
        if changes.is_empty() && self.lock_path.exists() {
            return Ok(LockUpdate { changes, written: false, warnings });
        }
        new.save(&self.lock_path)?;
        Ok(LockUpdate { changes, written: true, warnings })
    }
}
