//! Setting hosts side by side: which hosts a `compare` or `reproduce` pairs, found by name,
//! label or the start of an id, and each experiment's comparisons from the store alone.

use serde::Serialize;

use super::pipeline::{Loaded, Project};
use super::reporter::Reporter;
use crate::Error;
use crate::host::HostFacts;
use crate::report::{self, Comparison, ExpectedCell, HostPairs, Hosts};

/// Bump when the JSON of `compare` changes incompatibly.
pub const COMPARE_FORMAT: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Compared {
    pub experiment: String,
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// Which hosts to compare: `reference` against each of `others`, or the report's pairs. One
/// default everywhere: `compare`, `reproduce` and the report's "Hosts compared" set the same
/// host as the reference (the one with the most `ok` results, the label breaking ties, so
/// every machine writes the same report), whichever machine they run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pairing {
    /// The given reference host against each other host (all of them when `others` is empty).
    Given { reference: String, others: Vec<String> },
    /// The report's pairs: its reference against every other host.
    Default,
    /// The report's pairs that set this host beside another: `bakeoff reproduce`.
    Involving { this_host: String },
}

impl Pairing {
    /// Each reference host with the hosts to set against it, given the hosts with results (by
    /// identity) and the report's reference among them (`None` with fewer than two).
    pub(crate) fn pairs(&self, hosts: &[String], default: Option<&str>) -> HostPairs {
        let others =
            |reference: &str| -> Vec<String> { hosts.iter().filter(|host| *host != reference).cloned().collect() };
        match (self, default) {
            (Self::Given { reference, others: given }, _) if given.is_empty() => {
                vec![(reference.clone(), others(reference))]
            }
            (Self::Given { reference, others }, _) => vec![(reference.clone(), others.clone())],
            (_, None) => Vec::new(),
            (Self::Default, Some(reference)) => vec![(reference.to_owned(), others(reference))],
            (Self::Involving { this_host }, Some(reference)) if this_host == reference => {
                vec![(reference.to_owned(), others(reference))]
            }
            (Self::Involving { this_host }, Some(reference)) => {
                vec![(reference.to_owned(), vec![this_host.clone()])]
            }
        }
    }
}

impl Project {
    /// Each selected experiment's comparisons of the hosts `pairing` names, from the store.
    pub fn compare(&self, loaded: &Loaded, pairing: &Pairing) -> Result<Vec<Compared>, Error> {
        let reporter = reporter(self, loaded)?;
        Ok(compare(&reporter, &loaded.selected, pairing))
    }

    /// The pairing `hosts` asks for (the first the reference, by name, label or the start of an
    /// id), or the report's pairs when it is empty.
    pub fn pairing(&self, loaded: &Loaded, hosts: &[String]) -> Result<Pairing, Error> {
        let Some((reference, others)) = hosts.split_first() else {
            return Ok(Pairing::Default);
        };
        let reporter = reporter(self, loaded)?;
        let known = known_hosts(&reporter, &loaded.selected);
        let reference = find_host(&known, reference)?;
        let others = others.iter().map(|other| find_host(&known, other)).collect::<Result<_, _>>()?;
        Ok(Pairing::Given { reference, others })
    }
}

/// A reporter over the store: cells are matched to results by what they run, not where.
fn reporter<'a>(project: &Project, loaded: &'a Loaded) -> Result<Reporter<'a>, Error> {
    let cells = project.resolve_uninspected(loaded, &HostFacts::default())?;
    note_unhashed(&cells);
    let expected = cells.iter().map(ExpectedCell::of).collect();
    Ok(Reporter::new(loaded, project.lock()?, expected, project.records()))
}

/// Says which inputs cannot be hashed here (their cells are then found by their records).
pub fn note_unhashed(cells: &[crate::fingerprint::ResolvedCell]) {
    let unhashed: std::collections::BTreeSet<&str> =
        cells.iter().flat_map(|cell| cell.unhashed.iter().map(String::as_str)).collect();
    if !unhashed.is_empty() {
        let names: Vec<String> = unhashed.iter().map(|name| format!("`{name}`")).collect();
        let notice = crate::notice::Notice::note(format!(
            "{} cannot be hashed here (not found under the model roots, nor pinned in bakeoff.lock): their cells \
             are matched to results by their records' own fingerprints",
            names.join(", ")
        ));
        crate::console::errln!("{notice}");
    }
}

