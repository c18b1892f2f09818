//! Server workloads against the real llama-server on the Gemma model: one server per
//! configuration, cold and warm requests on all three APIs, and faults that become results.

use std::fmt::Write;
use std::time::{Duration, Instant};

use bakeoff::store::Status;

use crate::support::{Bakeoff, Llama, interrupt, processes_matching, project, records};

/// About 2,000 tokens of agent-style instructions; `tag` makes each file's prefix unique so
/// that one workload's prompt cache does not warm another's first request.
fn system_prompt(tag: &str) -> String {
    (1..=52)
        .map(|rule| format!("{tag} rule {rule}: when the user asks about file number {rule}, read it first, answer in one short sentence, and never invent a path that you have not seen."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a llama-server whose command line matches `pattern` answers 200 on `/health`.
fn serving(pattern: &str) -> bool {
    let output = std::process::Command::new("pgrep").args(["-af", pattern]).output().unwrap();
    let listing = String::from_utf8_lossy(&output.stdout);
    let Some(port) = listing.split_whitespace().skip_while(|word| *word != "--port").nth(1) else { return false };
    port.parse().is_ok_and(crate::support::answers_health)
}

const SERVED: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "agent" {
    matrix {
        model "gemma"
        ctx 4032 8128
    }
    server {
        args "-nr" "-t" 2 "--ctx-size" "{ctx}" "--temp" 0.0
        ready-timeout 120
    }
    workload "openai" {
        request api="openai-chat" max-tokens=4 system-file="prompts/openai.txt" prompt="What is rule 3?"
        repeat 3
    }
    workload "anthropic" {
        request api="anthropic-messages" max-tokens=4 system-file="prompts/anthropic.txt" prompt="What is rule 4?"
        repeat 3
    }
    workload "native" {
        request api="completion" max-tokens=4 system-file="prompts/native.txt" prompt="What is rule 5?"
        repeat 3
    }
    timeout 600
}
"#;

#[test]
fn one_server_per_configuration_measures_cold_and_warm_turns_on_three_apis() {
    let llama = Llama::get();
    let (openai, anthropic, native) = (system_prompt("Alpha"), system_prompt("Beta"), system_prompt("Gamma"));
    let directory = project(&[
        ("experiments/agent.kdl", SERVED),
        ("experiments/prompts/openai.txt", &openai),
        ("experiments/prompts/anthropic.txt", &anthropic),
        ("experiments/prompts/native.txt", &native),
    ]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "6 cells: 6 ran (6 ok, 0 failed), 0 cached, 0 blocked\n");
    // A server per configuration, each started again for its Anthropic workload, which follows
    // the OpenAI one: that API ignores `cache_prompt: false`, and its first request must be cold.
    assert_eq!(outcome.stderr.matches("llama-server ready on port").count(), 4, "{}", outcome.stderr);
    let stored = records(directory.path());
    assert_eq!(stored.len(), 6);
    for record in &stored {
        assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
        let metric = |name: &str| record.metrics.get(name).unwrap_or_else(|| panic!("{}: no {name}", record.cell)).mean;
        assert!(metric("prompt_n_first") >= 1500.0, "{}: a ~2,000-token first prompt", record.cell);
        assert!(metric("cache_n_warm") > 0.0, "{}: warm turns hit the prompt cache", record.cell);
        assert!(metric("ttft_ms_warm") < metric("ttft_ms_first"), "{}: warm TTFT below cold", record.cell);
        assert!(metric("server_load_ms") > 0.0);
        assert_eq!(record.raw.len(), 3);
        // The server's peak while this cell's requests ran: the mapped model and its context.
        let model_size = llama.model_bytes();
        let peak = metric("peak_rss_bytes");
        assert!(peak > model_size && peak < 4.0 * model_size, "{}: peak {peak}", record.cell);
        assert!(record.unavailable.contains_key("energy_j") || record.metrics.contains_key("energy_j"));
    }
    assert_eq!(processes_matching("ctx-size 4032"), 0);
    assert_eq!(processes_matching("ctx-size 8128"), 0);

    let again = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(again.stdout, "6 cells: 0 ran (0 ok, 0 failed), 6 cached, 0 blocked\n");
    assert!(!again.stderr.contains("llama-server ready"), "no server starts when every cell is cached");
}

#[test]
fn server_faults_are_results_and_the_run_goes_on() {
    let llama = Llama::get();
    let directory = project(&[
        (
            "experiments/faults.kdl",
            r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "never-ready" {
    matrix { model "gemma" }
    server { args "-nr" "--ctx-size" "lots" }
    workload "chat" { request prompt="Hello" max-tokens=4 }
}
experiment "too-long" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 512 }
    workload "chat" { request api="openai-chat" system-file="prompts/long.txt" prompt="Hello" max-tokens=4 }
}
experiment "slow" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 4444 }
    workload "chat" { request api="completion" prompt="Count from one to ten thousand:" max-tokens=2000 timeout=1 }
}
experiment "killed" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 2222 }
    workload "long" { request api="completion" prompt="Count from one to ten thousand:" max-tokens=2000 }
    workload "after" { request api="completion" prompt="Hello" max-tokens=4 }
}
"#,
        ),
        ("experiments/prompts/long.txt", &system_prompt("Delta")),
    ]);
    let mut command = llama.bakeoff(directory.path());
    command.args(["run", "--no-progress"]);
    let handle = std::thread::spawn(move || command.run());
    // Kill the `killed` experiment's server once it serves and its long generation is under way.
    let started = Instant::now();
    while !serving("ctx-size 2222") {
        assert!(started.elapsed() < Duration::from_secs(120), "the server of `killed` never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    std::process::Command::new("pkill").args(["-KILL", "-f", "ctx-size 2222"]).status().unwrap();
    let outcome = handle.join().unwrap();
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "5 cells: 5 ran (1 ok, 4 failed), 0 cached, 0 blocked\n", "{}", outcome.stderr);
    let stored = records(directory.path());
    let reason = |experiment: &str, workload: &str| {
        let record =
            stored.iter().find(|record| record.experiment == experiment && record.workload == workload).unwrap();
        (record.status, record.failure.as_ref().map(|failure| failure.reason.clone()).unwrap_or_default())
    };
    let (status, never_ready) = reason("never-ready", "chat");
    assert_eq!(status, Status::Failed);
    assert!(never_ready.starts_with("llama-server ended (exit code 1) before it was ready"), "{never_ready}");
    // A value llama-server refuses (an option it does not know is blocked at plan).
    assert!(never_ready.contains(r#"error while handling argument "--ctx-size""#), "{never_ready}");
    let (_, too_long) = reason("too-long", "chat");
    assert!(too_long.starts_with("request 1 of 1: HTTP 400 from /v1/chat/completions:"), "{too_long}");
    assert!(too_long.contains("exceeds the available context size"), "{too_long}");
    let (_, slow) = reason("slow", "chat");
    assert_eq!(slow, "request 1 of 1: no complete response from /completion within 1 s");
    let (_, killed) = reason("killed", "long");
    assert!(killed.starts_with("request 1 of 1:") && killed.contains("llama-server died"), "{killed}");
    assert_eq!(reason("killed", "after"), (Status::Ok, String::new()));
    assert!(outcome.stderr.contains("died; starting it again"), "{}", outcome.stderr);
    for size in ["lots", "512", "2222", "4444"] {
        assert_eq!(processes_matching(&format!("ctx-size {size}")), 0, "a llama-server with --ctx-size {size} is left");
    }
}

#[test]
fn ctrl_c_during_a_request_stops_the_server_and_records_nothing() {
    let llama = Llama::get();
    let directory = project(&[(
        "experiments/long.kdl",
        r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "long" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 3333 }
    workload "long" { request api="completion" prompt="Count from one to ten thousand:" max-tokens=2000 }
}
"#,
    )]);
    let mut child = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).spawn();
    let started = Instant::now();
    while !serving("ctx-size 3333") {
        assert!(started.elapsed() < Duration::from_secs(120), "the server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    let interrupted = Instant::now();
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert!(interrupted.elapsed() < Duration::from_secs(15), "stopping took {:?}", interrupted.elapsed());
    assert_eq!(processes_matching("ctx-size 3333"), 0);
    assert!(records(directory.path()).is_empty());
}

/// Two experiments whose cells need the same llama-server (same toolbox, same command line)
/// share one start of it.
#[test]
fn two_experiments_that_need_the_same_server_share_one_start() {
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "greet" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 1024 }
    workload "hello" {
        request api="completion" max-tokens=2 prompt="Hello"
    }
}
experiment "part" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 1024 }
    workload "bye" {
        request api="completion" max-tokens=2 prompt="Goodbye"
    }
}
"#;
    let directory = project(&[("experiments/shared.kdl", manifest)]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "2 cells: 2 ran (2 ok, 0 failed), 0 cached, 0 blocked\n");
    assert_eq!(outcome.stderr.matches("llama-server ready on port").count(), 1, "{}", outcome.stderr);
    let experiments: Vec<String> = records(directory.path()).into_iter().map(|record| record.experiment).collect();
    assert_eq!(experiments.len(), 2);
    assert!(experiments.contains(&"greet".to_owned()) && experiments.contains(&"part".to_owned()));
}

