//! `results/index.html`: the page to explore every experiment and host of the store, written
//! with the reports.

use std::path::PathBuf;

use super::pipeline::{Loaded, Project};
use crate::Error;
use crate::host::HostFacts;
use crate::report::ExpectedCell;
use crate::store::CellRecord;

impl Project {
    /// Writes `results/index.html` from `records` (every record of the store), with the
    /// declarations of `loaded`'s manifests; a record is current when a cell of them has its
    /// inputs, and shows under every experiment with such a cell. Returns the page's path.
    pub fn write_page(&self, loaded: &Loaded, records: &[CellRecord]) -> Result<PathBuf, Error> {
        let all = Loaded {
            manifests: loaded.manifests.clone(),
            selected: loaded.manifests.experiments.iter().map(|experiment| experiment.name.value.clone()).collect(),
        };
        // Cells are matched to records by what they run, whatever the host (and whichever
        // experiment measured them).
        let current: Vec<ExpectedCell> = self
            .resolve_uninspected(&all, &HostFacts::default())?
            .iter()
            .map(|cell| ExpectedCell { key: Some(cell.fingerprint.portable_key()), ..ExpectedCell::of(cell) })
            .collect();
        let page = crate::report::render_page(records, &loaded.manifests, &current);
        let path = self.store.index_path();
        crate::atomic::write_atomic(&path, page.as_bytes())
            .map_err(|source| Error::Io { what: format!("cannot write `{}`", path.display()), source })?;
        Ok(path)
    }
}
