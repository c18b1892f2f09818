//! `bakeoff gc`: remove the records and logs that no experiment in the checkout refers to any
//! more. A record is kept while any current cell has its inputs (on any host), so nothing a
//! report shows is ever removed; an experiment whose inputs cannot all be hashed here keeps
//! every record.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::GcArgs;
use super::outln;
use crate::Error;
use crate::host::HostFacts;
use crate::project::Project;
use crate::project::shown;
use crate::run::acquire;
use crate::units::format_bytes;

pub(super) fn run(project: &Project, args: &GcArgs) -> Result<(), Error> {
    let store = project.store.root();
    // A run writes records and logs; gc waits for it, so an orphan log is never a cell in flight.
    let _lock =
        acquire(store).map_err(|source| Error::Io { what: format!("cannot lock `{}`", store.display()), source })?;
    // Every manifest of the checkout: an experiment left out of the command line still refers
    // to its records. A manifest with an error stops gc before it removes anything.
    let loaded = project.load(&[])?;
    let cells = project.resolve_uninspected(&loaded, &HostFacts::default())?;
    let mut keys: BTreeMap<&str, HashSet<String>> =
        loaded.selected.iter().map(|experiment| (experiment.as_str(), HashSet::new())).collect();
    let mut unsure: BTreeMap<&str, String> = BTreeMap::new();
    for cell in &cells {
        let experiment = cell.cell.experiment.as_str();
        keys.entry(experiment).or_default().insert(cell.fingerprint.portable_key());
        if let Some(input) = cell.unhashed.first() {
            unsure.entry(experiment).or_insert_with(|| {
                format!(
                    "input `{input}` cannot be hashed here (a model neither found nor pinned in bakeoff.lock, or an unreadable file)"
                )
            });
        }
    }
    for (experiment, why) in &unsure {
        eprintln!("keeping every record of `{experiment}`: {why}, so which results it still refers to is unknown");
    }

    let (records, corrupt) = project.store.scan();
    // Corrupt records are left alone, with their logs: their hash is their file name.
    let corrupt_hashes: HashSet<String> =
        corrupt.iter().filter_map(|error| Path::new(error.path()).file_stem()?.to_str().map(str::to_owned)).collect();
    for error in corrupt {
        eprintln!("{:?}", miette::Report::new(error));
    }
    let mut kept: HashSet<String> = HashSet::new();
    let mut removed: Vec<(PathBuf, String)> = Vec::new();
    for record in &records {
        let why = match keys.get(record.experiment.as_str()) {
            None => Some(format!("experiment `{}` is in no manifest", record.experiment)),
            Some(_) if unsure.contains_key(record.experiment.as_str()) => None,
            Some(keys) if keys.contains(&record.fingerprint.portable_key()) => None,
            Some(_) => Some("its inputs match no cell of the experiment now".to_owned()),
        };
        match why {
            Some(why) => removed.push((
                project.store.record_path(&record.hash),
                format!("{} on {}: {why}", record.cell, record.host.label()),
            )),
            None => {
                kept.insert(record.hash.clone());
            }
        }
    }
    // The store says which record a log belongs to (a cell's own, or a server it started).
    for path in files(&store.join("logs"), "log") {
        let owner = project.store.log_owner(&path);
        if owner.is_some_and(|hash| !kept.contains(&hash) && !corrupt_hashes.contains(&hash)) {
            removed.push((path, "log of no kept record".to_owned()));
        }
    }
    for directory in [store.join("cells"), store.join("logs")] {
        for path in leftover_temporaries(&directory) {
            removed.push((path, "left by a run that was killed while writing".to_owned()));
        }
    }

    let verb = if args.dry_run { "would remove" } else { "removed" };
    let mut bytes = 0;
    for (path, why) in &removed {
        bytes += std::fs::metadata(path).map_or(0, |metadata| metadata.len());
        if !args.dry_run {
            std::fs::remove_file(path)
                .map_err(|source| Error::Io { what: format!("cannot remove `{}`", path.display()), source })?;
        }
        outln!("{verb} {}  ({why})", shown(path).display());
    }
    if !args.dry_run {
        remove_empty_directories(&store.join("cells"));
    }
    let records_removed = removed.iter().filter(|(path, _)| path.extension().is_some_and(|e| e == "json")).count();
    outln!(
        "gc: {verb} {records_removed} record(s) and {} other file(s), {}; {} record(s) kept",
        removed.len() - records_removed,
        format_bytes(bytes),
        kept.len()
    );
    for experiment in gone_reports(store, &keys) {
        eprintln!(
            "note: `{}` is the report of an experiment that is in no manifest; remove it by hand if it is not wanted",
            shown(&store.join(experiment)).display()
        );
    }
    Ok(())
}

/// The files directly in `directory` with `extension`.
fn files(directory: &Path, extension: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|found| found == extension))
        .collect();
    found.sort();
    found
}

/// `.NAME.PID.tmp` files that an atomic write leaves when its process is killed mid-write.
fn leftover_temporaries(directory: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(directory)
        .max_depth(2)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy();
            name.starts_with('.') && name.ends_with(".tmp")
        })
        .map(walkdir::DirEntry::into_path)
        .collect()
}

fn remove_empty_directories(cells: &Path) {
    let Ok(entries) = std::fs::read_dir(cells) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        // Fails, harmlessly, unless the directory is empty.
        let _ = std::fs::remove_dir(entry.path());
    }
}

/// Report directories (`results/<name>/README.md` written by bakeoff) of experiments that no
/// manifest declares any more.
fn gone_reports(store: &Path, experiments: &BTreeMap<&str, HashSet<String>>) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(store) else {
        return Vec::new();
    };
    let mut gone: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
        .filter(|name| name != "cells" && name != "logs" && !experiments.contains_key(name.as_str()))
        .filter(|name| {
            std::fs::read_to_string(store.join(name).join("README.md"))
                .is_ok_and(|text| text.contains("Written by `bakeoff report`"))
        })
        .collect();
    gone.sort();
    gone
}
