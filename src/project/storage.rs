//! Where a campaign writes, against the storage root: the project, `results/`, a digest cache
//! moved by `BAKEOFF_CACHE_DIR` and the host folders a toolbox's `container-args` mount. Said
//! as warnings, or refused under `storage "strict"` (which also refuses to run without a root).

use std::path::PathBuf;

use super::pipeline::{Loaded, Project};
use crate::Error;
use crate::manifest::StoragePolicy;
use crate::notice::Notice;
use crate::storage::StorageError;

impl Project {
    /// What lies outside the storage root, a line each; under `storage "strict"` an error.
    pub fn check_storage(&self, loaded: &Loaded) -> Result<Vec<Notice>, Error> {
        let strict = loaded.manifests.storage.as_ref().is_some_and(|policy| policy.value == StoragePolicy::Strict);
        let Some(storage) = &self.storage else {
            if strict {
                return Err(Error::Storage(StorageError {
                    message: "`storage \"strict\"`: no storage root is set, so nothing says where this campaign may \
                              write"
                        .to_owned(),
                    help: "pass `--storage DIR` or set `BAKEOFF_STORAGE=DIR` (a folder on the disk every file must go \
                           to)"
                    .to_owned(),
                }));
            }
            return Ok(Vec::new());
        };
        let outside: Vec<String> = self
            .written_places(loaded)
            .into_iter()
            .filter(|(_, path)| !storage.holds(path))
            .map(|(what, path)| format!("{what} `{}`", path.display()))
            .collect();
        if outside.is_empty() {
            return Ok(Vec::new());
        }
        let root = storage.root().display();
        if strict {
            return Err(Error::Storage(StorageError {
                message: format!(
                    "`storage \"strict\"`: {} outside the storage root `{root}`: {}",
                    if outside.len() == 1 { "this lies" } else { "these lie" },
                    outside.join("; ")
                ),
                help: "move it under the root (`-C`, `--results`, the toolbox's `-v` mounts), or write \
                       `storage \"warn\"` to be told only"
                    .to_owned(),
            }));
        }
        Ok(outside
            .into_iter()
            .map(|place| Notice::warning(format!("{place} lies outside the storage root `{root}`")))
            .collect())
    }

    /// Each place a run writes to that the user chose, with what it is.
    fn written_places(&self, loaded: &Loaded) -> Vec<(String, PathBuf)> {
        let mut places = vec![
            ("the project".to_owned(), self.root.clone()),
            ("results/".to_owned(), self.store.root().to_path_buf()),
        ];
        if let Some(directory) = std::env::var_os("BAKEOFF_CACHE_DIR") {
            places.push(("the digest cache (BAKEOFF_CACHE_DIR)".to_owned(), PathBuf::from(directory)));
        }
        for toolbox in loaded.manifests.toolboxes.values() {
            for source in mounted_sources(&toolbox.container_args) {
                places.push((format!("toolbox `{}`'s read-write mount", toolbox.name.value), source));
            }
        }
        places
    }
}

/// The host folders `-v SRC:DST`, `--volume=SRC:DST` and `--mount type=bind,source=SRC,…` in
/// podman arguments mount read-write (named volumes, not paths, are podman's own storage).
fn mounted_sources(args: &[String]) -> Vec<PathBuf> {
    let mut sources = Vec::new();
    let mut arguments = args.iter();
    while let Some(argument) = arguments.next() {
        let (flag, inline) =
            argument.split_once('=').map_or((argument.as_str(), None), |(flag, value)| (flag, Some(value)));
        let value = match flag {
            "-v" | "--volume" | "--mount" => inline.map(str::to_owned).or_else(|| arguments.next().cloned()),
            _ if flag.starts_with("-v") && flag.len() > 2 => Some(argument[2..].to_owned()),
            _ => None,
        };
        let Some(value) = value else { continue };
        // A read-only mount is read, not written to.
        let (source, read_only) = if flag == "--mount" {
            let parts: Vec<&str> = value.split(',').collect();
            let source =
                parts.iter().find_map(|part| part.strip_prefix("source=").or_else(|| part.strip_prefix("src=")));
            let read_only = parts.iter().any(|part| matches!(*part, "readonly" | "ro" | "readonly=true" | "ro=true"));
            (source.map(str::to_owned), read_only)
        } else {
            let parts: Vec<&str> = value.split(':').collect();
            let read_only = parts.get(2).is_some_and(|options| options.split(',').any(|option| option == "ro"));
            (parts.first().map(|source| (*source).to_owned()), read_only)
        };
        if read_only {
            continue;
        }
        sources.extend(source.filter(|source| source.starts_with('/')).map(PathBuf::from));
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_read_from_podman_arguments() {
        let args: Vec<String> = [
            "-v",
            "/data/models:/models:ro",
            "-v",
            "/data/out:/out:rw,z",
            "--volume=/scratch:/scratch",
            "--mount",
            "type=bind,source=/mnt/raid0/x,target=/x",
            "-v",
            "named-volume:/cache",
            "--device",
            "/dev/kfd",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(
            mounted_sources(&args),
            [PathBuf::from("/data/out"), PathBuf::from("/scratch"), PathBuf::from("/mnt/raid0/x")]
        );
    }
}
