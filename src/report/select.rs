//! Which record in the store stands for each cell of an experiment on each host.

use std::collections::{BTreeSet, HashMap};

use crate::fingerprint::ResolvedCell;
use crate::host::HostFacts;
use crate::store::CellRecord;

/// A cell of the matrix as the report knows it: where it sits, and how to find its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedCell {
    pub experiment: String,
    pub id: String,
    /// Axis name and value, in the order the axes are declared.
    pub axes: Vec<(String, String)>,
    pub workload: String,
    /// Which block of the experiment the cell runs.
    pub block: crate::matrix::Block,
    /// [`crate::fingerprint::Fingerprint::portable_key`] of the cell as the manifests and inputs
    /// describe it now; `None` when an input cannot be hashed here (a model neither found nor
    /// locked), and the cell's newest record of the same id says what it ran.
    pub key: Option<String>,
}

impl ExpectedCell {
    pub fn of(cell: &ResolvedCell) -> Self {
        Self {
            experiment: cell.cell.experiment.clone(),
            id: cell.id.clone(),
            axes: cell.cell.axes.clone(),
            workload: cell.cell.workload.clone(),
            block: cell.cell.block,
            key: cell.unhashed.is_empty().then(|| cell.fingerprint.portable_key()),
        }
    }
}

/// The record chosen for each (cell, host), and what was left out.
#[derive(Debug)]
pub(crate) struct Chosen<'a> {
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
pub(crate) fn choose<'a>(cells: &[ExpectedCell], records: &'a [CellRecord]) -> Chosen<'a> {
    // A cell whose inputs cannot be hashed here takes the key of its newest record (by cell
    // id): the results are compared as what they ran, not left out for want of a model file.
    let mut newest_by_id: HashMap<&str, &CellRecord> = HashMap::new();
    for record in records {
        let slot = newest_by_id.entry(record.cell.as_str()).or_insert(record);
        if (record.timings.started_unix_ms, &record.hash) > (slot.timings.started_unix_ms, &slot.hash) {
            *slot = record;
        }
    }
    let keys: Vec<Option<String>> = cells
        .iter()
        .map(|cell| {
            cell.key
                .clone()
                .or_else(|| newest_by_id.get(cell.id.as_str()).map(|record| record.fingerprint.portable_key()))
        })
        .collect();
    // Several cells may have one key: a quality cell's configurations that differ only in axes
    // it does not use are one measurement, shown in each of their rows.
    let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, key) in keys.iter().enumerate() {
        if let Some(key) = key.as_deref() {
            by_key.entry(key).or_default().push(index);
        }
    }
    let mut matched = Vec::new();
    let mut stale = 0;
    for record in records {
        match by_key.get(record.fingerprint.portable_key().as_str()) {
            Some(cells) => matched.extend(cells.iter().map(|&cell| (cell, record))),
            None => stale += 1,
        }
    }
    let known = Hosts::of(matched.iter().map(|(_, record)| *record));
    let matched: Vec<(usize, String, &CellRecord)> =
        matched.into_iter().map(|(cell, record)| (cell, known.label(&known.identity(&record.host)), record)).collect();
    let hosts: Vec<String> =
        matched.iter().map(|(_, host, _)| host.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut identities = vec![String::new(); hosts.len()];
    for (identity, label) in known.all() {
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

/// The hosts among a set of records: which host each record belongs to, and its label.
#[derive(Debug, Default)]
pub(crate) struct Hosts {
    /// Identities of records written before hosts had ids → the id of the same machine.
    adopted: HashMap<String, String>,
    labels: HashMap<String, String>,
}

impl Hosts {
    /// Labels are the name of each host's newest record, with the start of the id added when
    /// two hosts share a name (two boxes both called `localhost`). A record written before
    /// hosts had ids belongs to the host with an id and the same name, CPU, GPUs and memory,
    /// when there is exactly one: an upgraded bakeoff does not split a machine in two.
    pub(crate) fn of<'a>(records: impl Iterator<Item = &'a CellRecord> + Clone) -> Self {
        let machine =
            |host: &HostFacts| (host.name.clone(), host.cpu.clone(), host.gpu_list().to_vec(), host.memory_bytes);
        let mut with_id: HashMap<_, BTreeSet<&str>> = HashMap::new();
        for record in records.clone().filter(|record| !record.host.id.is_empty()) {
            with_id.entry(machine(&record.host)).or_default().insert(&record.host.id);
        }
        let mut adopted = HashMap::new();
        for record in records.clone().filter(|record| record.host.id.is_empty()) {
            if let Some(ids) = with_id.get(&machine(&record.host))
                && let [id] = ids.iter().collect::<Vec<_>>()[..]
            {
                adopted.insert(record.host.identity(), (*id).to_owned());
            }
        }
        let mut hosts = Self { adopted, labels: HashMap::new() };
        let mut newest: HashMap<String, &CellRecord> = HashMap::new();
        for record in records {
            let slot = newest.entry(hosts.identity(&record.host)).or_insert(record);
            if (record.timings.started_unix_ms, &record.hash) > (slot.timings.started_unix_ms, &slot.hash) {
                *slot = record;
            }
        }
        let mut named: HashMap<String, usize> = HashMap::new();
        for record in newest.values() {
            *named.entry(record.host.label()).or_default() += 1;
        }
        hosts.labels = newest
            .into_iter()
            .map(|(identity, record)| {
                let label = record.host.label();
                let label =
                    if named[&label] > 1 { format!("{label} ({})", crate::digest::listed(&identity)) } else { label };
                (identity, label)
            })
            .collect();
        hosts
    }

    /// The host a record with these facts belongs to.
    pub(crate) fn identity(&self, host: &HostFacts) -> String {
        let identity = host.identity();
        self.adopted.get(&identity).cloned().unwrap_or(identity)
    }

    /// The label of a host among the records; its identity's start when it has none there.
    pub(crate) fn label(&self, identity: &str) -> String {
        self.labels.get(identity).cloned().unwrap_or_else(|| format!("host-{}", &identity[..8.min(identity.len())]))
    }

    /// Every identity, with its label.
    pub(crate) fn all(&self) -> impl Iterator<Item = (&String, &String)> {
        self.labels.iter()
    }
}
