//! What a finished child means for its cell's record (status, metrics, failure with the tool's
//! own words), and the lines that show a result: shared by the walk's steps and the Slurm
//! dispatcher.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::meters::Usage;
use super::readers::metrics::{bench_metrics, command_metrics};
use super::readers::perplexity::quality_metrics;
use super::readers::ran_on::{Observed, asked_layers};
use crate::fingerprint::ResolvedCell;
use crate::host::HostFacts;
use crate::manifest::{Backend, Toolbox};
use crate::metric::names::{CACHE_N, GEN_TPS, TTFT_MS};
use crate::metric::{Family, MetricName, Phase, USAGE, is_usage};
use crate::process::{ChildResult, Exit, signal_name};
use crate::store::{CellRecord, Failure, MetricValue, RanOn, Status};

const LOG_TAIL_LINES: usize = 20;

/// What a cell's output is read against.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Reading<'a> {
    /// The command block's metric specs (a bench cell's come from llama-bench's JSON).
    pub(super) metrics: &'a [crate::manifest::MetricSpec],
    /// The toolbox's declared backend, which llama.cpp must have run on.
    pub(super) backend: Option<&'a Backend>,
    /// The driver stack the toolbox's inspection read, recorded with what ran.
    pub(super) driver: Option<&'a str>,
    /// The `-ngl` the cell asks for.
    pub(super) layers: Option<u32>,
    /// Whether the cell runs in a container: its runner reports a program a signal killed as
    /// exit code 128 + the signal.
    pub(super) contained: bool,
    /// Which llama-bench sizes an axis sets: their metrics take the plain name (`pp`).
    pub(super) sizes: crate::metric::SweptSizes,
    /// A quality cell's part: whether it writes the base logits (the reference's perplexity is
    /// read) or reads them (the divergence statistics are).
    pub(super) writes_base: bool,
}

impl<'a> Reading<'a> {
    /// The reading of `argv` run in `toolbox`, whose inspection read `driver`.
    pub(super) fn of(toolbox: &'a Toolbox, argv: &[String], driver: Option<&'a str>) -> Self {
        Self {
            metrics: &[],
            backend: toolbox.backend.as_ref(),
            driver,
            layers: asked_layers(argv),
            contained: toolbox.runner != crate::manifest::Runner::Host,
            sizes: crate::metric::SweptSizes::default(),
            writes_base: false,
        }
    }
}

/// Records what a bench or server cell ran on (its backend, devices, driver), read from the
/// output of llama.cpp and its JSON records; a cell that did not run on the toolbox's declared
/// backend fails with llama.cpp's own words and keeps no metric.
pub(super) fn record_device(record: &mut CellRecord, output: &str, reading: &Reading<'_>) {
    let (ran_on, wrong) = what_ran(output, &record.raw, reading);
    record.ran_on = Some(ran_on);
    if let Some(reason) = wrong {
        record.status = Status::Failed;
        record.metrics.clear();
        record.failure = Some(Failure { reason, exit_code: None, signal: None, log_tail: log_tail(output.as_bytes()) });
    }
}

/// What llama.cpp's `output` (and its JSON records `raw`) says it ran on, and why that is not
/// the declared backend, when it is not.
pub(super) fn what_ran(output: &str, raw: &[serde_json::Value], reading: &Reading<'_>) -> (RanOn, Option<String>) {
    let observed = Observed::read(output, raw);
    let wrong = reading.backend.and_then(|backend| observed.check(backend, reading.layers).err());
    (observed.ran_on(reading.driver), wrong)
}

/// What a finished child measured for its cell: the one way a measurement enters a record,
/// whichever step (a cell, a load group's member, a server workload) or executor made it.
pub(super) struct Measured {
    pub(super) metrics: BTreeMap<String, MetricValue>,
    /// llama-bench's JSON records, or a server's responses.
    pub(super) raw: Vec<serde_json::Value>,
    /// What the meters read while it ran.
    pub(super) usage: Usage,
    /// Tokens it processed and generated, when known (for `tokens_per_j`).
    pub(super) tokens: Option<f64>,
}

