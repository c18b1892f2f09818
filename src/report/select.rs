//! Which record in the store stands for each cell of an experiment on each host.

use std::collections::{BTreeSet, HashMap};

use crate::fingerprint::ResolvedCell;
use crate::store::CellRecord;

/// A cell of the matrix as the report knows it: where it sits, and how to find its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedCell {
    pub experiment: String,
    pub id: String,
    /// Axis name and value, in the order the axes are declared.
    pub axes: Vec<(String, String)>,
    pub workload: String,
    /// [`crate::fingerprint::Fingerprint::portable_key`] of the cell as the manifests and inputs
    /// describe it now.
    pub key: String,
}

impl ExpectedCell {
    pub fn of(cell: &ResolvedCell) -> Self {
        Self {
            experiment: cell.cell.experiment.clone(),
            id: cell.id.clone(),
            axes: cell.cell.axes.clone(),
            workload: cell.cell.workload.clone(),
            key: cell.fingerprint.portable_key(),
        }
    }
}

/// The record chosen for each (cell, host), and what was left out.
#[derive(Debug)]
pub struct Chosen<'a> {
    /// Host labels, sorted.
    pub hosts: Vec<String>,
    /// Each host's [`crate::host::HostFacts::identity`], in the order of `hosts`.
    pub identities: Vec<String>,
    /// `records[cell][host]`: the newest record of that cell on that host.
    pub records: Vec<Vec<Option<&'a CellRecord>>>,
    /// Records of the experiment whose inputs match no current cell (an edited value, an
    /// older model): kept in the store, not shown.
    pub stale: usize,
}

/// Matches `records` (one experiment's) to `cells` by portable key. A host that measured a
/// cell more than once (after a llama.cpp update, say) is represented by its newest result.
pub fn choose<'a>(cells: &[ExpectedCell], records: &'a [CellRecord]) -> Chosen<'a> {
    let by_key: HashMap<&str, usize> =
        cells.iter().enumerate().map(|(index, cell)| (cell.key.as_str(), index)).collect();
    let mut matched = Vec::new();
    let mut stale = 0;
    for record in records {
        match by_key.get(record.fingerprint.portable_key().as_str()) {
            Some(&cell) => matched.push((cell, record)),
            None => stale += 1,
        }
    }
    let labels = host_labels(matched.iter().map(|(_, record)| *record));
    let matched: Vec<(usize, String, &CellRecord)> =
        matched.into_iter().map(|(cell, record)| (cell, labels[&record.host.identity()].clone(), record)).collect();
    let hosts: Vec<String> =
        matched.iter().map(|(_, host, _)| host.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut identities = vec![String::new(); hosts.len()];
    for (identity, label) in &labels {
        if let Ok(index) = hosts.binary_search(label) {
            identities[index].clone_from(identity);
        }
    }
    let mut chosen: Vec<Vec<Option<&CellRecord>>> = vec![vec![None; hosts.len()]; cells.len()];
    for (cell, host, record) in matched {
        let host = hosts.binary_search(&host).expect("every host was collected");
        let slot = &mut chosen[cell][host];
        // Newest wins; the hash breaks ties so that the choice never depends on read order.
        let newer = |old: &CellRecord| {
            (record.timings.started_unix_ms, &record.hash) > (old.timings.started_unix_ms, &old.hash)
        };
        if slot.is_none_or(newer) {
            *slot = Some(record);
        }
    }
    Chosen { hosts, identities, records: chosen, stale }
}

/// A label for each host identity among `records`: the name of its newest record, with the
/// start of the id added when two hosts share a name (two boxes both called `localhost`).
pub fn host_labels<'a>(records: impl Iterator<Item = &'a CellRecord>) -> HashMap<String, String> {
    let mut newest: HashMap<String, &CellRecord> = HashMap::new();
    for record in records {
        let slot = newest.entry(record.host.identity()).or_insert(record);
        if (record.timings.started_unix_ms, &record.hash) > (slot.timings.started_unix_ms, &slot.hash) {
            *slot = record;
        }
    }
    let mut named: HashMap<String, usize> = HashMap::new();
    for record in newest.values() {
        *named.entry(record.host.label()).or_default() += 1;
    }
    newest
        .into_iter()
        .map(|(identity, record)| {
            let label = record.host.label();
            let label = if named[&label] > 1 { format!("{label} ({})", &identity[..8]) } else { label };
            (identity, label)
        })
        .collect()
}