/// `concurrency 4`: four requests in flight; percentiles of time to first token, end to end
/// and inter-token latency, requests and generated tokens per second. With one slot (`-np 1`)
/// the requests queue in the server, and bakeoff says so.
#[test]
fn concurrent_requests_give_percentiles_and_a_warning_past_the_slots() {
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "load" {
    matrix {
        model "gemma"
        slots 4 1
    }
    server { args "-nr" "-t" 2 "--ctx-size" 4096 "-np" "{slots}" }
    workload "burst" {
        request api="completion" max-tokens=8 prompt="Count from one to ten."
        repeat 8
        concurrency 4
    }
}
"#;
    let directory = project(&[("experiments/load.kdl", manifest)]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let warnings: Vec<&str> = outcome.stderr.lines().filter(|line| line.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{}", outcome.stderr);
    assert!(
        warnings[0].contains("slots=1,toolbox=host/burst sends 4 requests at once, but llama-server has 1 slot(s)"),
        "{}",
        warnings[0]
    );
    for record in records(directory.path()) {
        assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
        for name in ["ttft_ms", "e2e_ms", "itl_ms"] {
            for suffix in ["p50", "p90", "p99"] {
                let metric = &record.metrics[&format!("{name}_{suffix}")];
                assert!(metric.mean > 0.0, "{name}_{suffix}: {metric:?}");
            }
        }
        assert!(record.metrics["ttft_ms_p50"].mean <= record.metrics["ttft_ms_p99"].mean);
        assert_eq!(record.metrics["e2e_ms"].samples.len(), 8, "eight requests in all");
        assert!(record.metrics["req_per_s"].mean > 0.0);
        assert!(record.metrics["gen_tps_total"].mean > 0.0);
        assert!(record.metrics["itl_ms"].samples.len() >= 8, "several tokens per request");
    }
    // The report puts the percentiles side by side, one row per configuration, instead of a
    // table (and chart) per percentile.
    let report = std::fs::read_to_string(directory.path().join("results/load/README.md")).unwrap();
    assert!(report.contains("### `burst`: latency percentiles under load (ms)"), "{report}");
    assert!(report.contains("| configuration | ttft_ms_p50 | ttft_ms_p90 | ttft_ms_p99 | e2e_ms_p50 |"), "{report}");
    assert!(report.contains("| slots=4 |") && report.contains("| slots=1 |"), "{report}");
    assert!(!directory.path().join("results/load/ttft_ms_p99.svg").exists());
}

const COLD: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "cache" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 2048 "-np" 1 }
    workload "cold" {
        request api="completion" max-tokens=2 prompt="The same long question, asked again and again: what is the capital of France, and why?"
        repeat 3
        cache "cold"
    }
    workload "warm" {
        request api="completion" max-tokens=2 prompt="The same long question, asked again and again: what is the capital of France, and why?"
        repeat 3
    }
}
"#;