impl Measured {
    /// Puts the measurement in `record`: its metrics with what the run used, and the raw
    /// records. A record without a failure is ok; one that failed (a server workload whose
    /// request failed midway) keeps what was measured and its failure.
    pub(super) fn record(self, record: &mut CellRecord) {
        record.metrics = self.metrics;
        record.raw = self.raw;
        add_usage(record, self.usage, self.tokens);
        if record.failure.is_none() {
            record.status = Status::Ok;
        }
    }
}

/// Fills status, metrics and failure from how the child ended and what it printed.
/// `usage` is what the meters read while the child ran (recorded when it ended well).
pub(super) fn fill_outcome(
    record: &mut CellRecord,
    result: &ChildResult,
    usage: Usage,
    reading: &Reading<'_>,
    timeout: Duration,
) {
    let tail = log_tail(&result.combined);
    let failure = |reason: String, exit_code: Option<i32>, signal: Option<i32>| Failure {
        reason,
        exit_code,
        signal,
        log_tail: tail.clone(),
    };
    record.metrics = BTreeMap::new();
    record.raw = Vec::new();
    match result.exit {
        Exit::Code(0) => {
            let bench = record.block() == crate::matrix::Block::Bench;
            let extracted = if bench {
                bench_metrics(&result.stdout)
                    .map(|(metrics, raw)| (crate::metric::plain_size_names(metrics, reading.sizes), raw))
            } else if record.block() == crate::matrix::Block::Quality {
                let output = String::from_utf8_lossy(&result.combined);
                quality_metrics(&output, reading.writes_base).and_then(|scored| {
                    scored_all(&record.fingerprint.argv, scored.chunks)?;
                    Ok((scored.metrics, Vec::new()))
                })
            } else {
                command_metrics(&result.combined, reading.metrics).map(|metrics| (metrics, Vec::new()))
            };
            match extracted {
                Ok((metrics, raw)) => {
                    let tokens = bench.then(|| bench_tokens(&raw));
                    record.failure = None;
                    Measured { metrics, raw, usage, tokens }.record(record);
                    // llama.cpp's own lines say what a bench or quality pass ran on.
                    if bench || record.block() == crate::matrix::Block::Quality {
                        record_device(record, &String::from_utf8_lossy(&result.combined), reading);
                    }
                }
                Err(reason) => {
                    record.status = Status::Failed;
                    record.failure = Some(failure(reason, Some(0), None));
                }
            }
        }
        // podman, toolbox and distrobox report a program a signal killed as 128 + the signal.
        Exit::Code(code @ 129..=192) if reading.contained => {
            record.status = Status::Failed;
            let signal = code - 128;
            let mut reason = format!(
                "killed by signal {} in the container (its runner exited with code {code})",
                signal_name(signal)
            );
            if signal == libc::SIGILL {
                reason.push_str(SIGILL_HINT);
            }
            record.failure = Some(failure(reason, Some(code), Some(signal)));
        }
        Exit::Code(code) => {
            record.status = Status::Failed;
            // The tool's own words, not the end of the usage text it prints after them.
            let output = String::from_utf8_lossy(&result.combined);
            let reason = match crate::process::error_line(&output) {
                Some(line) => format!("exit code {code}: {}", crate::units::prefix(line, 300)),
                None => format!("exit code {code}"),
            };
            record.failure = Some(failure(reason, Some(code), None));
        }
        Exit::Signal(signal) => {
            record.status = Status::Failed;
            let mut reason = format!("killed by signal {}", signal_name(signal));
            if signal == libc::SIGILL {
                reason.push_str(SIGILL_HINT);
            }
            record.failure = Some(failure(reason, None, Some(signal)));
        }
        Exit::TimedOut | Exit::Interrupted => {
            record.status = Status::TimedOut;
            record.failure = Some(failure(format!("timed out after {} s", timeout.as_secs()), None, None));
        }
    }
}

/// A quality pass scored every chunk its `--chunks` asks for: llama-perplexity scores fewer,
/// without a word, when the corpus is shorter than `-c × --chunks`, and a figure over another
/// text is not the one asked for.
fn scored_all(argv: &[String], scored: Option<u64>) -> Result<(), String> {
    let scoring = crate::fingerprint::Scoring::of(argv);
    match (scoring.chunks, scored) {
        (Some(asked), Some(scored)) if scored < asked => Err(format!(
            "the corpus has {scored} chunks of {} tokens, not the {asked} `--chunks` asks for: llama-perplexity scored \
             fewer; give a longer corpus or `--chunks {scored}`",
            scoring.context
        )),
        _ => Ok(()),
    }
}

