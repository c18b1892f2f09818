//! The cell fingerprint: canonical JSON of everything that can change a cell's result.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::host::HostPrint;

/// Bump to invalidate every cached result (a change to what a fingerprint means).
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Fields are declared in sorted order so that serialising the struct directly gives
// canonical JSON; `canonical_json_is_sorted` checks it against a sorted re-serialisation.
pub struct Fingerprint {
    /// The resolved argv, model and file paths replaced by `sha256:<hex>`.
    pub argv: Vec<String>,
    /// Axis values other than `model` and `toolbox`, which enter by content below.
    pub axes: BTreeMap<String, String>,
    pub host: HostPrint,
    /// The experiment's `rounds`: more rounds make another measurement (a mean with a
    /// confidence interval). Left out at 1, so fingerprints from before rounds hash as they did.
    #[serde(default = "one_round", skip_serializing_if = "is_one_round")]
    pub rounds: u32,
    pub schema: u32,
    pub toolbox: ToolboxPrint,
    /// Adaptive rounds: `rounds` is their most; left out for a fixed count, so fingerprints
    /// from before hash as they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<UntilPrint>,
    pub workload: WorkloadPrint,
}

/// When a cell measured in adaptive rounds has had enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UntilPrint {
    /// The metric whose interval counts; `None`: every measured metric.
    pub metric: Option<String>,
    pub min: u32,
    /// The widest half-width of the 95% interval, in thousandths of a percent of the mean.
    pub percent_milli: u32,
}

impl UntilPrint {
    /// What a manifest's `until` puts in a fingerprint.
    pub fn of(until: &crate::manifest::Until) -> Self {
        Self {
            metric: until.metric.clone(),
            min: until.min,
            #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a small positive percentage")]
            percent_milli: (until.percent * 1000.0).round() as u32,
        }
    }