/// `cache "cold"`: every request of the workload starts on an empty prompt cache, and the
/// server's own `cache_n` shows it (the warm workload beside it reuses the cache).
#[test]
fn a_cold_workload_is_proven_cold() {
    let llama = Llama::get();
    let directory = project(&[("experiments/cache.kdl", COLD)]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let stored = records(directory.path());
    let workload = |name: &str| stored.iter().find(|record| record.workload == name).unwrap();
    assert_eq!(workload("cold").metrics["cache_n"].samples, [0.0, 0.0, 0.0]);
    assert!(workload("warm").metrics["cache_n_warm"].mean > 0.0, "{:?}", workload("warm").metrics["cache_n"]);
}

/// A server that reuses its prompt cache although asked not to (a stand-in: the real one
/// obeys) fails a cold workload with the reason, rather than report a warm number as cold.
#[test]
fn a_server_that_reuses_its_cache_fails_a_cold_workload() {
    let llama = Llama::get();
    let bin = tempfile::tempdir().unwrap();
    let stand_in = bin.path().join("llama-server");
    std::fs::write(
        &stand_in,
        r#"#!/usr/bin/env python3
# Answers /health and /props, and streams one token with timings that say 7 tokens came from the cache.
import http.server, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "ok", "total_slots": 1}')
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b'data: {"content": "Paris", "stop": false}\n\n')
        self.wfile.write(b'data: {"content": "", "stop": true, "timings": {"prompt_n": 3, "cache_n": 7, "predicted_n": 1}}\n\n')
    def log_message(self, *arguments):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#,
    )
    .unwrap();
    std::fs::set_permissions(&stand_in, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let directory = project(&[("experiments/cache.kdl", COLD)]);
    let outcome =
        llama.bakeoff(directory.path()).env("PATH", llama.path(Some(bin.path()))).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    let stored = records(directory.path());
    let workload = |name: &str| stored.iter().find(|record| record.workload == name).unwrap();
    let reason = &workload("cold").failure.as_ref().unwrap().reason;
    assert!(
        reason.starts_with(
            "request 1 of 3: the server reused its prompt cache (cache_n = 7) in a `cache \"cold\"` workload"
        ),
        "{reason}"
    );
    // Any other workload keeps its figures, but its first request, served from the cache, is no
    // cold one: no `_first`, and a warning on the record and in the report that says why.
    let warm = workload("warm");
    assert_eq!(warm.status, Status::Ok, "{:?}", warm.failure);
    assert!(warm.metrics.contains_key("ttft_ms_warm"), "{:?}", warm.metrics);
    assert!(warm.metrics.keys().all(|name| !name.ends_with("_first")), "{:?}", warm.metrics);
    assert!(warm.warnings.iter().any(|warning| warning.text.contains("was not cold")), "{:?}", warm.warnings);
    let report = std::fs::read_to_string(directory.path().join("results/cache/README.md")).unwrap();
    assert!(!report.contains("time to first token, cold"), "{report}");
    assert!(report.contains("**Warning** (`") && report.contains("7 tokens, `cache_n`"), "{report}");
    assert!(processes_matching(&bin.path().display().to_string()) == 0, "the stand-in server was stopped");
}

