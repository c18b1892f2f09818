//! `results/index.html`: the page to explore every experiment and host of the store, written
//! with the reports, and kept current as a run's records land.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::pipeline::{Loaded, Project};
use crate::Error;
use crate::host::HostFacts;
use crate::report::ExpectedCell;
use crate::store::{CellRecord, Store};

/// The page is rewritten after a cell only if this many times its last writing time has
/// passed (as the reports are): with benchmark cells of seconds that is after every cell; with
/// a campaign of cells of milliseconds over a big store, writing it after each would cost more
/// than the cells.
const REWRITE_SPACING: u32 = 20;

impl Project {
    /// Writes `results/index.html` from `records` (every record of the store), with the
    /// declarations of `loaded`'s manifests; a record is current when a cell of them has its
    /// inputs, and shows under every experiment with such a cell. Returns the page's path.
    pub fn write_page(&self, loaded: &Loaded, records: &[CellRecord]) -> Result<PathBuf, Error> {
        PageWriter::new(self, loaded, records.to_vec()).write()
    }
}

/// The page during a run: every record of the store as the run found it, with each record
/// the run makes added, and the manifests' cells (resolved once).
pub struct PageWriter<'a> {
    loaded: &'a Loaded,
    store: &'a Store,
    /// The manifests' cells, or why they could not be resolved (an experiment this run does
    /// not select may have a problem of its own): then the page is not written, and the run
    /// says why.
    current: Result<Vec<ExpectedCell>, String>,
    records: Vec<CellRecord>,
    /// Where each record's hash is in `records`: a cell measured again replaces its record.
    by_hash: HashMap<String, usize>,
    /// When the page was last written during the run, and how long that took.
    written: Option<(Instant, Duration)>,
    /// A record landed since the page was last written.
    stale: bool,
}

impl<'a> PageWriter<'a> {
    /// The page of `records` (every record of the store) for `loaded`'s manifests, all of them.
    pub fn new(project: &'a Project, loaded: &'a Loaded, records: Vec<CellRecord>) -> Self {
        let all = Loaded {
            manifests: loaded.manifests.clone(),
            selected: loaded.manifests.experiments.iter().map(|experiment| experiment.name.value.clone()).collect(),
        };
        // Cells are matched to records by what they run, whatever the host (and whichever
        // experiment measured them).
        let current = project
            .resolve_uninspected(&all, &HostFacts::default())
            .map(|cells| {
                cells
                    .iter()
                    .map(|cell| ExpectedCell { key: Some(cell.fingerprint.portable_key()), ..ExpectedCell::of(cell) })
                    .collect()
            })
            .map_err(|error| error.to_string());
        let by_hash = records.iter().enumerate().map(|(index, record)| (record.hash.clone(), index)).collect();
        Self { loaded, store: &project.store, current, records, by_hash, written: None, stale: false }
    }

    /// A record has landed in the store: the next page shows it.
    pub fn add(&mut self, record: &CellRecord) {
        match self.by_hash.get(&record.hash) {
            Some(&index) => self.records[index] = record.clone(),
            None => {
                self.by_hash.insert(record.hash.clone(), self.records.len());
                self.records.push(record.clone());
            }
        }
        self.stale = true;
    }

    /// [`PageWriter::write`] after a cell finished, unless the page was written so recently
    /// that writing it again would slow the run down (the run writes it at its end anyway).
    /// Returns the page's path when it was written.
    pub fn write_soon(&mut self) -> Result<Option<PathBuf>, Error> {
        if let Some((at, took)) = self.written
            && at.elapsed() < took * REWRITE_SPACING
        {
            return Ok(None);
        }
        self.write().map(Some)
    }

    /// At the end of a run: writes the page unless it was written after the last record
    /// landed (a page from an older bakeoff, or edited manifests, are brought up to date when
    /// nothing landed). Returns its path.
    pub fn write_at_end(&mut self) -> Result<PathBuf, Error> {
        if self.written.is_some() && !self.stale {
            return Ok(self.store.index_path());
        }
        self.write()
    }

    /// Writes `results/index.html`, unchanged bytes left alone; returns its path.
    pub fn write(&mut self) -> Result<PathBuf, Error> {
        let started = Instant::now();
        let current = self.current.as_ref().map_err(|error| Error::Usage {
            message: format!("cannot write `results/index.html`: the manifests' cells cannot be resolved: {error}"),
        })?;
        let page = crate::report::render_page(&self.records, &self.loaded.manifests, current);
        let path = self.store.index_path();
        crate::atomic::write_if_changed(&path, page.as_bytes())
            .map_err(|source| Error::Io { what: format!("cannot write `{}`", path.display()), source })?;
        self.written = Some((Instant::now(), started.elapsed()));
        self.stale = false;
        Ok(path)
    }
}
