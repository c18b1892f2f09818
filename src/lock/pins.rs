//! The lock's two policies, in one place: checking what this machine found against a pin (a
//! model's hash, a toolbox's image digest and llama.cpp build), and updating a toolbox's pin
//! (when it moves to this host). Pure: the callers find and inspect, this decides.

use super::lockfile::{LockDrift, LockError, LockFile, LockedModel, LockedToolbox, PinnedOn};

/// What checking one toolbox against the lock found: values that differ from a pin this host
/// made (errors), and values that differ from another host's pin (that machine's build, shown
/// and recorded).
#[derive(Debug, Default)]
pub(crate) struct ToolboxCheck {
    pub(crate) mismatches: Vec<LockError>,
    pub(crate) drift: Vec<LockDrift>,
}

/// What inspection found of a toolbox on this machine.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Found<'a> {
    pub(crate) digest: Option<&'a str>,
    pub(crate) llama_cpp: Option<&'a str>,
}

impl LockFile {
    /// The pin of model `name`, when its file at `path` hashes to something else.
    pub(crate) fn check_model(&self, name: &str, path: &str, sha256: &str, size: u64) -> Option<LockError> {
        let locked: &LockedModel = self.models.get(name)?;
        (locked.sha256 != sha256).then(|| LockError::ModelMismatch {
            model: name.to_owned(),
            path: path.to_owned(),
            locked: locked.sha256.clone(),
            locked_size: locked.size,
            found: sha256.to_owned(),
            found_size: size,
        })
    }

    /// Toolbox `name` as inspected on host `host_id`, against its pin. A value nobody pinned,
    /// or that inspection could not read, is no difference.
    pub(crate) fn check_toolbox(&self, name: &str, found: Found<'_>, host_id: &str) -> ToolboxCheck {
        let mut check = ToolboxCheck::default();
        let Some(locked) = self.toolboxes.get(name) else { return check };
        let elsewhere = locked.pinned_on.as_ref().filter(|pinned_on| pinned_on.id != host_id);
        for (what, locked, found) in [
            ("image digest", locked.digest.as_deref(), found.digest),
            ("llama.cpp build", locked.llama_cpp.as_deref(), found.llama_cpp),
        ] {
            let (Some(locked), Some(found)) = (locked, found) else { continue };
            if locked == found {
                continue;
            }
            let (what, locked, found) = (what.to_owned(), locked.to_owned(), found.to_owned());
            match elsewhere {
                Some(pinned_on) => check.drift.push(LockDrift {
                    toolbox: name.to_owned(),
                    what,
                    locked,
                    found,
                    pinned_on: pinned_on.name.clone(),
                }),
                None => {
                    check.mismatches.push(LockError::ToolboxMismatch { toolbox: name.to_owned(), what, locked, found });
                }
            }
        }
        check
    }
}