/// A conversation on each API: every turn is sent with the earlier turns and the server's own
/// replies, so the prompt grows and the prompt cache serves the part it has seen.
#[test]
fn a_conversation_grows_turn_by_turn_on_three_apis() {
    let llama = Llama::get();
    let mut manifest = String::from(
        r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "chat" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 4096 "-np" 1 "--temp" 0.0 }
"#,
    );
    for api in ["completion", "openai-chat", "anthropic-messages"] {
        let _ = write!(
            manifest,
            r#"    workload "{api}" {{
        conversation api="{api}" max-tokens=12 system="You are a terse assistant for a {api} test." {{
            turn "Name a colour."
            turn "Name a fruit of that colour."
            turn "Say both words again."
        }}
    }}
"#
        );
    }
    manifest.push_str("}\n");
    let directory = project(&[("experiments/chat.kdl", &manifest)]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let stored = records(directory.path());
    assert_eq!(stored.len(), 3);
    for record in &stored {
        assert_eq!(record.status, Status::Ok, "{}: {:?}", record.workload, record.failure);
        let metric = |name: &str| record.metrics.get(name).map_or(f64::NAN, |metric| metric.mean);
        assert!(
            metric("prompt_n_turn3_first") > metric("prompt_n_turn1_first"),
            "{}: {:?}",
            record.workload,
            record.metrics
        );
        assert!(metric("cache_n_turn2_first") > 0.0, "{}: turn 2 reuses turn 1's prompt", record.workload);
        assert!(metric("ttft_ms_turn1_first") > 0.0, "{}", record.workload);
        // The Anthropic API streams no `timings`: its rate comes from its usage and the stream.
        assert!(metric("gen_tps_turn3_first") > 0.0, "{}: {:?}", record.workload, record.metrics);
        // What the client sent: turn 2 carries turn 1 and the server's reply to it.
        assert_eq!(record.raw[1]["history"][0]["user"], "Name a colour.");
        assert_eq!(record.raw[1]["history"][0]["assistant"], record.raw[0]["reply"], "{}", record.workload);
        assert!(!record.raw[0]["reply"].as_str().unwrap().is_empty());
        assert_eq!(record.raw[2]["history"].as_array().unwrap().len(), 2);
    }
    // Time to first token against the turn, a line per configuration (three turns: a line chart).
    let report = std::fs::read_to_string(directory.path().join("results/chat/README.md")).unwrap();
    for api in ["completion", "openai-chat", "anthropic-messages"] {
        assert!(report.contains(&format!("### ttft_ms_per_turn_{api} (ms, lower is better) by turn")), "{report}");
        let chart = directory.path().join(format!("results/chat/ttft_ms_per_turn_{api}.svg"));
        let svg = std::fs::read_to_string(&chart).unwrap_or_else(|_| panic!("no chart {}", chart.display()));
        assert!(svg.contains("<polyline") || svg.contains("<path"), "a line chart: {}", chart.display());
    }
    assert!(!report.contains("ttft_ms_turn1_first ("), "the per-turn metrics have no tables of their own");
}

