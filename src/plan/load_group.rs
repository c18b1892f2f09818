//! llama-bench load groups: bench cells that differ only in llama-bench's per-test parameters
//! (threads, batch sizes, depth, flash attention, …) run as one llama-bench process with comma
//! lists, so the model is loaded once; its JSON records are given back to the cells by the
//! parameter values each record reports.

use std::collections::BTreeMap;

use serde_json::Value;

/// How llama-bench reports a parameter's value in its JSON records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    /// `0|1`, reported as `false|true`.
    Boolean,
    /// `on|off|auto` (or `1|0`), reported as `1|0|-1`.
    FlashAttention,
}

/// A per-test parameter: its spellings on the command line and its field in the records.
struct Parameter {
    names: &'static [&'static str],
    field: &'static str,
    kind: Kind,
}

const PARAMETERS: [Parameter; 14] = [
    Parameter { names: &["-t", "--threads"], field: "n_threads", kind: Kind::Number },
    Parameter { names: &["-d", "--n-depth"], field: "n_depth", kind: Kind::Number },
    Parameter { names: &["-b", "--batch-size"], field: "n_batch", kind: Kind::Number },
    Parameter { names: &["-ub", "--ubatch-size"], field: "n_ubatch", kind: Kind::Number },
    Parameter { names: &["-ngl", "--n-gpu-layers"], field: "n_gpu_layers", kind: Kind::Number },
    Parameter { names: &["-ncmoe", "--n-cpu-moe"], field: "n_cpu_moe", kind: Kind::Number },
    Parameter { names: &["-mg", "--main-gpu"], field: "main_gpu", kind: Kind::Number },
    Parameter { names: &["--poll"], field: "poll", kind: Kind::Number },
    Parameter { names: &["-ctk", "--cache-type-k"], field: "type_k", kind: Kind::Text },
    Parameter { names: &["-ctv", "--cache-type-v"], field: "type_v", kind: Kind::Text },
    Parameter { names: &["-fa", "--flash-attn"], field: "flash_attn", kind: Kind::FlashAttention },
    Parameter { names: &["-nkvo", "--no-kv-offload"], field: "no_kv_offload", kind: Kind::Boolean },
    Parameter { names: &["-embd", "--embeddings"], field: "embeddings", kind: Kind::Boolean },
    Parameter { names: &["--repack"], field: "repack", kind: Kind::Boolean },
];

/// A bench argv taken apart: everything but the per-test values (the group's key, with a
/// placeholder where each value stood), and those values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Split {
    pub(super) key: Vec<String>,
    /// Parameter index → the value this argv gives it.
    pub(super) values: BTreeMap<usize, String>,
}

const PLACEHOLDER: &str = "\u{0}";

/// Splits a llama-bench argv; `None` when it cannot join a group (a parameter given twice or
/// as a list or range already).
pub(super) fn split(argv: &[String]) -> Option<Split> {
    let mut key = Vec::with_capacity(argv.len());
    let mut values = BTreeMap::new();
    let mut words = argv.iter();
    while let Some(word) = words.next() {
        key.push(word.clone());
        let Some(parameter) = PARAMETERS.iter().position(|parameter| parameter.names.contains(&word.as_str())) else {
            continue;
        };
        let value = words.next()?;
        if is_list(PARAMETERS[parameter].kind, value) || values.insert(parameter, value.clone()).is_some() {
            return None;
        }
        key.push(PLACEHOLDER.to_owned());
    }
    Some(Split { key, values })
}

/// `1,2`, and for numbers `1-4`, `1-8+2`, `1-64*2`: llama-bench's lists and ranges.
fn is_list(kind: Kind, value: &str) -> bool {
    value.contains(',') || (kind == Kind::Number && value.get(1..).is_some_and(|rest| rest.contains(['-', '+', '*'])))
}

/// A set of cells that one llama-bench process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadGroup {
    /// Indices of the cells, in the order they were given.
    pub cells: Vec<usize>,
    /// The one argv: the key with comma lists where the cells differ.
    pub argv: Vec<String>,
    /// Each cell's values of the parameters that vary, normalised as the records report them.
    varying: Vec<(usize, Vec<String>)>,
}