/// `ok       CELL  METRICS` or `failed   CELL: REASON`, as the progress output shows a result.
pub(super) fn finished_line(
    cell: &str,
    record: &CellRecord,
    describe: fn(&BTreeMap<String, MetricValue>) -> String,
) -> String {
    match (&record.status, &record.failure) {
        (Status::Ok, _) => format!("ok       {cell}  {}", describe(&record.metrics)),
        (status, Some(failure)) => format!("{:<8} {cell}: {}", status.name(), failure.reason),
        (status, None) => format!("{:<8} {cell}", status.name()),
    }
}

/// What a cell's run used beside its own metrics: `peak_rss_bytes` when its processes could be
/// read; `peak_vram_bytes` and `peak_gtt_bytes` where the GPU has such counters; `energy_j` (and
/// `tokens_per_j` when the cell's `tokens` are known) when the host has energy counters, or the
/// reason in the record's `unavailable`. A host that other processes kept busier than the
/// run's threshold gets the record a warning saying how busy.
fn add_usage(record: &mut CellRecord, usage: Usage, tokens: Option<f64>) {
    if let Some(warning) = usage.load.warning() {
        record.warnings.push(crate::notice::Notice::warning(warning));
    }
    let [rss, vram, gtt, energy, per_joule] = USAGE;
    let mut insert = |name: &str, value: f64| {
        record.metrics.insert(name.to_owned(), MetricValue::single(value, Family::get(name).unit_symbol()));
    };
    #[expect(clippy::cast_precision_loss, reason = "memory sizes are far below 2^52 bytes")]
    for (name, bytes) in [(rss, usage.peak_rss), (vram, usage.gpu.vram), (gtt, usage.gpu.gtt)] {
        if let Some(bytes) = bytes {
            insert(name, bytes as f64);
        }
    }
    match usage.energy {
        Some(Ok(joules)) => {
            insert(energy, joules);
            if let Some(tokens) = tokens.filter(|_| joules > 0.0) {
                insert(per_joule, tokens / joules);
            }
        }
        Some(Err(reason)) => {
            record.unavailable.insert(energy.to_owned(), reason);
        }
        None => {}
    }
}

/// Tokens llama-bench processed and generated in its measured repetitions.
pub(super) fn bench_tokens(raw: &[serde_json::Value]) -> f64 {
    let number =
        |record: &serde_json::Value, key: &str| record.get(key).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    raw.iter()
        .map(|record| {
            #[expect(clippy::cast_precision_loss, reason = "repetition counts are small")]
            let repetitions = record
                .get("samples_ts")
                .and_then(serde_json::Value::as_array)
                .map_or(1.0, |samples| samples.len() as f64);
            (number(record, "n_prompt") + number(record, "n_gen")) * repetitions
        })
        .sum()
}

/// The record of a cell that did not run (blocked, or its job never submitted): no attempt,
/// the reason, and when it was found so (the report shows a host's newest result of a cell).
pub(super) fn unrun_record(cell: &ResolvedCell, host: &HostFacts, status: Status, reason: String) -> CellRecord {
    let mut record = CellRecord::new(cell, host, status);
    record.attempts = 0;
    record.timings.started_unix_ms = now_unix_ms();
    record.failure = Some(reason_only(reason));
    record
}

/// A failure that has a reason but no exit status or log of its own.
pub(super) fn reason_only(reason: String) -> Failure {
    Failure { reason, exit_code: None, signal: None, log_tail: Vec::new() }
}

pub(super) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