/// About `rules` sentences of a system prompt shared by several workloads.
fn shared_prompt(rules: usize) -> String {
    (1..=rules)
        .map(|rule| format!("Shared rule {rule}: answer about file {rule} in one short sentence, and never guess."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Two workloads with one system prompt on one shared server: the second's "cold" time to first
/// token was measured with the prompt cache warm (`cache_n` 899, 463 ms against a real 11 s).
/// Each workload's first request now asks for no cache reuse; an Anthropic workload, whose API
/// ignores that, gets the server started again. `max-tokens=1` records no generation speed (one
/// token is no rate) instead of 0, and the Anthropic API has its own from what it streams.
#[test]
fn a_cold_figure_after_another_workload_on_a_shared_server_is_cold() {
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "shared" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 2048 "-np" 1 "--temp" 0.0 }
    workload "a" {
        request api="openai-chat" max-tokens=4 system-file="prompts/shared.txt" prompt="What is rule 3?"
        repeat 2
    }
    workload "b" {
        request api="openai-chat" max-tokens=4 system-file="prompts/shared.txt" prompt="What is rule 4?"
        repeat 2
    }
    workload "c" {
        request api="anthropic-messages" max-tokens=6 system-file="prompts/shared.txt" prompt="What is rule 5?"
        repeat 2
    }
    workload "one" {
        request api="completion" max-tokens=1 prompt="Hello"
        repeat 2
    }
    timeout 600
}
"#;
    let directory =
        project(&[("experiments/shared.kdl", manifest), ("experiments/prompts/shared.txt", &shared_prompt(24))]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    // One start, and one more for the Anthropic workload only.
    assert_eq!(outcome.stderr.matches("llama-server ready on port").count(), 2, "{}", outcome.stderr);
    let stored = records(directory.path());
    let workload = |name: &str| stored.iter().find(|record| record.workload == name).unwrap();
    for name in ["a", "b", "c"] {
        let record = workload(name);
        assert_eq!(record.status, Status::Ok, "{name}: {:?}", record.failure);
        let first = &record.raw[0];
        let cached =
            first["timings"]["cache_n"].as_f64().or_else(|| first["usage"]["cache_read_input_tokens"].as_f64());
        assert_eq!(cached, Some(0.0), "{name}: its first request is cold: {first}");
        assert!(record.metrics["prompt_n_first"].mean > 300.0, "{name}: the whole prompt was processed");
        assert!(record.metrics["cache_n_warm"].mean > 300.0, "{name}: the second request reuses the first's");
        assert!(record.metrics.contains_key("ttft_ms_first"), "{name}");
        assert!(record.metrics["gen_tps"].mean > 0.0, "{name}: {:?}", record.metrics);
    }
    // Which requests asked for no reuse, in the record.
    assert_eq!(workload("b").raw[0]["cache_prompt"], false);
    assert!(workload("b").raw[1].get("cache_prompt").is_none());
    assert!(workload("b").warnings.is_empty(), "{:?}", workload("b").warnings);
    assert!(
        workload("c").warnings.iter().any(|note| note.text.contains("started again")),
        "{:?}",
        workload("c").warnings
    );
    // One generated token: no generation speed rather than 0.
    let one = workload("one");
    assert_eq!(one.metrics["gen_n"].samples, [1.0, 1.0]);
    assert!(one.metrics.keys().all(|name| !name.starts_with("gen_tps")), "{:?}", one.metrics);
    let report = std::fs::read_to_string(directory.path().join("results/shared/README.md")).unwrap();
    assert!(report.contains("sent with `cache_prompt: false`"), "{report}");
    assert!(report.contains("**Note** (`") && report.contains("the Anthropic API ignores"), "{report}");
    assert!(report.contains("prompt processing, cold (t/s)"), "{report}");
}

/// A conversation with `repeat 3`: turn 1 was the mean of the first session's cold request and
/// the repeats' cached ones (24.6 s and 0.1 s averaged to 12.3 s). The first session and the
/// later ones are kept apart, the later with their count and spread, in the record, the summary
/// and the per-turn table.
#[test]
fn a_conversations_first_session_is_kept_apart_from_its_repeats() {
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "sessions" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 2048 "-np" 1 "--temp" 0.0 }
    workload "talk" {
        conversation api="openai-chat" max-tokens=4 system-file="prompts/shared.txt" {
            turn "Name a colour."
            turn "Name a fruit of that colour."
        }
        repeat 3
    }
    timeout 600
}
"#;
    let directory =
        project(&[("experiments/sessions.kdl", manifest), ("experiments/prompts/shared.txt", &shared_prompt(24))]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let stored = records(directory.path());
    assert_eq!(stored.len(), 1);
    let record = &stored[0];
    assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
    assert_eq!(record.raw.len(), 6);
    let metric = |name: &str| record.metrics.get(name).unwrap_or_else(|| panic!("no {name}: {:?}", record.metrics));
    assert!(!record.metrics.contains_key("ttft_ms_turn1"), "no mean over sessions");
    for turn in [1, 2] {
        assert_eq!(metric(&format!("ttft_ms_turn{turn}_first")).samples.len(), 1);
        let later = metric(&format!("ttft_ms_turn{turn}_warm"));
        assert_eq!(later.samples.len(), 2, "two later sessions");
        assert!(later.stddev.is_some());
    }
    assert_eq!(metric("cache_n_turn1_first").samples, [0.0], "the first session's turn 1 is cold");
    assert!(metric("cache_n_turn1_warm").samples.iter().all(|cached| *cached > 300.0), "the repeats find it cached");
    assert!(metric("ttft_ms_turn1_warm").mean < metric("ttft_ms_turn1_first").mean);
    // What `check` says the workload records, name for name.
    let check = llama.bakeoff(directory.path()).args(["check", "--json", "sessions"]).run();
    let json: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    let said: Vec<&str> = json["experiments"][0]["blocks"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|metric| metric["name"].as_str().unwrap())
        .collect();
    for name in record.metrics.keys() {
        assert!(said.contains(&name.as_str()), "{name} recorded but not said: {said:?}");
    }
    let report = std::fs::read_to_string(directory.path().join("results/sessions/README.md")).unwrap();
    assert!(report.contains("time to first token, turn 1, first session (ms)"), "{report}");
    assert!(report.contains("time to first token, turn 1, later sessions (ms)"), "{report}");
    assert!(report.contains(" (n=2) |"), "the later sessions' count: {report}");
    assert!(report.contains("| turn | first session, ") && report.contains(" | later sessions, "), "{report}");
    let chart = std::fs::read_to_string(directory.path().join("results/sessions/ttft_ms_per_turn_talk.svg")).unwrap();
    assert!(chart.contains("later sessions"), "a bar per session: {chart}");
}

/// Regression: a cell's kind was read from its workload's name, so a server workload called
/// `bench` ran llama-bench's default tests (recorded ok) and one called `command` failed with
/// an empty command line. Any name works now; the block decides.
#[test]
fn server_workloads_named_bench_and_command_are_server_workloads() {
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "named" {
    matrix { model "gemma" }
    server {
        args "-nr" "-t" 2 "--ctx-size" 1024
        ready-timeout 120
    }
    workload "bench" {
        request api="completion" max-tokens=4 prompt="Say hello."
    }
    workload "command" {
        request api="openai-chat" max-tokens=4 prompt="Say hello."
    }
    timeout 300
}
"#;
    let directory = project(&[("experiments/named.kdl", manifest)]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "2 cells: 2 ran (2 ok, 0 failed), 0 cached, 0 blocked\n", "{}", outcome.stderr);
    let stored = records(directory.path());
    for workload in ["bench", "command"] {
        let record = stored.iter().find(|record| record.workload == workload).unwrap();
        assert!(record.metrics.contains_key("ttft_ms"), "{workload}: {:?}", record.metrics.keys());
        assert!(record.raw.iter().all(|raw| raw.get("n_prompt").is_none()), "{workload}: no llama-bench output");
        assert!(matches!(record.fingerprint.workload, bakeoff::fingerprint::WorkloadPrint::Server { .. }));
    }
    // Beside a `bench` block, a workload of that name would share its cells' ids: refused.
    let both = manifest.replace("    timeout 300", "    bench { args \"-p\" 8 }\n    timeout 300");
    let clash = project(&[("experiments/named.kdl", &both)]);
    let check = llama.bakeoff(clash.path()).arg("check").run();
    assert_eq!(check.code, 2, "{}", check.stderr);
    assert!(check.stderr.contains("workload `bench` is declared twice"), "{}", check.stderr);
    assert!(
        check.stderr.contains("the cells of this experiment's `bench` block are called `bench` too"),
        "{}",
        check.stderr
    );
}

/// A server given a draft model alone (`-md`) loads it and drafts nothing in this llama.cpp
/// (`--spec-type` defaults to none): the cell's record, its progress line and the report say
/// so and what to add. With `--spec-type draft-simple` it drafts: `accept_rate`, no warning.
#[test]
fn speculation_that_did_not_happen_is_said() {
    let llama = Llama::get();
    let directory = project(&[(
        "experiments/spec.kdl",
        r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "spec" {
    matrix {
        model "gemma"
        variant "md-only" { args "-md" "{model:gemma}" }
        variant "draft-simple" { args "-md" "{model:gemma}" "--spec-type" "draft-simple" }
    }
    server { args "-nr" "-t" 2 "--ctx-size" 1024 "{variant}" }
    workload "count" {
        request api="completion" max-tokens=24 prompt="Count from one to twenty: one, two, three,"
        repeat 2
    }
}
"#,
    )]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stored = records(directory.path());
    let variant =
        |name: &str| stored.iter().find(|record| record.axes.get("variant").map(String::as_str) == Some(name)).unwrap();
    let alone = variant("md-only");
    assert_eq!(alone.status, Status::Ok);
    assert!(!alone.metrics.contains_key("draft_n"), "{:?}", alone.metrics.keys());
    let [warning] = &alone.warnings[..] else { panic!("one warning: {:?}", alone.warnings) };
    assert_eq!(warning.severity, bakeoff::notice::Severity::Warning);
    assert!(
        warning.text.starts_with("speculative decoding did not happen: the server was given a draft model (`-md`)")
    );
    assert!(warning.text.ends_with("add `--spec-type draft-simple`"), "{warning}");
    assert!(
        run.stderr.contains(&format!("warning: {}: speculative decoding did not happen", alone.cell)),
        "{}",
        run.stderr
    );

    let drafting = variant("draft-simple");
    assert!(drafting.warnings.is_empty(), "{:?}", drafting.warnings);
    assert!(drafting.metrics["draft_n"].mean > 0.0, "{:?}", drafting.metrics["draft_n"]);
    assert!(drafting.metrics.contains_key("accept_rate"), "{:?}", drafting.metrics.keys());

    let report = std::fs::read_to_string(directory.path().join("results/spec/README.md")).unwrap();
    assert!(
        report.contains(
            "**Warning** (`model=gemma, toolbox=host, variant=md-only`): speculative decoding did not happen"
        ),
        "{report}"
    );
    assert!(!report.contains("variant=draft-simple`): speculative"), "{report}");
}

/// A server cell whose requests do not end within the experiment's `timeout` is recorded
/// timed out (not left waiting on each request's own timeout), and its server, no longer
/// trusted, is started again for the next cell, which runs.
#[test]
fn a_server_cell_times_out_and_the_next_cell_gets_a_fresh_server() {
    let llama = Llama::get();
    let directory = project(&[(
        "experiments/slow.kdl",
        r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "slow" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 2048 }
    workload "long" {
        request api="completion" max-tokens=1000 prompt="Write a very long story about a dragon who counts the stars one by one."
        repeat 3
    }
    workload "short" {
        request api="completion" max-tokens=4 prompt="Say hello."
    }
    timeout 8
}
"#,
    )]);
    let started = Instant::now();
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(60), "the cell's timeout bounds it: {:?}", started.elapsed());
    let stored = records(directory.path());
    let long = stored.iter().find(|record| record.workload == "long").unwrap();
    assert_eq!(long.status, Status::TimedOut, "{:?}", long.failure);
    assert!(long.failure.as_ref().unwrap().reason.starts_with("timed out after 8 s before its requests ended"));
    let short = stored.iter().find(|record| record.workload == "short").unwrap();
    assert_eq!(short.status, Status::Ok, "{:?}", short.failure);
    assert_eq!(run.stderr.matches("llama-server ready on port").count(), 2, "{}", run.stderr);
}