impl LoadGroup {
    /// Which of the group's cells a JSON record belongs to (by position in `cells`).
    pub(crate) fn owner(&self, record: &Value) -> Option<usize> {
        let reported: Vec<String> = self
            .varying
            .iter()
            .map(|(parameter, _)| reported(record.get(PARAMETERS[*parameter].field)?))
            .collect::<Option<_>>()?;
        (0..self.cells.len()).find(|&position| {
            self.varying.iter().zip(&reported).all(|((_, values), reported)| values[position] == *reported)
        })
    }
}

/// Cells (by index) with their split argv.
type Members<'a> = Vec<(usize, &'a Split)>;

/// Groups the splits that share a key (same toolbox as the caller decides, same everything but
/// per-test values) into load groups; a set that is not a full cross product of its values is
/// split further, so that llama-bench runs no combination nobody asked for. Returns groups of
/// two or more cells; the rest run alone.
pub(super) fn groups(splits: &[(usize, &Split)]) -> Vec<LoadGroup> {
    let mut by_key: Vec<(&[String], Members<'_>)> = Vec::new();
    for (cell, split) in splits {
        match by_key.iter_mut().find(|(key, _)| *key == split.key.as_slice()) {
            Some((_, members)) => members.push((*cell, split)),
            None => by_key.push((&split.key, vec![(*cell, split)])),
        }
    }
    let mut found = Vec::new();
    for (_, members) in by_key {
        let parameters: Vec<usize> = members[0].1.values.keys().copied().collect();
        cross_products(&members, &parameters, &mut found);
    }
    found
}

fn cross_products(members: &[(usize, &Split)], parameters: &[usize], found: &mut Vec<LoadGroup>) {
    if members.len() < 2 {
        return;
    }
    let distinct = |parameter: usize| -> Vec<&String> {
        let mut values: Vec<&String> = Vec::new();
        for (_, split) in members {
            let value = &split.values[&parameter];
            if !values.contains(&value) {
                values.push(value);
            }
        }
        values
    };
    let varying: Vec<usize> = parameters.iter().copied().filter(|parameter| distinct(*parameter).len() > 1).collect();
    let combinations: usize = varying.iter().map(|parameter| distinct(*parameter).len()).product();
    let tuples: std::collections::BTreeSet<Vec<&String>> =
        members.iter().map(|(_, split)| varying.iter().map(|parameter| &split.values[parameter]).collect()).collect();
    if !varying.is_empty() && combinations == members.len() && tuples.len() == members.len() {
        found.push(group(members, &varying, &distinct));
        return;
    }
    // Not a full product (an `exclude`, or cells that are the same test): split on the first
    // varying parameter and look again in each part.
    let Some((&first, rest)) = varying.split_first() else { return };
    for value in distinct(first) {
        let part: Vec<(usize, &Split)> =
            members.iter().filter(|(_, split)| &split.values[&first] == value).copied().collect();
        cross_products(&part, rest, found);
    }
}

fn group<'a>(
    members: &[(usize, &'a Split)],
    varying: &[usize],
    distinct: &dyn Fn(usize) -> Vec<&'a String>,
) -> LoadGroup {
    let key = &members[0].1.key;
    let mut argv = Vec::with_capacity(key.len());
    let mut words = key.iter().peekable();
    while let Some(word) = words.next() {
        argv.push(word.clone());
        let Some(parameter) = PARAMETERS.iter().position(|parameter| parameter.names.contains(&word.as_str())) else {
            continue;
        };
        if words.next_if(|next| *next == PLACEHOLDER).is_some() {
            let values = distinct(parameter);
            argv.push(values.iter().map(|value| value.as_str()).collect::<Vec<_>>().join(","));
        }
    }
    LoadGroup {
        cells: members.iter().map(|(cell, _)| *cell).collect(),
        argv,
        varying: varying
            .iter()
            .map(|&parameter| {
                let values = members
                    .iter()
                    .map(|(_, split)| normalised(PARAMETERS[parameter].kind, &split.values[&parameter]))
                    .collect();
                (parameter, values)
            })
            .collect(),
    }
}

/// A command-line value as the records will report it.
fn normalised(kind: Kind, value: &str) -> String {
    let lower = value.trim().to_ascii_lowercase();
    match kind {
        Kind::Number => lower.parse::<i64>().map_or(lower, |number| number.to_string()),
        Kind::Text => value.trim().to_owned(),
        Kind::Boolean => if matches!(lower.as_str(), "1" | "true" | "on" | "yes") { "1" } else { "0" }.to_owned(),
        Kind::FlashAttention => match lower.as_str() {
            "1" | "on" | "true" | "enabled" => "1".to_owned(),
            "0" | "off" | "false" | "disabled" => "0".to_owned(),
            _ => "-1".to_owned(),
        },
    }
}

/// A record's field as text comparable with [`normalised`].
fn reported(value: &Value) -> Option<String> {
    Some(match value {
        Value::Bool(flag) => if *flag { "1" } else { "0" }.to_owned(),
        Value::Number(number) => number.as_i64().map_or_else(|| number.to_string(), |number| number.to_string()),
        Value::String(text) => text.clone(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn grouped(argvs: &[&str]) -> Vec<LoadGroup> {
        let splits: Vec<Split> = argvs.iter().map(|text| split(&argv(text)).unwrap()).collect();
        groups(&splits.iter().enumerate().collect::<Vec<_>>())
    }

    #[test]
    fn threads_by_depth_is_one_group_with_comma_lists() {
        let found = grouped(&[
            "llama-bench -m m.gguf -t 1 -d 0 -p 8 -o jsonl",
            "llama-bench -m m.gguf -t 1 -d 256 -p 8 -o jsonl",
            "llama-bench -m m.gguf -t 2 -d 0 -p 8 -o jsonl",
            "llama-bench -m m.gguf -t 2 -d 256 -p 8 -o jsonl",
        ]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].cells, [0, 1, 2, 3]);
        assert_eq!(found[0].argv, argv("llama-bench -m m.gguf -t 1,2 -d 0,256 -p 8 -o jsonl"));
        let record = serde_json::json!({ "n_threads": 2, "n_depth": 256, "n_prompt": 8 });
        assert_eq!(found[0].owner(&record), Some(3));
        assert_eq!(found[0].owner(&serde_json::json!({ "n_threads": 3, "n_depth": 0 })), None);
    }

    /// Another model, another `-p` or another program are other groups; a missing corner of
    /// the product (an `exclude`) splits the set instead of running what nobody asked for.
    #[test]
    fn only_full_products_of_the_same_command_group() {
        let found = grouped(&[
            "llama-bench -m a.gguf -t 1 -fa 0",
            "llama-bench -m a.gguf -t 2 -fa 0",
            "llama-bench -m a.gguf -t 1 -fa 1",
            "llama-bench -m b.gguf -t 1 -fa 0",
            "llama-bench -m b.gguf -t 2 -fa 0 -p 64",
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        // Split on the first parameter (-t): -t 1 has both -fa values, -t 2 runs alone.
        assert_eq!(found[0].cells, [0, 2]);
        assert_eq!(found[0].argv, argv("llama-bench -m a.gguf -t 1 -fa 0,1"));
    }

    #[test]
    fn lists_ranges_and_repeated_parameters_stay_alone() {
        assert!(split(&argv("llama-bench -t 1,2")).is_none());
        assert!(split(&argv("llama-bench -t 1-4")).is_none());
        assert!(split(&argv("llama-bench -t 1 -t 2")).is_none());
        assert!(split(&argv("llama-bench -ngl -1")).is_some(), "a negative number is one value");
        assert!(split(&argv("llama-bench -ctk q8-0-like")).is_some(), "only numbers have ranges");
    }

    #[test]
    fn values_compare_as_llama_bench_reports_them() {
        let found = grouped(&["llama-bench -fa on --repack 0", "llama-bench -fa off --repack 0"]);
        let on = serde_json::json!({ "flash_attn": 1, "repack": false });
        assert_eq!(found[0].owner(&on), Some(0));
        assert_eq!(found[0].owner(&serde_json::json!({ "flash_attn": 0 })), Some(1));
    }
}