    pub fn percent(&self) -> f64 {
        f64::from(self.percent_milli) / 1000.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolboxPrint {
    /// `container-args` as written; left out when empty, so fingerprints from before it
    /// existed still hash as they did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_args: Vec<String>,
    /// The digest of the image that runs (a toolbox container's own image, not its tag's);
    /// filled in once the toolbox is inspected.
    pub digest: Option<String>,
    pub env: BTreeMap<String, String>,
    pub image: Option<String>,
    pub llama_cpp: Option<String>,
    pub name: String,
    pub runner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum WorkloadPrint {
    Bench,
    Command {
        metrics: BTreeMap<String, String>,
    },
    Server {
        name: String,
        /// The workload's `concurrency` (requests in flight). Named to sort after the `kind`
        /// tag serde writes first; left out at 1, so that fingerprints from before concurrency
        /// existed hash as they did.
        #[serde(default = "one", skip_serializing_if = "is_one")]
        parallel: u64,
        /// `cold` for a workload that starts every request on an empty prompt cache; left out
        /// when warm (the default, and all there was before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prompt_cache: Option<String>,
        repeat: u64,
        /// A replayed trace: its sha256 and timing; left out for a workload of requests. (The
        /// fields are in the order of their names: the canonical JSON is sorted.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replay: Option<ReplayPrint>,
        requests: Vec<RequestPrint>,
        /// An agent client's session: its command line, environment and working folder; left
        /// out for a workload of requests.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<ClientPrint>,
    },
    /// llama-perplexity over a corpus: the reference configuration's cell computes the base
    /// logits; every other measures against them, so the reference's inputs are its inputs.
    Quality {
        /// sha256 of the corpus.
        corpus: String,
        /// The portable key of the reference configuration's quality cell; `None` for the
        /// reference itself.
        reference: Option<String>,
    },
}

fn one_round() -> u32 {
    1
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_one_round(value: &u32) -> bool {
    *value == 1
}

fn one() -> u64 {
    1
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_one(value: &u64) -> bool {
    *value == 1
}

/// A `client` workload's client: what it is asked and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPrint {
    /// The command line as written (`{proxy}` and `{axis}` unfilled: the axes are in the print).
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// sha256 over the working folder's files (their paths and contents); `None` without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
}

/// A `replay` workload's trace: what is sent is the trace's content, and how it is spaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayPrint {
    /// `recorded` (the captured gaps) or `back-to-back`.
    pub timing: String,
    /// sha256 of the trace file.
    pub trace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestPrint {
    pub api: String,
    pub fields: BTreeMap<String, String>,
    /// `prompt-file` / `system-file` → sha256 of their content.
    pub files: BTreeMap<String, String>,
    /// A conversation's turns; left out for a request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<String>,
}

impl Fingerprint {
    /// JSON with sorted keys and no whitespace: the bytes that are hashed.
    pub fn canonical_json(&self) -> String {
        let mut bytes = Vec::with_capacity(1024);
        serde_json::to_writer(&mut bytes, self).expect("a fingerprint always serialises");
        String::from_utf8(bytes).expect("serde_json writes UTF-8")
    }

    /// The cell hash: sha256 of the canonical JSON, in hex.
    pub fn hash(&self) -> String {
        crate::digest::hex(&Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// The hash of what the cell is, leaving out what belongs to the machine that measured it
    /// (host facts, the toolbox's image digest and llama.cpp build): the same cell measured on
    /// two hosts has two cell hashes and one portable key.
    pub fn portable_key(&self) -> String {
        let mut portable = self.clone();
        portable.host = HostPrint::default();
        portable.toolbox.digest = None;
        portable.toolbox.llama_cpp = None;
        portable.hash()
    }

    /// Every leaf as `path = value`, for explaining what changed between two fingerprints.
    pub fn leaves(&self) -> BTreeMap<String, String> {
        let mut leaves = BTreeMap::new();
        flatten("", &serde_json::to_value(self).expect("a fingerprint always serialises"), &mut leaves);
        leaves
    }
}

fn flatten(path: &str, value: &serde_json::Value, leaves: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                flatten(&child_path, child, leaves);
            }
        }
        serde_json::Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                flatten(&format!("{path}[{index}]"), child, leaves);
            }
            if items.is_empty() {
                leaves.insert(path.to_owned(), "[]".to_owned());
            }
        }
        serde_json::Value::String(text) => {
            leaves.insert(path.to_owned(), text.clone());
        }
        // An absent value is no value: a diff says `(none)`, never the word `null`.
        serde_json::Value::Null => {}
        other => {
            leaves.insert(path.to_owned(), other.to_string());
        }
    }
}

/// One field that differs between an earlier fingerprint and the current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The fields that differ: the argv's options first, in the order they appear (each with its
/// values: `argv -ub` `None → 256`), then every other leaf in path order.
pub fn diff(old: &Fingerprint, new: &Fingerprint) -> Vec<FieldChange> {
    let mut changes = argv_changes(&old.argv, &new.argv);
    let is_argv = |field: &str| field.starts_with("argv[") || field == "argv";
    let old_leaves = old.leaves();
    let new_leaves = new.leaves();
    let mut rest = Vec::new();
    for (field, value) in new_leaves.iter().filter(|(field, _)| !is_argv(field)) {
        if old_leaves.get(field) != Some(value) {
            rest.push(FieldChange {
                field: field.clone(),
                old: old_leaves.get(field).cloned(),
                new: Some(value.clone()),
            });
        }
    }
    for (field, value) in old_leaves.iter().filter(|(field, _)| !is_argv(field)) {
        if !new_leaves.contains_key(field) {
            rest.push(FieldChange { field: field.clone(), old: Some(value.clone()), new: None });
        }
    }
    rest.sort_by(|left, right| left.field.cmp(&right.field));
    changes.extend(rest);
    changes
}

/// The prefix of the field an argv option's change is named by: `argv -ub`.
pub const ARGV_FIELD: &str = "argv ";

/// An argv read as options with their values: the program (and anything before the first
/// option) under `argv`, then each option with the words after it up to the next option. An
/// option given twice is told apart by its occurrence (`-t#2`).
fn options(argv: &[String]) -> Vec<(String, String)> {
    let is_option = |word: &str| word.starts_with('-') && word.len() > 1 && word.parse::<f64>().is_err();
    let mut options: Vec<(String, Vec<&str>)> = vec![("argv".to_owned(), Vec::new())];
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for word in argv {
        if is_option(word) {
            let count = seen.entry(word.as_str()).or_insert(0);
            *count += 1;
            let key = if *count == 1 { format!("{ARGV_FIELD}{word}") } else { format!("{ARGV_FIELD}{word}#{count}") };
            options.push((key, Vec::new()));
        } else if let Some((_, values)) = options.last_mut() {
            values.push(word);
        }
    }
    options.into_iter().map(|(key, values)| (key, values.join(" "))).collect()
}

/// The argv options added, removed or given another value, in the order they appear.
fn argv_changes(old: &[String], new: &[String]) -> Vec<FieldChange> {
    let old = options(old);
    let new = options(new);
    let old_map: BTreeMap<&str, &str> = old.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
    let new_map: BTreeMap<&str, &str> = new.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
    let mut changes = Vec::new();
    for (key, value) in &new {
        match old_map.get(key.as_str()) {
            Some(previous) if previous == value => {}
            previous => changes.push(FieldChange {
                field: key.clone(),
                old: previous.map(|previous| (*previous).to_owned()),
                new: Some(value.clone()),
            }),
        }
    }
    for (key, value) in &old {
        if !new_map.contains_key(key.as_str()) {
            changes.push(FieldChange { field: key.clone(), old: Some(value.clone()), new: None });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known_cell() -> Fingerprint {
        Fingerprint {
            schema: SCHEMA,
            rounds: 1,
            until: None,
            axes: [("depth".to_owned(), "0".to_owned()), ("fa".to_owned(), "1".to_owned())].into(),
            argv: ["llama-bench", "-m", "sha256:00ff", "-fa", "1", "-d", "0", "-o", "jsonl"]
                .map(str::to_owned)
                .to_vec(),
            toolbox: ToolboxPrint {
                name: "llama-vulkan-radv".to_owned(),
                runner: "toolbox".to_owned(),
                image: Some("docker.io/kyuz0/amd-strix-halo-toolboxes:vulkan-radv".to_owned()),
                container_args: Vec::new(),
                digest: None,
                llama_cpp: None,
                env: BTreeMap::new(),
            },
            workload: WorkloadPrint::Bench,
            host: HostPrint {
                cpu: "AMD RYZEN AI MAX+ 395 w/ Radeon 8060S".to_owned(),
                gpus: vec!["AMD Radeon 8060S (gfx1151)".to_owned()],
                memory_bytes: 137_438_953_472,
                kernel: "6.18.9-200.fc43.x86_64".to_owned(),
                firmware: Some("20260110".to_owned()),
                id: String::new(),
            },
        }
    }

    /// Golden: an accidental change to what is hashed, or how, changes this value and would
    /// silently rerun every user's cells. Change it only together with `SCHEMA`.
    #[test]
    fn the_hash_of_a_known_cell_is_pinned() {
        let fingerprint = known_cell();
        assert_eq!(
            fingerprint.canonical_json(),
            r#"{"argv":["llama-bench","-m","sha256:00ff","-fa","1","-d","0","-o","jsonl"],"axes":{"depth":"0","fa":"1"},"host":{"cpu":"AMD RYZEN AI MAX+ 395 w/ Radeon 8060S","firmware":"20260110","gpus":["AMD Radeon 8060S (gfx1151)"],"kernel":"6.18.9-200.fc43.x86_64","memory_bytes":137438953472},"schema":1,"toolbox":{"digest":null,"env":{},"image":"docker.io/kyuz0/amd-strix-halo-toolboxes:vulkan-radv","llama_cpp":null,"name":"llama-vulkan-radv","runner":"toolbox"},"workload":{"kind":"bench"}}"#
        );
        assert_eq!(fingerprint.hash(), GOLDEN_HASH);
    }

    /// A host id enters in its sorted place; records written without one keep their hash above.
    #[test]
    fn the_host_id_is_hashed_in_sorted_order() {
        let mut fingerprint = known_cell();
        fingerprint.host.id = "0123456789abcdef".to_owned();
        assert!(
            fingerprint
                .canonical_json()
                .contains(r#""gpus":["AMD Radeon 8060S (gfx1151)"],"id":"0123456789abcdef","kernel""#)
        );
        assert_eq!(fingerprint.canonical_json(), serde_json::to_value(&fingerprint).unwrap().to_string());
        assert_ne!(fingerprint.hash(), GOLDEN_HASH);
        assert_eq!(fingerprint.portable_key(), known_cell().portable_key());
    }

    const GOLDEN_HASH: &str = "50f2bca300ec0b3ad4937b3977ec4336fa7415be0b7c72ebb5433854287cf1a3";

    #[test]
    fn canonical_json_is_sorted() {
        let mut fingerprint = known_cell();
        fingerprint.rounds = 3;
        fingerprint.workload = WorkloadPrint::Server {
            name: "chat".to_owned(),
            parallel: 4,
            prompt_cache: Some("cold".to_owned()),
            repeat: 3,
            requests: vec![RequestPrint {
                api: "openai-chat".to_owned(),
                fields: [("prompt".to_owned(), "hi".to_owned())].into(),
                files: [("system-file".to_owned(), "00ff".to_owned())].into(),
                turns: vec!["hi".to_owned(), "more".to_owned()],
            }],
            replay: Some(ReplayPrint { trace: "00aa".to_owned(), timing: "recorded".to_owned() }),
            session: Some(ClientPrint {
                argv: vec!["claude".to_owned(), "-p".to_owned()],
                env: [("HOME".to_owned(), "/tmp".to_owned())].into(),
                workdir: Some("00bb".to_owned()),
            }),
        };
        // serde_json's Map is a BTreeMap (no `preserve_order`), so a Value re-serialises sorted.
        let sorted = serde_json::to_value(&fingerprint).unwrap().to_string();
        assert_eq!(fingerprint.canonical_json(), sorted);
        fingerprint.workload = WorkloadPrint::Command { metrics: [("tps".to_owned(), "([0-9.]+)".to_owned())].into() };
        assert_eq!(fingerprint.canonical_json(), serde_json::to_value(&fingerprint).unwrap().to_string());
    }

    #[test]
    fn diff_names_each_changed_leaf() {
        let old = known_cell();
        let mut new = known_cell();
        new.axes.insert("depth".to_owned(), "4096".to_owned());
        new.argv[6] = "4096".to_owned();
        new.host.firmware = None;
        let fields: Vec<String> = diff(&old, &new).into_iter().map(|change| change.field).collect();
        assert_eq!(fields, ["argv -d", "axes.depth", "host.firmware"]);
        assert!(diff(&old, &old).is_empty());
    }

    /// Regression: inserting `-ub 256` was shown by position (`argv[10] 8 → 32, argv[11] -r →
    /// -n, … and 8 more`); options are paired with their values instead.
    #[test]
    fn argv_changes_pair_options_with_their_values() {
        let old = known_cell();
        let mut new = known_cell();
        new.argv = ["llama-bench", "-m", "sha256:00ff", "-ub", "256", "-d", "4096", "-o", "jsonl", "--no-mmap"]
            .map(str::to_owned)
            .to_vec();
        let changes: Vec<(String, Option<String>, Option<String>)> = diff(&old, &new)
            .into_iter()
            .filter(|change| change.field.starts_with("argv"))
            .map(|change| (change.field, change.old, change.new))
            .collect();
        let some = |text: &str| Some(text.to_owned());
        assert_eq!(
            changes,
            [
                ("argv -ub".to_owned(), None, some("256")),
                ("argv -d".to_owned(), some("0"), some("4096")),
                ("argv --no-mmap".to_owned(), None, some("")),
                ("argv -fa".to_owned(), some("1"), None),
            ]
        );
        // Negative numbers are values, and a repeated option is told apart by occurrence.
        let words = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let changes = argv_changes(&words("x -t 1 -s -1 -t 2"), &words("x -t 1 -s -1 -t 3"));
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].field.as_str(), changes[0].new.as_deref()), ("argv -t#2", Some("3")));
    }

    #[test]
    fn the_portable_key_ignores_the_machine_but_not_the_cell() {
        let here = known_cell();
        let mut there = known_cell();
        there.host.kernel = "6.17.1".to_owned();
        there.host.gpus.clear();
        there.toolbox.digest = Some("sha256:abcd".to_owned());
        there.toolbox.llama_cpp = Some("b7000".to_owned());
        assert_ne!(here.hash(), there.hash());
        assert_eq!(here.portable_key(), there.portable_key());
        there.axes.insert("fa".to_owned(), "0".to_owned());
        assert_ne!(here.portable_key(), there.portable_key());
    }
}