/// A llama-server stopped (SIGSTOP) while it starts accepts connections and never answers:
/// the wait for it still ends at its `ready-timeout`, its cell fails with the reason, and the
/// stopped server is killed, not left behind.
#[test]
fn a_server_stopped_while_it_starts_fails_its_cell_at_the_ready_timeout() {
    let started = Instant::now();
    let (record, pattern) = signal_the_starting_server("stopped", libc::SIGSTOP);
    assert!(started.elapsed() < Duration::from_secs(60), "ended at the ready timeout, not never");
    assert!(
        record.failure.as_ref().unwrap().reason.starts_with("llama-server was not ready after 5 s"),
        "{:?}",
        record.failure
    );
    assert_eq!(processes_matching(&pattern), 0, "the stopped server is gone");
}

/// A llama-server killed (SIGKILL) while it starts reads like every killed child, and its
/// reason does not quote the loading lines it printed before (chaos.sh once found
/// `print_info: file format = GGUF V3` as the reason).
#[test]
fn a_server_killed_while_it_starts_says_so_without_its_loading_chatter() {
    let (record, _) = signal_the_starting_server("killed", libc::SIGKILL);
    let reason = &record.failure.as_ref().unwrap().reason;
    assert_eq!(
        reason,
        "llama-server ended (killed by signal 9 (SIGKILL)) before it was ready: it printed no error (the signal \
         came from outside)"
    );
}