/// `ttft 2093 ms cold, 62 ms warm; cache_n 2040 warm; gen 30.9 t/s`: the server metrics a
/// person looks at first (all of them are in the record).
pub(super) fn describe_server_metrics(metrics: &BTreeMap<String, MetricValue>) -> String {
    let value =
        |family: &str, phase: Phase| metrics.get(&MetricName::new(family, phase).to_string()).map(|metric| metric.mean);
    let mut parts = Vec::new();
    match (value(TTFT_MS, Phase::First), value(TTFT_MS, Phase::Warm)) {
        (Some(cold), Some(warm)) => parts.push(format!(
            "ttft {} cold, {} warm",
            crate::units::format_quantity(cold, "ms"),
            crate::units::format_quantity(warm, "ms")
        )),
        (Some(cold), None) => parts.push(format!("ttft {}", crate::units::format_quantity(cold, "ms"))),
        _ => {}
    }
    if let Some(cache) = value(CACHE_N, Phase::Warm) {
        parts.push(format!("cache_n {cache:.0} warm"));
    }
    if let Some(generation) = value(GEN_TPS, Phase::All) {
        parts.push(format!("gen {generation:.1} t/s"));
    }
    parts.join("; ")
}

/// `pp64 107.2 t/s, tg16 14.9 t/s, peak_rss_bytes 346.2 MiB`: what was measured first, then
/// what the run used.
pub(super) fn describe_metrics(metrics: &BTreeMap<String, MetricValue>) -> String {
    let measured = metrics.iter().filter(|(name, _)| !is_usage(name));
    let used = USAGE.iter().filter_map(|name| metrics.get_key_value(*name));
    measured
        .chain(used)
        .map(|(name, value)| format!("{name} {}", crate::units::format_quantity(value.mean, &value.unit)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What SIGILL means for llama.cpp, where it is met most: a virtual machine that advertises
/// AMX without enabling it, on which the repacked CPU kernels die.
const SIGILL_HINT: &str = ": the CPU refused an instruction this build uses (on a virtual machine that advertises AMX, \
                           llama.cpp's repacked kernels do: add `--repack 0` to llama-bench's args, `-nr` to \
                           llama-server's)";

pub(in crate::run) fn log_tail(output: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].iter().map(|line| (*line).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(exit: Exit, output: &str) -> ChildResult {
        ChildResult { exit, stdout: Vec::new(), combined: output.as_bytes().to_vec(), duration: Duration::from_secs(1) }
    }

    fn record() -> CellRecord {
        let cell = crate::fingerprint::ResolvedCell::stand_in(&[], "command", crate::matrix::Block::Command, &["sh"]);
        CellRecord::new(&cell, &HostFacts::default(), Status::Ok)
    }

    #[test]
    fn a_failure_says_how_the_child_ended_in_its_own_words() {
        let host = Reading::default();
        let contained = Reading { contained: true, ..Reading::default() };
        let timeout = Duration::from_secs(30);
        let mut failed = record();
        fill_outcome(
            &mut failed,
            &child(Exit::Code(1), "loading\nerror: invalid parameter for argument: -ctk\nusage: x\n"),
            Usage::default(),
            &host,
            timeout,
        );
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(failed.failure.unwrap().reason, "exit code 1: error: invalid parameter for argument: -ctk");

        // podman reports a process SIGKILL killed in the container as exit code 137.
        let mut killed = record();
        fill_outcome(&mut killed, &child(Exit::Code(137), ""), Usage::default(), &contained, timeout);
        let failure = killed.failure.unwrap();
        assert_eq!(failure.reason, "killed by signal 9 (SIGKILL) in the container (its runner exited with code 137)");
        assert_eq!((failure.exit_code, failure.signal), (Some(137), Some(9)));
        // On the host, 137 is the program's own exit code.
        let mut own = record();
        fill_outcome(&mut own, &child(Exit::Code(137), ""), Usage::default(), &host, timeout);
        assert_eq!(own.failure.unwrap().reason, "exit code 137");

        let mut illegal = record();
        fill_outcome(&mut illegal, &child(Exit::Signal(libc::SIGILL), ""), Usage::default(), &host, timeout);
        assert!(illegal.failure.unwrap().reason.contains("`--repack 0`"));
        let mut slow = record();
        fill_outcome(&mut slow, &child(Exit::TimedOut, ""), Usage::default(), &host, timeout);
        assert_eq!((slow.status, slow.failure.unwrap().reason.as_str()), (Status::TimedOut, "timed out after 30 s"));
    }
}