fn compare(reporter: &Reporter<'_>, experiments: &[String], pairing: &Pairing) -> Vec<Compared> {
    let mut compared = Vec::new();
    for experiment in experiments {
        let Some(inputs) = reporter.inputs(experiment) else {
            continue;
        };
        let found = report::compare_hosts(&inputs, |hosts, default| pairing.pairs(hosts, default));
        if found.is_empty() {
            crate::console::errln!("compare: `{experiment}` has no results from two of the hosts asked for");
        }
        compared.extend(found.into_iter().map(|comparison| Compared { experiment: experiment.clone(), comparison }));
    }
    compared
}

/// Each host with results in `experiments`, by identity: its label and name.
fn known_hosts(reporter: &Reporter<'_>, experiments: &[String]) -> Vec<(String, String, String)> {
    let records = experiments.iter().flat_map(|experiment| reporter.records(experiment));
    let hosts = Hosts::of(records.clone());
    let mut known: Vec<(String, String, String)> = Vec::new();
    for record in records {
        let identity = hosts.identity(&record.host);
        if !known.iter().any(|(known, _, _)| *known == identity) {
            known.push((identity.clone(), hosts.label(&identity), record.host.name.clone()));
        }
    }
    known.sort_by(|a, b| a.1.cmp(&b.1));
    known
}

/// The identity of the host `wanted` names: its label, its name, or the start of its id.
fn find_host(known: &[(String, String, String)], wanted: &str) -> Result<String, Error> {
    let exact: Vec<&String> = known
        .iter()
        .filter(|(identity, label, name)| identity == wanted || label == wanted || name == wanted)
        .map(|(identity, _, _)| identity)
        .collect();
    let matches = if exact.is_empty() && wanted.len() >= 4 {
        known.iter().filter(|(identity, _, _)| identity.starts_with(wanted)).map(|(identity, _, _)| identity).collect()
    } else {
        exact
    };
    let listed = || {
        let hosts: Vec<String> = known
            .iter()
            .map(|(identity, label, _)| format!("{label} (id {})", crate::digest::listed(identity)))
            .collect();
        if hosts.is_empty() {
            "no host has results yet".to_owned()
        } else {
            format!("hosts with results: {}", hosts.join(", "))
        }
    };
    match matches.as_slice() {
        [identity] => Ok((*identity).clone()),
        [] => Err(Error::UnknownHost { name: wanted.to_owned(), help: listed() }),
        _ => Err(Error::UnknownHost {
            name: wanted.to_owned(),
            help: format!("`{wanted}` names several hosts; give the start of an id instead ({})", listed()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::Pairing;

    fn hosts() -> Vec<String> {
        ["a", "b", "c"].map(str::to_owned).to_vec()
    }

    fn pairs(pairing: &Pairing, default: &str) -> Vec<(String, Vec<String>)> {
        pairing.pairs(&hosts(), Some(default))
    }

    fn pair(reference: &str, others: &[&str]) -> (String, Vec<String>) {
        (reference.to_owned(), others.iter().map(|other| (*other).to_owned()).collect())
    }

    /// Regression (issue 30): `compare` set this host as the reference where the report and
    /// `reproduce` set the other; all three now follow the report.
    #[test]
    fn compare_and_reproduce_set_hosts_the_way_round_the_report_does() {
        assert_eq!(pairs(&Pairing::Default, "b"), [pair("b", &["a", "c"])]);
        let involving = |this_host: &str| Pairing::Involving { this_host: this_host.to_owned() };
        assert_eq!(pairs(&involving("c"), "b"), [pair("b", &["c"])], "this host against the reference");
        assert_eq!(pairs(&involving("b"), "b"), [pair("b", &["a", "c"])], "the reference against every other");
        let given = Pairing::Given { reference: "c".to_owned(), others: Vec::new() };
        assert_eq!(pairs(&given, "b"), [pair("c", &["a", "b"])], "as asked");
        assert!(Pairing::Default.pairs(&hosts()[..1], None).is_empty(), "one host has nothing to compare");
    }
}