impl LockedToolbox {
    /// The new pin of a toolbox (`runner`, `image`) given its old pin and what inspection found
    /// on `host` (`None` when it could not be inspected here). What was pinned stays pinned
    /// while the image reference is the same and this machine cannot inspect it; what
    /// inspection finds replaces it. The pin moves to this host when its inspection changed a
    /// value, or when nobody's pin is known.
    pub(crate) fn repinned(
        old: Option<&Self>,
        runner: &str,
        image: Option<String>,
        found: Option<Found<'_>>,
        host: &PinnedOn,
    ) -> Self {
        let kept = old.filter(|old| old.image == image);
        let found = found.unwrap_or_default();
        let mut pin = Self {
            runner: runner.to_owned(),
            image,
            digest: found.digest.map(str::to_owned).or_else(|| kept?.digest.clone()),
            llama_cpp: found.llama_cpp.map(str::to_owned).or_else(|| kept?.llama_cpp.clone()),
            pinned_on: kept.and_then(|kept| kept.pinned_on.clone()),
        };
        let inspected_here = found.digest.is_some() || found.llama_cpp.is_some();
        let unchanged = old.is_some_and(|old| old.digest == pin.digest && old.llama_cpp == pin.llama_cpp);
        if inspected_here && !(unchanged && pin.pinned_on.is_some()) {
            pin.pinned_on = Some(host.clone());
        }
        pin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> PinnedOn {
        PinnedOn { id: format!("id-{name}"), name: name.to_owned() }
    }

    fn pin(digest: &str, build: &str, on: &str) -> LockedToolbox {
        LockedToolbox {
            runner: "podman".to_owned(),
            image: Some("localhost/llama:cpu".to_owned()),
            digest: Some(digest.to_owned()),
            llama_cpp: Some(build.to_owned()),
            pinned_on: Some(host(on)),
        }
    }

    fn lock_with(toolbox: LockedToolbox) -> LockFile {
        let mut lock = LockFile::default();
        lock.toolboxes.insert("cpu".to_owned(), toolbox);
        lock.models
            .insert("gemma".to_owned(), LockedModel { file: "g.gguf".to_owned(), sha256: "aa".to_owned(), size: 4 });
        lock
    }

    #[test]
    fn a_model_is_checked_by_its_hash_and_an_unpinned_one_passes() {
        let lock = lock_with(pin("sha256:1", "b1", "a"));
        assert!(lock.check_model("gemma", "/m/g.gguf", "aa", 4).is_none());
        let mismatch = lock.check_model("gemma", "/m/g.gguf", "bb", 5).expect("another hash is a mismatch");
        assert!(
            matches!(&mismatch, LockError::ModelMismatch { locked, found, found_size: 5, .. } if locked == "aa" && found == "bb"),
            "{mismatch:?}"
        );
        assert!(lock.check_model("other", "/m/o.gguf", "cc", 1).is_none());
    }

    #[test]
    fn a_toolbox_that_changed_under_its_own_hosts_pin_is_an_error_and_under_anothers_is_drift() {
        let lock = lock_with(pin("sha256:1", "b1", "a"));
        let changed = Found { digest: Some("sha256:2"), llama_cpp: Some("b1") };
        let here = lock.check_toolbox("cpu", changed, "id-a");
        assert_eq!(here.drift, []);
        assert!(
            matches!(&here.mismatches[..], [LockError::ToolboxMismatch { what, .. }] if what == "image digest"),
            "{here:?}"
        );
        let elsewhere = lock.check_toolbox("cpu", changed, "id-b");
        assert!(elsewhere.mismatches.is_empty());
        assert_eq!(elsewhere.drift.len(), 1);
        assert_eq!(
            elsewhere.drift[0].to_string(),
            "toolbox `cpu`: image digest sha256:2 here, sha256:1 in bakeoff.lock (pinned on a)"
        );
        // What inspection could not read is no difference; nor is an unpinned toolbox.
        for check in [lock.check_toolbox("cpu", Found::default(), "id-a"), lock.check_toolbox("gpu", changed, "id-a")] {
            assert!(check.mismatches.is_empty() && check.drift.is_empty(), "{check:?}");
        }
    }

    #[test]
    fn a_pin_moves_to_the_host_whose_inspection_changed_it_and_stays_otherwise() {
        let old = pin("sha256:1", "b1", "a");
        let same = Found { digest: Some("sha256:1"), llama_cpp: Some("b1") };
        let image = old.image.clone();
        // The same values seen from host b: still a's pin.
        let kept = LockedToolbox::repinned(Some(&old), "podman", image.clone(), Some(same), &host("b"));
        assert_eq!(kept, old);
        // A new build seen from b: b's pin now.
        let newer = Found { digest: Some("sha256:2"), llama_cpp: Some("b2") };
        let moved = LockedToolbox::repinned(Some(&old), "podman", image.clone(), Some(newer), &host("b"));
        assert_eq!(moved, pin("sha256:2", "b2", "b"));
        // Not inspectable here: the old values stay, pinned where they were.
        let blind = LockedToolbox::repinned(Some(&old), "podman", image, None, &host("b"));
        assert_eq!(blind, old);
        // Another image reference: nothing of the old pin is kept.
        let other =
            LockedToolbox::repinned(Some(&old), "podman", Some("localhost/llama:vk".to_owned()), None, &host("b"));
        assert_eq!((other.digest, other.llama_cpp, other.pinned_on), (None, None, None));
        // A first pin is this host's.
        let first = LockedToolbox::repinned(None, "podman", Some("x".to_owned()), Some(same), &host("b"));
        assert_eq!(first.pinned_on, Some(host("b")));
    }
}
