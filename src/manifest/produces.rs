//! Which metrics each block of an experiment records, named by the metric catalogue: what
//! `check --produces` lists, and what a report table asking for a metric no cell records is
//! warned about at `check` rather than found empty after a run.

use crate::metric::names::{
    DP_RMS, GEN_TPS, ITL_MS, KLD_MAX, KLD_MEAN, KLD_P99, PPL, PPL_RATIO, REQUESTS, SAME_TOP_P, SESSION_MS,
};
use std::collections::{BTreeMap, BTreeSet};

use super::experiment::{Api, Experiment, Workload};
use super::template::{Part, Template};
use crate::metric::server::{
    DRAFTING, LOADED, PER_REQUEST, PER_TURN, SERVER_LOAD, THROUGHPUT, TIMED, TIMINGS, USAGE_COUNTS,
};
use crate::metric::{BenchName, Condition, MetricName, Phase, Produced, SweptSizes, USAGE};

/// llama-bench's own defaults for `-p` and `-n`.
const DEFAULT_PROMPT: &str = "512";
const DEFAULT_GENERATED: &str = "128";

/// The options whose values name llama-bench's tests (and depths): a comma list there is several
/// tests, anywhere else several runs of each test.
const PROMPT: [&str; 2] = ["-p", "--n-prompt"];
const GENERATED: [&str; 2] = ["-n", "--n-gen"];
const BOTH: [&str; 2] = ["-pg", "--n-gen-prompt"];
const DEPTH: [&str; 2] = ["-d", "--n-depth"];

/// What one block's cells record: `bench`, `command`, or a server workload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct BlockProduces {
    /// `bench`, `command`, or the workload's name.
    pub(crate) block: String,
    /// `bench`, `command`, `quality` or `server`.
    pub(crate) kind: &'static str,
    /// Sorted by name.
    pub(crate) metrics: Vec<Produced>,
}

/// What each block of `experiment` records, in the order its cells are expanded.
pub(crate) fn produces(experiment: &Experiment) -> Vec<BlockProduces> {
    let mut blocks = Vec::new();
    if experiment.bench.is_some() {
        let mut metrics = bench(experiment);
        metrics.extend(usage(true));
        blocks.push(BlockProduces { block: "bench".to_owned(), kind: "bench", metrics: sorted(metrics) });
    }
    if let Some(command) = &experiment.command {
        let mut metrics: Vec<Produced> =
            command.metrics.iter().map(|metric| Produced::always(metric.name.value.clone())).collect();
        // A command's tokens are unknown: no `tokens_per_j`.
        metrics.extend(usage(false));
        // A command may be over before its memory is first read.
        for metric in metrics.iter_mut().filter(|metric| metric.name == USAGE[0]) {
            metric.condition = Some(Condition::Sampled);
        }
        blocks.push(BlockProduces { block: "command".to_owned(), kind: "command", metrics: sorted(metrics) });
    }
    if experiment.quality.is_some() {
        let mut metrics = vec![Produced::always(PPL)];
        metrics.extend(
            [PPL_RATIO, KLD_MEAN, KLD_P99, KLD_MAX, SAME_TOP_P, DP_RMS]
                .into_iter()
                .map(|name| Produced::when(name, Some(Condition::Candidate))),
        );
        metrics.extend(usage(false));
        blocks.push(BlockProduces { block: "quality".to_owned(), kind: "quality", metrics: sorted(metrics) });
    }
    if experiment.server.is_some() {
        for workload in &experiment.workloads {
            let mut metrics = server(workload);
            metrics.extend(usage(true));
            blocks.push(BlockProduces { block: workload.name.value.clone(), kind: "server", metrics: sorted(metrics) });
        }
    }
    blocks
}

