//! What `bakeoff gc` removes: records no experiment of the checkout refers to any more, logs and
//! client traces of no kept record, quality base logits of no kept reference, and temporaries a
//! killed run left; never a corrupt record (its file is evidence) nor anything of an experiment
//! whose inputs cannot all be hashed here.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::disk::{Store, StoreError};
use super::layout::{REPORT_MARKER, RESERVED};
use super::record::CellRecord;

/// What the checkout's experiments refer to.
#[derive(Debug, Clone, Default)]
pub struct Referenced {
    /// Per experiment in the manifests, the portable keys of its current cells.
    pub keys: BTreeMap<String, HashSet<String>>,
    /// Experiments with an input that cannot be hashed here, and why: all their records stay.
    pub unsure: BTreeMap<String, String>,
}

/// One file to remove, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub path: PathBuf,
    pub why: String,
    /// Whether it is a record (else a log or a temporary).
    pub record: bool,
}

/// What gc would do to a store.
#[derive(Debug, Clone, Default)]
pub struct GcPlan {
    pub removals: Vec<Removal>,
    /// How many records stay.
    pub kept: usize,
    /// Report folders of experiments no manifest declares (left for a person to remove).
    pub gone_reports: Vec<PathBuf>,
}

/// Why `record` goes, or `None` when something still refers to it. A record is a measurement
/// of its inputs: any experiment with a cell of them keeps it, whichever one measured it (the
/// record's `experiment`), so deleting an experiment never takes another's results.
fn unreferenced(record: &CellRecord, referenced: &Referenced) -> Option<String> {
    let key = record.fingerprint.portable_key();
    if referenced.keys.values().any(|keys| keys.contains(&key)) {
        return None;
    }
    match referenced.keys.get(&record.experiment) {
        None => Some(format!("experiment `{}` is in no manifest", record.experiment)),
        Some(_) if referenced.unsure.contains_key(&record.experiment) => None,
        Some(_) => Some("its inputs match no cell of any experiment now".to_owned()),
    }
}

impl Store {
    /// Decides what gc removes from this store, given what the checkout refers to, the records
    /// it holds and the ones that could not be read.
    pub fn gc_plan(&self, referenced: &Referenced, records: &[CellRecord], corrupt: &[StoreError]) -> GcPlan {
        // Corrupt records are left alone, with their logs: their hash is their file name.
        let corrupt_hashes: HashSet<&str> =
            corrupt.iter().filter_map(|error| Path::new(error.path()).file_stem()?.to_str()).collect();
        let mut plan = GcPlan::default();
        let mut kept: HashSet<&str> = HashSet::new();
        for record in records {
            match unreferenced(record, referenced) {
                Some(why) => plan.removals.push(Removal {
                    path: self.record_path(&record.hash),
                    why: format!("{} on {}: {why}", record.cell, record.host.label()),
                    record: true,
                }),
                None => {
                    kept.insert(&record.hash);
                }
            }
        }
        plan.kept = kept.len();
        // A log belongs to a cell, or to the server the cell started.
        for path in files(&self.logs_dir(), "log") {
            let owner = self.log_owner(&path);
            if owner.is_some_and(|hash| !kept.contains(hash.as_str()) && !corrupt_hashes.contains(hash.as_str())) {
                plan.removals.push(Removal { path, why: "log of no kept record".to_owned(), record: false });
            }
        }
        // A client's captured trace belongs to the cell whose record sits beside it.
        for path in traces(&self.cells_dir()) {
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
            let hash = name.trim_end_matches(TRACE_SUFFIX);
            if !kept.contains(hash) && !corrupt_hashes.contains(hash) {
                plan.removals.push(Removal { path, why: "client trace of no kept record".to_owned(), record: false });
            }
        }
        // A base belongs to the quality reference cell that wrote it (its hash is its name).
        let references: HashSet<&str> = records
            .iter()
            .filter(|record| kept.contains(record.hash.as_str()))
            .filter(|record| {
                matches!(
                    record.fingerprint.workload,
                    crate::fingerprint::WorkloadPrint::Quality { reference: None, .. }
                )
            })
            .map(|record| record.hash.as_str())
            .collect();
        for path in files(&self.bases_dir(), "kld") {
            let hash = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or_default();
            if !references.contains(hash) && !corrupt_hashes.contains(hash) {
                plan.removals.push(Removal {
                    path,
                    why: "base logits of no kept quality reference".to_owned(),
                    record: false,
                });
            }
        }
        for directory in [self.cells_dir(), self.logs_dir(), self.bases_dir()] {
            for path in leftover_temporaries(&directory) {
                plan.removals.push(Removal {
                    path,
                    why: "left by a run that was killed while writing".to_owned(),
                    record: false,
                });
            }
        }
        plan.gone_reports = self.gone_reports(&referenced.keys);
        plan
    }

