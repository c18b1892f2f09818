//! What `gc` may not remove: the results every experiment of the checkout still refers to.

use std::collections::{BTreeMap, HashSet};

use super::pipeline::Project;
use crate::Error;
use crate::host::HostFacts;
use crate::store::Referenced;

impl Project {
    /// The portable keys of every current cell of the checkout's manifests (an experiment left
    /// out of a command line still refers to its records), and the experiments with an input
    /// that cannot be hashed here (all their records stay). A manifest with an error is an
    /// error, so gc stops before it removes anything.
    pub fn referenced(&self) -> Result<Referenced, Error> {
        let loaded = self.load(&[])?;
        let cells = self.resolve_uninspected(&loaded, &HostFacts::default())?;
        let mut referenced = Referenced {
            keys: loaded.selected.iter().map(|experiment| (experiment.clone(), HashSet::new())).collect(),
            unsure: BTreeMap::new(),
        };
        for cell in &cells {
            let experiment = cell.cell.experiment.clone();
            referenced.keys.entry(experiment.clone()).or_default().insert(cell.fingerprint.portable_key());
            if let Some(input) = cell.unhashed.first() {
                referenced.unsure.entry(experiment).or_insert_with(|| {
                    format!(
                        "input `{input}` cannot be hashed here (a model neither found nor pinned in bakeoff.lock, or \
                         an unreadable file)"
                    )
                });
            }
        }
        Ok(referenced)
    }
}