/// One entry per name, the unconditional one where a name comes both ways: what was measured in
/// name order, then usage.
fn sorted(metrics: Vec<Produced>) -> Vec<Produced> {
    let mut by_name: BTreeMap<String, Produced> = BTreeMap::new();
    for metric in metrics {
        match by_name.get(&metric.name) {
            Some(kept) if kept.condition.is_none() => {}
            _ => {
                by_name.insert(metric.name.clone(), metric);
            }
        }
    }
    let mut sorted: Vec<Produced> = by_name.into_values().collect();
    sorted.sort_by_key(|metric| crate::metric::is_usage(&metric.name));
    sorted
}

/// The usage metrics: peak memory always, the GPU's and energy where the host has counters, and
/// tokens per joule where the cell's tokens are known too.
fn usage(tokens_known: bool) -> Vec<Produced> {
    let [rss, vram, gtt, energy, per_joule] = USAGE;
    let mut metrics = vec![
        Produced::always(rss),
        Produced::when(vram, Some(Condition::GpuCounters)),
        Produced::when(gtt, Some(Condition::GpuCounters)),
        Produced::when(energy, Some(Condition::EnergyCounters)),
    ];
    if tokens_known {
        metrics.push(Produced::when(per_joule, Some(Condition::EnergyCounters)));
    }
    metrics
}

/// A server workload's names: each family over all requests, the first and (with more than one
/// request) the rest's median; a conversation's per turn, its first session apart from the later
/// ones; percentiles and throughput under concurrency; the server's load time. Generation speed
/// needs a reply of two tokens or more (one token is no rate).
fn server(workload: &Workload) -> Vec<Produced> {
    let turns = workload.requests.first().map_or(0, |request| request.turns.len());
    let per_round = if turns > 0 { turns } else { workload.requests.len() };
    let requests = u64::try_from(per_round).unwrap_or(u64::MAX).saturating_mul(workload.repeat);
    // A trace's requests may speak either API: which is known only from its lines.
    let replay = workload.replay.is_some() || workload.client.is_some();
    let requests = if replay { u64::MAX } else { requests };
    let timings = replay || workload.requests.iter().any(|request| request.api != Api::AnthropicMessages);
    let anthropic = replay || workload.requests.iter().any(|request| request.api == Api::AnthropicMessages);
    let condition = |family: &str| {
        if DRAFTING.contains(&family) {
            Some(Condition::Drafting)
        } else if family == GEN_TPS {
            Some(Condition::Streamed)
        } else {
            None
        }
    };

    let mut families: Vec<&str> = TIMED.to_vec();
    if timings {
        families.extend(TIMINGS.iter().map(|(family, _)| *family));
        families.extend(DRAFTING);
    }
    if anthropic {
        families.extend(USAGE_COUNTS.iter().map(|(family, _)| *family));
        // Its generation speed comes from its usage and the stream's clock.
        families.push(GEN_TPS);
    }
    let mut seen = BTreeSet::new();
    families.retain(|family| seen.insert(*family));
    let mut metrics = Vec::new();
    for family in families {
        let mut phases = vec![Phase::All, Phase::First];
        if requests > 1 {
            phases.push(Phase::Warm);
        }
        metrics.extend(phases.into_iter().map(|phase| Produced::when(phase_name(family, phase), condition(family))));
    }
    for turn in 1..=u32::try_from(turns).unwrap_or(u32::MAX) {
        let mut phases = vec![Phase::TurnFirst(turn)];
        if workload.repeat > 1 {
            phases.push(Phase::TurnWarm(turn));
        }
        for phase in phases {
            for family in PER_TURN {
                metrics.push(Produced::when(phase_name(family, phase), condition(family)));
            }
        }
    }
    if workload.concurrency > 1 {
        for family in LOADED {
            let streamed = (family == ITL_MS).then_some(Condition::Streamed);
            for percentile in Phase::PERCENTILES {
                metrics.push(Produced::when(phase_name(family, Phase::Percentile(percentile)), streamed));
            }
        }
        metrics.push(Produced::when(ITL_MS, Some(Condition::Streamed)));
        metrics.extend(THROUGHPUT.iter().map(|family| Produced::always(*family)));
    }
    if replay {
        metrics.extend(per_request());
        metrics.extend([SESSION_MS, REQUESTS].map(Produced::always));
    }
    metrics.push(Produced::always(SERVER_LOAD));
    metrics
}