    /// Report folders (`results/NAME/README.md` written by bakeoff) of experiments that no
    /// manifest declares any more.
    fn gone_reports(&self, experiments: &BTreeMap<String, HashSet<String>>) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.root()) else {
            return Vec::new();
        };
        let mut gone: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
            .filter(|name| !RESERVED.contains(&name.as_str()) && !experiments.contains_key(name))
            .map(|name| self.report_dir(&name))
            .filter(|directory| {
                std::fs::read_to_string(directory.join(super::layout::REPORT_FILE))
                    .is_ok_and(|text| text.contains(REPORT_MARKER))
            })
            .collect();
        gone.sort();
        gone
    }
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

/// How a captured trace beside its record is named: `HASH.trace.jsonl`.
const TRACE_SUFFIX: &str = ".trace.jsonl";

/// The captured traces in the record folders under `cells`.
fn traces(cells: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(cells)
        .min_depth(2)
        .max_depth(2)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file() && entry.file_name().to_string_lossy().ends_with(TRACE_SUFFIX))
        .map(walkdir::DirEntry::into_path)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::ResolvedCell;
    use crate::store::Status;

    fn record(experiment: &str, argv: &str) -> CellRecord {
        let words: Vec<&str> = argv.split(' ').collect();
        let mut cell = ResolvedCell::stand_in(&[], "command", crate::matrix::Block::Command, &words);
        experiment.clone_into(&mut cell.cell.experiment);
        cell.id = cell.cell.id();
        CellRecord::new(&cell, &crate::host::HostFacts::default(), Status::Ok)
    }

    #[test]
    fn records_go_when_nothing_refers_to_them_and_stay_when_unsure() {
        let current = record("e", "echo 1");
        let edited = record("e", "echo 0");
        let gone = record("deleted", "echo 1");
        let mut referenced = Referenced::default();
        referenced.keys.insert("e".to_owned(), [current.fingerprint.portable_key()].into());
        assert_eq!(unreferenced(&current, &referenced), None);
        assert_eq!(
            unreferenced(&edited, &referenced).as_deref(),
            Some("its inputs match no cell of any experiment now")
        );
        assert_eq!(unreferenced(&gone, &referenced), None, "`e` has a cell of its inputs");
        let deleted = record("deleted", "echo 2");
        assert_eq!(unreferenced(&deleted, &referenced).as_deref(), Some("experiment `deleted` is in no manifest"));
        // Measured by `e` once, and by `other` now: `e` edited its cell away, `other` keeps it.
        referenced.keys.insert("other".to_owned(), [edited.fingerprint.portable_key()].into());
        assert_eq!(unreferenced(&edited, &referenced), None);
        referenced.keys.remove("other");
        referenced.unsure.insert("e".to_owned(), "a model is missing".to_owned());
        assert_eq!(unreferenced(&edited, &referenced), None, "an experiment that cannot be hashed keeps everything");
    }

    /// Logs and client traces follow their record; a corrupt record keeps its log; temporaries
    /// go; a report of a deleted experiment is named, not removed.
    #[test]
    fn the_plan_takes_logs_with_their_records_and_leaves_evidence() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::new(directory.path());
        let (kept, removed) = (record("e", "echo 1"), record("e", "echo 0"));
        for record in [&kept, &removed] {
            store.write(record).unwrap();
            std::fs::create_dir_all(store.logs_dir()).unwrap();
            std::fs::write(store.log_path(&record.hash), "output").unwrap();
            std::fs::write(store.trace_path(&record.hash), "{}\n").unwrap();
        }
        let corrupt_hash = "c".repeat(64);
        std::fs::write(store.log_path(&corrupt_hash), "output").unwrap();
        std::fs::write(store.cells_dir().join(".x.json.99.tmp"), "half").unwrap();
        // A base whose reference record is gone, and the partial one a killed pass left.
        store.ensure_bases_dir().unwrap();
        std::fs::write(store.base_path(&removed.hash), "logits").unwrap();
        std::fs::write(store.partial_base_path(&kept.hash), "half").unwrap();
        std::fs::create_dir_all(store.report_dir("old")).unwrap();
        std::fs::write(store.report_dir("old").join("README.md"), format!("<!-- {REPORT_MARKER} -->")).unwrap();
        let mut referenced = Referenced::default();
        referenced.keys.insert("e".to_owned(), [kept.fingerprint.portable_key()].into());
        let corrupt = [StoreError::Corrupt {
            path: store.record_path(&corrupt_hash).display().to_string(),
            message: "not JSON".to_owned(),
        }];
        let plan = store.gc_plan(&referenced, &[kept.clone(), removed.clone()], &corrupt);
        let paths: Vec<&Path> = plan.removals.iter().map(|removal| removal.path.as_path()).collect();
        assert_eq!(
            paths,
            [
                store.record_path(&removed.hash).as_path(),
                store.log_path(&removed.hash).as_path(),
                store.trace_path(&removed.hash).as_path(),
                store.base_path(&removed.hash).as_path(),
                store.cells_dir().join(".x.json.99.tmp").as_path(),
                store.partial_base_path(&kept.hash).as_path(),
            ]
        );
        assert_eq!(plan.kept, 1);
        assert_eq!(plan.gone_reports, [store.report_dir("old")]);
    }
}
