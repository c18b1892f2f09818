//! The [`Reporter`]: everything needed to write the research reports of a set of experiments,
//! kept up to date as a run's records land.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::pipeline::Loaded;
use crate::atomic::write_if_changed;
use crate::lock::LockFile;
use crate::report::{self, ExpectedCell, Inputs, ModelKind};
use crate::store::{CellRecord, Store};

/// `./results/x` → `results/x`: paths as a person would type them.
pub fn shown(path: &Path) -> &Path {
    path.strip_prefix(".").unwrap_or(path)
}

/// Everything needed to write the reports of a set of experiments, kept up to date as
/// records land.
pub struct Reporter<'a> {
    loaded: &'a Loaded,
    lock: Option<LockFile>,
    cells: BTreeMap<String, Vec<ExpectedCell>>,
    /// By portable key, the experiments with a cell of those inputs: a record is a measurement
    /// of its inputs, shown by every experiment that has them, not only by the one that ran it.
    sharing: HashMap<String, BTreeSet<String>>,
    /// Per experiment, the records its report is made from: those of its cells' inputs, and
    /// the earlier results it measured itself.
    records: BTreeMap<String, Vec<CellRecord>>,
    model_kinds: BTreeMap<String, ModelKind>,
    /// When each experiment's report was last written during a run, and how long that took.
    written: BTreeMap<String, (Instant, Duration)>,
    /// Experiments with a record added since their report was last written.
    stale: BTreeSet<String>,
}

/// A report is rewritten after a cell only if this many times its last writing time has
/// passed: with cells of a few milliseconds and a big matrix, rewriting after every one
/// would cost more than the cells; with real benchmark cells it is after every one.
const REWRITE_SPACING: u32 = 20;

impl<'a> Reporter<'a> {
    pub fn new(loaded: &'a Loaded, lock: Option<LockFile>, cells: Vec<ExpectedCell>, records: Vec<CellRecord>) -> Self {
        let mut expected: BTreeMap<String, Vec<ExpectedCell>> = BTreeMap::new();
        let mut sharing: HashMap<String, BTreeSet<String>> = HashMap::new();
        for cell in cells {
            if let Some(key) = &cell.key {
                sharing.entry(key.clone()).or_default().insert(cell.experiment.clone());
            }
            expected.entry(cell.experiment.clone()).or_default().push(cell);
        }
        let mut reporter = Self {
            loaded,
            lock,
            cells: expected,
            sharing,
            records: BTreeMap::new(),
            model_kinds: BTreeMap::new(),
            written: BTreeMap::new(),
            stale: BTreeSet::new(),
        };
        for record in &records {
            reporter.learn_model_kind(record);
        }
        for record in records {
            for experiment in reporter.experiments_of(&record) {
                reporter.records.entry(experiment).or_default().push(record.clone());
            }
        }
        reporter
    }

    /// The loaded experiments whose reports show `record`: every one with a cell of its inputs,
    /// whichever experiment measured it, and the one that measured it (its `experiment` field),
    /// where it counts as an earlier result when no cell of that experiment has its inputs now.
    fn experiments_of(&self, record: &CellRecord) -> BTreeSet<String> {
        let mut experiments = self.sharing.get(&record.fingerprint.portable_key()).cloned().unwrap_or_default();
        if self.cells.contains_key(&record.experiment) {
            experiments.insert(record.experiment.clone());
        }
        experiments
    }

    /// Keeps what llama-bench said of a model; of two descriptions, the first in sort order,
    /// so that the report does not depend on the order records are read in.
    fn learn_model_kind(&mut self, record: &CellRecord) {
        if let Some((sha256, kind)) = ModelKind::of(record) {
            let known = self.model_kinds.entry(sha256).or_insert_with(|| kind.clone());
            if kind < *known {
                *known = kind;
            }
        }
    }

    /// A record has landed in the store: the next report of every experiment that shows it
    /// includes it. Returns those experiments.
    pub fn add(&mut self, record: &CellRecord) -> BTreeSet<String> {
        self.learn_model_kind(record);
        let experiments = self.experiments_of(record);
        for experiment in &experiments {
            let records = self.records.entry(experiment.clone()).or_default();
            match records.iter_mut().find(|known| known.hash == record.hash) {
                Some(known) => *known = record.clone(),
                None => records.push(record.clone()),
            }
        }
        self.stale.extend(experiments.iter().cloned());
        experiments
    }

    pub fn build(&self, experiment: &str) -> Option<report::Report> {
        self.inputs(experiment).map(|inputs| report::build(&inputs))
    }

    /// What the report of `experiment` is made from; `None` for an experiment not loaded.
    pub fn inputs(&self, experiment: &str) -> Option<Inputs<'_>> {
        let definition = self.loaded.manifests.experiment(experiment)?;
        Some(Inputs {
            manifests: &self.loaded.manifests,
            experiment: definition,
            cells: self.cells.get(experiment).map_or(&[][..], Vec::as_slice),
            records: self.records.get(experiment).map_or(&[][..], Vec::as_slice),
            lock: self.lock.as_ref(),
            model_kinds: &self.model_kinds,
        })
    }

    /// Every record `experiment`'s report is made from (those of its cells' inputs, whoever
    /// measured them, and its own earlier results), shown or not.
    pub fn records(&self, experiment: &str) -> &[CellRecord] {
        self.records.get(experiment).map_or(&[][..], Vec::as_slice)
    }

    /// [`Reporter::write`] after a cell finished, unless the report was written so recently
    /// that writing it again would slow the run down (the run writes it at its end anyway).
    pub fn write_soon(&mut self, store: &Store, experiment: &str) -> io::Result<()> {
        if let Some((at, took)) = self.written.get(experiment)
            && at.elapsed() < *took * REWRITE_SPACING
        {
            return Ok(());
        }
        self.write(store, experiment)?;
        Ok(())
    }

    /// Whether this run wrote `experiment`'s report after its last record was added.
    pub fn is_current(&self, experiment: &str) -> bool {
        self.written.contains_key(experiment) && !self.stale.contains(experiment)
    }

    /// Writes `results/<experiment>/README.md` and its charts; returns the README's path.
    pub fn write(&mut self, store: &Store, experiment: &str) -> io::Result<PathBuf> {
        let started = Instant::now();
        let Some(report) = self.build(experiment) else {
            return Ok(store.report_path(experiment));
        };
        write_files(&store.report_dir(experiment), &report::render(report))?;
        self.stale.remove(experiment);
        self.written.insert(experiment.to_owned(), (Instant::now(), started.elapsed()));
        Ok(store.report_path(experiment))
    }
}

/// Writes the files that changed (so an unchanged report keeps its mtime) and removes charts
/// that an earlier report wrote and this one does not.
fn write_files(directory: &Path, files: &[(String, String)]) -> io::Result<()> {
    std::fs::create_dir_all(directory)?;
    for (name, content) in files {
        write_if_changed(&directory.join(name), content.as_bytes())?;
    }
    for entry in std::fs::read_dir(directory)?.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = path.extension().is_some_and(|extension| extension == "svg")
            && std::fs::read_to_string(&path).is_ok_and(|text| text.contains(crate::store::REPORT_MARKER));
        if ours && !files.iter().any(|(file, _)| *file == name) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