fn phase_name(family: &str, phase: Phase) -> String {
    MetricName::new(family, phase).to_string()
}

/// The names of an agent client's or a replayed trace's session: per request, whose count the
/// manifest does not know.
pub(crate) fn per_request() -> Vec<Produced> {
    PER_REQUEST.iter().map(|family| Produced::pattern(MetricName::new(family, Phase::Request(0)).pattern())).collect()
}

/// Which of llama-bench's test sizes an axis sets in `experiment`'s cells: `-p {plen}` (or
/// `-n {glen}`) whose axis gives each cell one size.
pub(crate) fn swept_sizes(experiment: &Experiment) -> SweptSizes {
    let Some(bench) = &experiment.bench else { return SweptSizes::default() };
    let args: Vec<&Template> = bench.args.iter().chain(experiment.variant_templates()).collect();
    let swept = |names: &[&str]| {
        axes_given_to(&args, names).any(|axis| {
            experiment.axis(axis).is_some_and(|axis| {
                axis.values.iter().all(|value| value.value.value.trim().parse::<u64>().is_ok_and(|size| size > 0))
            })
        })
    };
    SweptSizes { prompt: swept(&PROMPT), generated: swept(&GENERATED) }
}

/// The axes whose value is the whole value of one of the options `names` in `args`
/// (`"-p" "{plen}"` → `plen`).
fn axes_given_to<'a>(args: &'a [&'a Template], names: &'a [&'a str]) -> impl Iterator<Item = &'a str> {
    args.windows(2).filter(|pair| names.contains(&pair[0].text.as_str())).filter_map(|pair| {
        match pair[1].parts.as_slice() {
            [Part::Axis(axis)] => Some(axis.as_str()),
            _ => None,
        }
    })
}

/// The axes whose values are conditions of a measurement rather than configurations to choose
/// between: those named `depth` or `ctx`, and any that sets the work a cell measures (a
/// llama-bench test size or depth, the server's context size, or the request file a cell
/// reads, `prompt-file="prompts/p{plen}.txt"`). Speed differs along them by design, so no
/// "best" is chosen across their values.
pub(crate) fn condition_axes(experiment: &Experiment) -> Vec<String> {
    const CONTEXT: [&str; 2] = ["-c", "--ctx-size"];
    let mut names: Vec<String> =
        ["depth", "ctx"].into_iter().filter(|name| experiment.axis(name).is_some()).map(str::to_owned).collect();
    let args: Vec<&Template> = experiment.command_templates().chain(experiment.variant_templates()).collect();
    for options in [&PROMPT[..], &GENERATED, &BOTH, &DEPTH, &CONTEXT] {
        names.extend(axes_given_to(&args, options).map(str::to_owned));
    }
    for request in experiment.workloads.iter().flat_map(|workload| &workload.requests) {
        for path in request.files.values() {
            names.extend(super::template::path_axes(&path.value));
        }
    }
    names.sort();
    names.dedup();
    names
}

/// llama-bench's names from its test sizes (its defaults where none are given), depths and the
/// comma lists of its other options; a pattern where a size cannot be read here.
fn bench(experiment: &Experiment) -> Vec<Produced> {
    let Some(bench) = &experiment.bench else { return Vec::new() };
    let args: Vec<&Template> = bench.args.iter().chain(experiment.variant_templates()).collect();
    let sizes = |names: &[&str], default: Option<&str>| -> Option<Vec<Vec<u64>>> {
        let given = option_values(experiment, &args, names)?;
        if given.is_empty() {
            return Some(default.map(|value| vec![vec![value.parse().unwrap_or(0)]]).unwrap_or_default());
        }
        given.iter().map(|value| numbers(value)).collect()
    };
    let depths = sizes(&DEPTH, Some("0"));
    let repeats = repeats(experiment, &args);
    // A size an axis sets is measured once per cell under the family's plain name, unless a
    // repeat or several depths in one cell keep the sized names apart (`plain_size_names`).
    let one_depth =
        depths.as_ref().is_some_and(|lists| lists.iter().all(|list| list.iter().collect::<BTreeSet<_>>().len() <= 1));
    let swept = swept_sizes(experiment);
    let mut metrics = Vec::new();
    let mut tests: Vec<(String, Option<BenchName>)> = Vec::new();
    if swept.prompt && repeats == 1 && one_depth {
        metrics.push(Produced::always("pp"));
    } else {
        match sizes(&PROMPT, Some(DEFAULT_PROMPT)) {
            Some(lists) => tests.extend(lists.iter().flatten().filter(|size| **size > 0).map(|size| test(*size, 0))),
            None => tests.push(("ppN".to_owned(), None)),
        }
    }
    if swept.generated && repeats == 1 && one_depth {
        metrics.push(Produced::always("tg"));
    } else {
        match sizes(&GENERATED, Some(DEFAULT_GENERATED)) {
            Some(lists) => tests.extend(lists.iter().flatten().filter(|size| **size > 0).map(|size| test(0, *size))),
            None => tests.push(("tgN".to_owned(), None)),
        }
    }
    match option_values(experiment, &args, &BOTH) {
        Some(pairs) => {
            for pair in pairs {
                match pair
                    .split_once([',', '+'])
                    .and_then(|(prompt, generated)| Some((prompt.trim().parse().ok()?, generated.trim().parse().ok()?)))
                {
                    Some((prompt, generated)) => tests.push(test(prompt, generated)),
                    None => tests.push(("ppN+tgN".to_owned(), None)),
                }
            }
        }
        None => tests.push(("ppN+tgN".to_owned(), None)),
    }
    for (pattern, test) in tests {
        let Some(test) = test else {
            metrics.push(Produced::pattern(pattern));
            continue;
        };
        let mut names = Vec::new();
        match &depths {
            // Each cell's depths: one keeps the plain name (`run::readers::metrics` drops it), several
            // keep theirs.
            Some(lists) => {
                for list in lists {
                    let distinct: BTreeSet<u64> = list.iter().copied().collect();
                    if distinct.len() <= 1 {
                        names.push(test.plain());
                    } else {
                        names.extend(
                            distinct.iter().map(|depth| BenchName { depth: (*depth > 0).then_some(*depth), ..test }),
                        );
                    }
                }
            }
            None => {
                names.push(test.plain());
                metrics.push(Produced::pattern(format!("{pattern}@dN")));
            }
        }
        for name in names {
            metrics.push(Produced::always(name.to_string()));
            for index in 2..=repeats {
                metrics.push(Produced::always(name.repeated(index).to_string()));
            }
        }
    }
    metrics
}

fn test(prompt: u64, generated: u64) -> (String, Option<BenchName>) {
    let name = BenchName::new(prompt, generated, 0);
    (name.to_string(), Some(name))
}

/// `64,128` → [64, 128]; `None` for anything else (a range such as `64-512*2`).
fn numbers(value: &str) -> Option<Vec<u64>> {
    value.split(',').map(|number| number.trim().parse().ok()).collect()
}

/// How many runs of each test a cell's comma lists in other options (`-t 1,2`, `-fa 0,1`) make:
/// their product, the longest list of an axis's values counted for an axis.
fn repeats(experiment: &Experiment, args: &[&Template]) -> u32 {
    let named = |word: &Template, names: &[&str]| names.contains(&word.text.as_str());
    let mut product: u32 = 1;
    for pair in args.windows(2) {
        let (option, value) = (pair[0], pair[1]);
        if !option.text.starts_with('-') || [PROMPT, GENERATED, BOTH, DEPTH].iter().any(|names| named(option, names)) {
            continue;
        }
        let count = |text: &str| u32::try_from(text.split(',').count()).unwrap_or(1);
        let items = match value.parts.as_slice() {
            [Part::Text(text)] => count(text),
            [Part::Axis(axis)] => experiment
                .axis(axis)
                .map_or(1, |axis| axis.values.iter().map(|value| count(&value.value.value)).max().unwrap_or(1)),
            _ => 1,
        };
        product = product.saturating_mul(items);
    }
    product
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
        let readable =
            |text: &str| text.chars().all(|character| character.is_ascii_digit() || ",+".contains(character));
        match value.parts.as_slice() {
            [Part::Text(text)] if readable(text) => values.push(text.clone()),
            [Part::Axis(axis)] => {
                let axis = experiment.axis(axis)?;
                for value in &axis.values {
                    if !readable(&value.value.value) {
                        return None;
                    }
                    values.push(value.value.value.clone());
                }
            }
            _ => return None,
        }
    }
    Some(values)
}

/// The metrics an experiment's cells can record, for a table's warning.
#[derive(Debug, Default)]
pub(super) struct Produces {
    blocks: Vec<BlockProduces>,
}

impl Produces {
    pub(super) fn of(experiment: &Experiment) -> Self {
        Self { blocks: produces(experiment) }
    }

    fn all(&self) -> impl Iterator<Item = &Produced> {
        self.blocks.iter().flat_map(|block| &block.metrics)
    }

    /// Whether some cell can record `metric`. Lenient where a cell may name it otherwise: a
    /// llama-bench test at a depth or repeated, a server family in any phase of the grammar.
    pub(super) fn can(&self, metric: &str) -> bool {
        if self.all().any(|produced| produced.matches(metric)) {
            return true;
        }
        if let Some(name) = BenchName::parse(metric) {
            let plain = BenchName { depth: None, repeat: None, ..name }.to_string();
            return self.all().any(|produced| produced.matches(&plain));
        }
        let parsed = MetricName::parse(metric);
        parsed.phase != Phase::All
            && self.blocks.iter().any(|block| {
                block.kind == "server" && block.metrics.iter().any(|produced| produced.name == parsed.base)
            })
    }

    /// The names to suggest, for the warning's help: the measured ones, then usage.
    pub(super) fn listed(&self) -> Vec<String> {
        let names: BTreeSet<&str> = self.all().map(|produced| produced.name.as_str()).collect();
        let mut listed: Vec<String> =
            names.iter().filter(|name| !crate::metric::is_usage(name)).map(|name| (*name).to_owned()).collect();
        listed.extend(USAGE.iter().filter(|name| names.contains(*name)).map(|name| (*name).to_owned()));
        listed
    }

    /// Whether server metrics are among them (their phases go in the help).
    pub(super) fn serves(&self) -> bool {
        self.blocks.iter().any(|block| block.kind == "server")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment(body: &str) -> Experiment {
        let text = format!(
            "model \"m\" {{ file \"m.gguf\" }}\nexperiment \"e\" {{\n    matrix {{\n        model \"m\"\n        n 8 16\n        depth 0 512\n    }}\n{body}\n}}\n"
        );
        let directory = tempfile::tempdir().unwrap();
        let manifests = crate::manifest::load_text(directory.path(), &directory.path().join("e.kdl"), &text).unwrap();
        manifests.experiments[0].clone()
    }

    fn produced(body: &str) -> Produces {
        Produces::of(&experiment(body))
    }

    /// The names of the only block, the conditional ones with their condition.
    fn names(body: &str) -> (Vec<String>, Vec<String>) {
        let blocks = produces(&experiment(body));
        assert_eq!(blocks.len(), 1);
        let (conditional, always): (Vec<&Produced>, Vec<&Produced>) =
            blocks[0].metrics.iter().partition(|metric| metric.condition.is_some());
        let shown = |metric: &&Produced| format!("{}{}", metric.name, if metric.pattern { " (pattern)" } else { "" });
        (always.iter().map(shown).collect(), conditional.iter().map(shown).collect())
    }

    #[test]
    fn bench_names_come_from_the_test_sizes_with_llama_benchs_defaults() {
        let bench = produced("    bench { args \"-p\" 64 \"-n\" \"{n}\" }");
        // `-n {n}`: each cell measures its axis value's size, under the plain name.
        for name in ["pp64", "tg", "pp64@d4096", "peak_rss_bytes"] {
            assert!(bench.can(name), "{name}");
        }
        assert!(!bench.can("tg128") && !bench.can("tg8") && !bench.can("pp"));
        let sized = produced("    bench { args \"-p\" 64 \"-n\" \"{n}\" \"-t\" \"1,2\" }");
        assert!(sized.can("tg8") && sized.can("tg16#2") && !sized.can("tg"), "a repeat keeps the sizes");
        assert!(!bench.can("ttft_ms"));
        let defaults = produced("    bench { args \"-t\" 2 }");
        assert!(defaults.can("pp512") && defaults.can("tg128") && !defaults.can("tg8"));
        let range = produced("    bench { args \"-n\" \"8-64*2\" }");
        assert!(range.can("tg32"), "a range cannot be read here: no warning");
    }

    #[test]
    fn axes_that_set_the_work_are_conditions_and_others_are_choices() {
        let swept = experiment("    bench { args \"-p\" \"{n}\" \"-t\" 2 }");
        assert_eq!(condition_axes(&swept), ["depth", "n"], "a depth axis by its name, n by the size it sets");
        let threads = experiment("    bench { args \"-t\" \"{n}\" }");
        assert_eq!(condition_axes(&threads), ["depth"], "threads are a configuration");
    }

    #[test]
    fn a_bench_block_lists_its_tests_depths_and_repeats() {
        let (always, conditional) = names("    bench { args \"-p\" 64 \"-n\" \"{n}\" \"-pg\" \"32,4\" \"-r\" 1 }");
        assert_eq!(always, ["pp32+tg4", "pp64", "tg", "peak_rss_bytes"]);
        assert_eq!(conditional, ["energy_j", "peak_gtt_bytes", "peak_vram_bytes", "tokens_per_j"]);
        // A depth axis: each cell measures one depth and keeps the plain name.
        let (always, _) = names("    bench { args \"-p\" 0 \"-n\" 4 \"-d\" \"{depth}\" }");
        assert_eq!(always, ["tg4", "peak_rss_bytes"]);
        // Several depths in one cell keep theirs (depth 0 has none); a comma list elsewhere repeats.
        let (always, _) = names("    bench { args \"-p\" 0 \"-n\" 4 \"-d\" \"0,512\" \"-t\" \"1,2\" }");
        assert_eq!(always, ["tg4", "tg4#2", "tg4@d512", "tg4@d512#2", "peak_rss_bytes"]);
        let (always, _) = names("    bench { args \"-p\" \"64-512*2\" \"-n\" 0 }");
        assert_eq!(always, ["ppN (pattern)", "peak_rss_bytes"]);
    }

    #[test]
    fn a_command_block_lists_its_metrics_and_no_tokens_per_joule() {
        let (always, conditional) = names(
            "    command {\n        args \"sh\" \"-c\" \"echo 4\"\n        metric \"answer\" regex=\"(\\\\d+)\"\n    }",
        );
        assert_eq!(always, ["answer"]);
        assert_eq!(conditional, ["energy_j", "peak_gtt_bytes", "peak_rss_bytes", "peak_vram_bytes"]);
    }

    #[test]
    fn a_server_workload_lists_its_phases() {
        let (always, conditional) =
            names("    server { args \"-c\" 512 }\n    workload \"one\" {\n        request prompt=\"hi\"\n    }");
        assert!(always.contains(&"ttft_ms_first".to_owned()) && always.contains(&"server_load_ms".to_owned()));
        assert!(!always.iter().any(|name| name.ends_with("_warm")), "one request has no warm phase: {always:?}");
        assert!(conditional.contains(&"draft_n_first".to_owned()) && conditional.contains(&"accept_rate".to_owned()));

        let (always, _) = names(
            "    server { args \"-c\" 512 }\n    workload \"chat\" {\n        request api=\"anthropic-messages\" prompt=\"hi\"\n        repeat 2\n    }",
        );
        assert_eq!(
            always,
            [
                "cache_n",
                "cache_n_first",
                "cache_n_warm",
                "e2e_ms",
                "e2e_ms_first",
                "e2e_ms_warm",
                "gen_n",
                "gen_n_first",
                "gen_n_warm",
                "prompt_n",
                "prompt_n_first",
                "prompt_n_warm",
                "server_load_ms",
                "ttft_ms",
                "ttft_ms_first",
                "ttft_ms_warm",
                "peak_rss_bytes",
            ]
        );
    }

    #[test]
    fn a_conversation_lists_its_turns_and_concurrency_its_percentiles() {
        let (always, conditional) = names(
            "    server { args \"-c\" 512 }\n    workload \"talk\" {\n        conversation api=\"openai-chat\" {\n            turn \"a\"\n            turn \"b\"\n        }\n    }",
        );
        for name in ["ttft_ms_turn1_first", "ttft_ms_turn2_first", "prompt_n_turn2_first", "cache_n_turn1_first"] {
            assert!(always.contains(&name.to_owned()), "{name}: {always:?}");
        }
        // One token is no rate: generation speed is there where a reply streams more than one.
        assert!(
            conditional.contains(&"gen_tps_turn2_first".to_owned()) && conditional.contains(&"gen_tps_warm".to_owned())
        );
        // One session: no later ones, and no name over every session.
        for name in ["ttft_ms_turn3_first", "ttft_ms_turn1_warm", "ttft_ms_turn1"] {
            assert!(!always.contains(&name.to_owned()) && !conditional.contains(&name.to_owned()), "{name}");
        }
        // Repeated, the later sessions' turns are listed apart from the first's.
        let (always, _) = names(
            "    server { args \"-c\" 512 }\n    workload \"talk\" {\n        conversation api=\"anthropic-messages\" {\n            turn \"a\"\n        }\n        repeat 2\n    }",
        );
        for name in ["ttft_ms_turn1_first", "ttft_ms_turn1_warm", "cache_n_turn1_warm"] {
            assert!(always.contains(&name.to_owned()), "{name}: {always:?}");
        }
        let (always, conditional) = names(
            "    server { args \"-c\" 512 }\n    workload \"load\" {\n        request prompt=\"hi\"\n        repeat 4\n        concurrency 2\n    }",
        );
        for name in ["ttft_ms_p50", "ttft_ms_p90", "e2e_ms_p99", "req_per_s", "gen_tps_total"] {
            assert!(always.contains(&name.to_owned()), "{name}");
        }
        assert!(conditional.contains(&"itl_ms_p50".to_owned()) && conditional.contains(&"itl_ms".to_owned()));
    }

    #[test]
    fn server_names_follow_their_phases() {
        let server = produced(
            "    server { args \"-c\" 512 }\n    workload \"chat\" {\n        request api=\"openai-chat\" prompt=\"hi\"\n    }",
        );
        for name in ["ttft_ms_first", "ttft_ms_warm", "e2e_ms_p90", "ttft_ms_turn2", "gen_tps"] {
            assert!(server.can(name), "{name}");
        }
        assert!(!server.can("tg128") && !server.can("ttft_ms_cold"));
        // Requests per second are a workload under concurrency's; this one sends one at a time.
        assert!(!server.can("req_per_s"));
    }

    #[test]
    fn a_clients_requests_are_patterns() {
        let names: Vec<String> = per_request().into_iter().map(|produced| produced.name).collect();
        assert_eq!(names, ["ttft_ms_reqK", "prompt_n_reqK", "cache_n_reqK", "gen_tps_reqK"]);
        assert!(per_request()[0].matches("ttft_ms_req3"));
    }
}
