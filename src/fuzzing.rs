//! Every file and stream bakeoff reads, on random input: host facts, result records (whole
//! and their head), the lock, the stat cache, llama-bench's JSON lines, llama-server's event
//! stream with the metrics made of it, and GGUF headers. Each gets arbitrary bytes and
//! mutations of a valid sample; none may panic. `PROPTEST_CASES` raises the count
//! (`scripts/fuzz-readers.sh` runs a million and more).

use std::path::Path;

use proptest::prelude::*;

const FACTS: &str = include_str!("../tests/fixtures/hosts/strix-1.json");
const LOCK: &str = include_str!("../bakeoff.lock");
const BENCH: &str = r#"{"build_commit": "unknown", "build_number": 0, "model_filename": "/m.gguf", "model_type": "gemma3 270M Q4_K - Medium", "model_size": 246587904, "model_n_params": 268098176, "n_threads": 2, "n_prompt": 16, "n_gen": 0, "n_depth": 0, "test_time": "2026-11-22T04:54:11Z", "avg_ns": 105626654, "stddev_ns": 0, "avg_ts": 151.476918, "stddev_ts": 0.0, "samples_ns": [105626654], "samples_ts": [151.477]}"#;
const EVENTS: &str = r#"data: {"content":"Hello","stop":false}
data: {"choices":[{"delta":{"content":" there"}}]}
data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"!"}}
data: {"timings":{"prompt_n":11,"prompt_ms":40.5,"prompt_per_second":271.6,"predicted_n":4,"predicted_per_second":25.1,"cache_n":3,"draft_n":2,"draft_n_accepted":1}}
data: {"type":"message_delta","usage":{"input_tokens":11,"output_tokens":4,"cache_read_input_tokens":3}}
data: [DONE]
"#;
const STAT_CACHE: &str = r#"{"format": 1, "files": {"/models/m.gguf": {"device": 2049, "inode": 1234, "size": 253113024, "mtime_ns": 1700000000000000000, "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"}}}"#;

/// A record of the current format, as a run writes it.
fn record() -> String {
    let fingerprint = serde_json::json!({
        "argv": ["llama-bench", "-m", "sha256:00ff", "-o", "jsonl"], "axes": {}, "schema": 1,
        "host": { "cpu": "x", "firmware": null, "gpus": [], "kernel": "6.12", "memory_bytes": 1, "id": "ab" },
        "toolbox": { "digest": null, "env": {}, "image": null, "llama_cpp": "b1", "name": "host", "runner": "host" },
        "workload": { "kind": "bench" }
    });
    let host: serde_json::Value = serde_json::from_str(FACTS).expect("the fixture is JSON");
    serde_json::json!({
        "format": crate::store::RECORD_FORMAT, "hash": "00ff", "cell": "e/n=1/bench", "experiment": "e",
        "workload": "bench", "axes": { "n": "1" }, "fingerprint": fingerprint, "host": host,
        "status": "failed", "failure": { "reason": "exit code 1", "exit_code": 1, "signal": null, "log_tail": ["x"] },
        "metrics": { "pp16": { "mean": 151.4, "stddev": null, "unit": "t/s", "samples": [151.4] } },
        "raw": [serde_json::from_str::<serde_json::Value>(BENCH).expect("the sample is JSON")],
        "timings": { "started_unix_ms": 1, "duration_ms": 2 }, "attempts": 1, "bakeoff_version": "0.1.0"
    })
    .to_string()
}

/// `valid` with a few bytes removed, inserted or replaced.
fn mutated(valid: &[u8], edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    let mut bytes = valid.to_vec();
    for (index, operation, byte) in edits {
        if bytes.is_empty() {
            break;
        }
        let position = index.index(bytes.len());
        match operation {
            0 => {
                bytes.remove(position);
            }
            1 => bytes.insert(position, *byte),
            _ => bytes[position] = *byte,
        }
    }
    bytes
}

/// Every reader on one input.
fn read_everything(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let _ = crate::host::HostFacts::parse(&text, "facts.json");
    let _ = crate::lock::LockFile::parse(&text, "bakeoff.lock");
    let _ = crate::inputs::StatCache::entries(bytes);
    let _ = crate::store::parse_head(Path::new("r.json"), bytes);
    if let Ok(record) = crate::store::parse(Path::new("r.json"), bytes) {
        // What reports and plans do with a record: its keys and labels.
        let _ = record.fingerprint.portable_key();
        let _ = record.host.label();
    }
    let _ = crate::run::bench_metrics(bytes);
    crate::run::events_to_metrics(&text);
    let _ = crate::models::parse(bytes);
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(500)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn fuzz_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        read_everything(&bytes);
    }

    #[test]
    fn fuzz_mutated_samples(
        sample in 0usize..7,
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..8),
    ) {
        let valid: Vec<u8> = match sample {
            0 => FACTS.as_bytes().to_vec(),
            1 => LOCK.as_bytes().to_vec(),
            2 => record().into_bytes(),
            3 => BENCH.as_bytes().to_vec(),
            4 => EVENTS.as_bytes().to_vec(),
            5 => STAT_CACHE.as_bytes().to_vec(),
            _ => crate::models::gguf::tests::header(),
        };
        read_everything(&mutated(&valid, &edits));
    }
}

/// The samples are what the readers accept: mutations of them reach past the first check.
#[test]
fn the_samples_are_valid() {
    assert!(crate::host::HostFacts::parse(FACTS, "facts.json").is_ok());
    assert!(crate::lock::LockFile::parse(LOCK, "bakeoff.lock").is_ok());
    assert_eq!(crate::inputs::StatCache::entries(STAT_CACHE.as_bytes()).len(), 1);
    assert!(crate::store::parse(Path::new("r.json"), record().as_bytes()).is_ok());
    assert!(crate::run::bench_metrics(BENCH.as_bytes()).is_ok());
    assert!(crate::models::parse(crate::models::gguf::tests::header().as_slice()).is_ok());
}