/// Runs a server cell of a model path of its own (so that its server is told apart from
/// others'), sends `signal` to its llama-server as soon as it is there, and returns the cell's
/// record (failed, with bakeoff's exit code 4) and the pattern that finds the server.
fn signal_the_starting_server(name: &str, signal: i32) -> (bakeoff::store::CellRecord, String) {
    let llama = Llama::get();
    let models = tempfile::tempdir().unwrap();
    let model = models.path().join(format!("{name}-server-gemma.gguf"));
    std::os::unix::fs::symlink(&llama.model, &model).unwrap();
    let manifest = format!(
        r#"model "gemma" {{ file "{name}-server-gemma.gguf" }}
experiment "{name}" {{
    matrix {{ model "gemma" }}
    server {{
        args "-nr" "-t" 2 "--ctx-size" 1024
        ready-timeout 5
    }}
    workload "hello" {{ request api="completion" max-tokens=4 prompt="Say hello." }}
    timeout 30
}}
"#
    );
    let directory = project(&[("experiments/signalled.kdl", &manifest)]);
    let mut bakeoff = Bakeoff::new(directory.path());
    bakeoff.env("PATH", llama.path(None)).arg("--models").arg(models.path()).args(["run", "--no-progress"]);
    let child =
        bakeoff.command().stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let pattern = format!("llama-server.*{}", model.display());
    let started = Instant::now();
    let server = loop {
        let found = std::process::Command::new("pgrep").args(["-f", &pattern]).output().unwrap();
        if let Some(pid) = String::from_utf8_lossy(&found.stdout).lines().next() {
            break pid.trim().parse::<i32>().unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the server never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: kill(2) on the llama-server this test's run started.
    unsafe { libc::kill(server, signal) };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    let [record] = &records(directory.path())[..] else { panic!("one record: {stderr}") };
    assert_eq!(record.status, Status::Failed);
    (record.clone(), pattern)
}
