//! Which metrics an experiment's cells can record, so that a report table asking for one they
//! never record is a warning at `check` rather than an empty table after a run.

use std::collections::BTreeSet;

use super::experiment::Experiment;
use super::template::{Part, Template};

use crate::metric::USAGE;

/// What a server workload's cells record, before a phase suffix (`_first`, `_warm`, `_p90`,
/// `_turn2`).
const SERVER: [&str; 14] = [
    "ttft_ms",
    "e2e_ms",
    "itl_ms",
    "prompt_n",
    "prompt_ms",
    "prompt_tps",
    "gen_n",
    "gen_tps",
    "gen_tps_total",
    "req_per_s",
    "cache_n",
    "draft_n",
    "draft_accepted",
    "accept_rate",
];

/// llama-bench's own defaults for `-p` and `-n`.
const DEFAULT_PROMPT: &str = "512";
const DEFAULT_GENERATED: &str = "128";

/// The metrics an experiment's cells can record.
#[derive(Debug, Default)]
pub(super) struct Produced {
    /// Exact names (llama-bench tests, `command` metrics, usage).
    names: BTreeSet<String>,
    /// Whether server workloads run (their metrics follow a grammar, not a list).
    server: bool,
    /// Whether llama-bench's test sizes come from something this cannot read (a range, a
    /// placeholder that is not an axis): then any `pp`/`tg` name may be right.
    open_bench: bool,
}

impl Produced {
    pub(super) fn of(experiment: &Experiment) -> Self {
        let mut produced = Self { names: USAGE.iter().map(|name| (*name).to_owned()).collect(), ..Self::default() };
        if let Some(command) = &experiment.command {
            produced.names.extend(command.metrics.iter().map(|metric| metric.name.value.clone()));
        }
        produced.server = experiment.server.is_some() && !experiment.workloads.is_empty();
        if let Some(bench) = &experiment.bench {
            let variants: Vec<&Template> = experiment.variant_templates().collect();
            let args: Vec<&Template> = bench.args.iter().chain(variants).collect();
            let sizes = |names: &[&str], default: Option<&str>| -> Option<Vec<String>> {
                let given = option_values(experiment, &args, names)?;
                Some(if given.is_empty() {
                    default.map(|value| vec![value.to_owned()]).unwrap_or_default()
                } else {
                    given
                })
            };
            match (
                sizes(&["-p", "--n-prompt"], Some(DEFAULT_PROMPT)),
                sizes(&["-n", "--n-gen"], Some(DEFAULT_GENERATED)),
                sizes(&["-pg"], None),
            ) {
                (Some(prompts), Some(generated), Some(both)) => {
                    let numbers = |values: &[String]| -> Vec<String> {
                        values.iter().flat_map(|value| value.split(',')).map(str::trim).map(str::to_owned).collect()
                    };
                    for prompt in numbers(&prompts).into_iter().filter(|prompt| prompt != "0") {
                        produced.names.insert(format!("pp{prompt}"));
                    }
                    for tokens in numbers(&generated).into_iter().filter(|tokens| tokens != "0") {
                        produced.names.insert(format!("tg{tokens}"));
                    }
                    for pair in numbers(&both) {
                        if let Some((prompt, tokens)) = pair.split_once(',').or_else(|| pair.split_once('+')) {
                            produced.names.insert(format!("pp{prompt}+tg{tokens}"));
                        }
                    }
                    if both.iter().any(|value| value.contains(',')) {
                        produced.open_bench = true;
                    }
                }
                _ => produced.open_bench = true,
            }
        }
        produced
    }

    /// Whether some cell can record `metric`.
    pub(super) fn can(&self, metric: &str) -> bool {
        // A depth or a repeat of a comma list adds a suffix to llama-bench's names.
        let base = metric.split(['@', '#']).next().unwrap_or(metric);
        if self.names.contains(metric) || self.names.contains(base) {
            return true;
        }
        if self.open_bench && (base.starts_with("pp") || base.starts_with("tg")) {
            return true;
        }
        self.server && SERVER.contains(&crate::metric::MetricName::parse(metric).base)
    }

    /// The names to suggest, for the warning's help.
    pub(super) fn listed(&self) -> Vec<String> {
        let mut listed: Vec<String> =
            self.names.iter().filter(|name| !USAGE.contains(&name.as_str())).cloned().collect();
        if self.server {
            listed.extend(SERVER.iter().map(|name| (*name).to_owned()));
        }
        listed.extend(USAGE.iter().map(|name| (*name).to_owned()));
        listed
    }

    /// Whether server metrics are among them (their phases go in the help).
    pub(super) fn serves(&self) -> bool {
        self.server
    }
}

/// The values given to any of `names` in `args`: literal words as they are, an `{axis}` as
/// every value of that axis. `None` when a value cannot be read here (another placeholder, or
/// a llama-bench range such as `64-512*2`).
fn option_values(experiment: &Experiment, args: &[&Template], names: &[&str]) -> Option<Vec<String>> {
    let mut values = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if !names.contains(&word.text.as_str()) {
            continue;
        }
        let value = words.next()?;
        match value.parts.as_slice() {
            [Part::Text(text)] if text.chars().all(|character| character.is_ascii_digit() || character == ',') => {
                values.push(text.clone());
            }
            [Part::Axis(axis)] => {
                let axis = experiment.axis(axis)?;
                values.extend(axis.values.iter().map(|value| value.value.value.clone()));
            }
            _ => return None,
        }
    }
    Some(values)
}

#[cfg(test)]
mod tests {
    fn produced(body: &str) -> super::Produced {
        let text = format!(
            "model \"m\" {{ file \"m.gguf\" }}\nexperiment \"e\" {{\n    matrix {{\n        model \"m\"\n        n 8 16\n    }}\n{body}\n}}\n"
        );
        let directory = tempfile::tempdir().unwrap();
        let manifests = crate::manifest::load_text(directory.path(), &directory.path().join("e.kdl"), &text).unwrap();
        super::Produced::of(&manifests.experiments[0])
    }

    #[test]
    fn bench_names_come_from_the_test_sizes_with_llama_benchs_defaults() {
        let bench = produced("    bench { args \"-p\" 64 \"-n\" \"{n}\" }");
        for name in ["pp64", "tg8", "tg16", "tg8@d4096", "peak_rss_bytes"] {
            assert!(bench.can(name), "{name}");
        }
        assert!(!bench.can("tg128"));
        assert!(!bench.can("ttft_ms"));
        let defaults = produced("    bench { args \"-t\" 2 }");
        assert!(defaults.can("pp512") && defaults.can("tg128") && !defaults.can("tg8"));
        let range = produced("    bench { args \"-n\" \"8-64*2\" }");
        assert!(range.can("tg32"), "a range cannot be read here: no warning");
    }

    #[test]
    fn server_names_follow_their_phases() {
        let server = produced(
            "    server { args \"-c\" 512 }\n    workload \"chat\" {\n        request api=\"openai-chat\" prompt=\"hi\"\n    }",
        );
        for name in ["ttft_ms_first", "ttft_ms_warm", "e2e_ms_p90", "ttft_ms_turn2", "gen_tps", "req_per_s"] {
            assert!(server.can(name), "{name}");
        }
        assert!(!server.can("tg128") && !server.can("ttft_ms_cold"));
    }
}
