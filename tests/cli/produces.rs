//! What `check` says each block produces is what its cells record: bench cells (tests, a depth
//! list, `-pg`), server workloads (plain, under `concurrency`, a `conversation`), command cells
//! and a bench cell run as a Slurm job, each run for real with llama.cpp on the Gemma model and
//! compared name for name with `check --produces --json`. Names recorded only where the host has
//! counters (energy, GPU memory) or the server drafts are listed as conditional: a record may
//! hold them, never anything unlisted, and always every unconditional name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bakeoff::store::Status;

use crate::support::{Llama, project, records};

/// Small and fast: a few tokens, one repetition.
const CELLS: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "bench" {
    matrix {
        model "gemma"
        n 2 4
    }
    bench { args "-t" 2 "-p" 8 "-n" "{n}" "-pg" "8,2" "-d" "0,8" "-r" 1 "--repack" 0 }
    timeout 300
}
experiment "serve" {
    matrix { model "gemma" }
    server {
        args "-nr" "-t" 2 "--ctx-size" 1024 "--temp" 0.0
        ready-timeout 120
    }
    workload "plain" {
        request api="completion" prompt="Hello" max-tokens=4
        repeat 2
    }
    workload "load" {
        request api="openai-chat" prompt="Hello" max-tokens=4
        repeat 4
        concurrency 2
    }
    workload "talk" {
        conversation api="openai-chat" max-tokens=4 {
            turn "Hello"
            turn "And then?"
        }
        repeat 2
    }
    timeout 300
}
experiment "command" {
    matrix { words "one" "two" }
    command {
        args "sh" "-c" "sleep 0.3; echo {words} 42"
        metric "answer" regex="(\\d+)"
    }
}
"#;

/// Per block, the names `check` says it records always and those it records where something
/// holds.
type Said = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

fn said(llama: &Llama, directory: &Path, experiment: &str) -> Said {
    let check = llama.bakeoff(directory).args(["check", "--json", experiment]).run();
    assert_eq!(check.code, 0, "{}", check.stderr);
    let json: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    let mut said = Said::new();
    for block in json["experiments"][0]["blocks"].as_array().unwrap() {
        let (always, conditional) = said.entry(block["block"].as_str().unwrap().to_owned()).or_default();
        for metric in block["metrics"].as_array().unwrap() {
            let name = metric["name"].as_str().unwrap().to_owned();
            assert!(metric.get("pattern").is_none(), "{name}: every count here is known");
            if metric.get("condition").is_some() {
                conditional.insert(name)
            } else {
                always.insert(name)
            };
        }
    }
    said
}

/// Each block's cells, all ok, recorded together exactly what `check` said: every unconditional
/// name, some of the conditional ones, nothing else.
fn assert_recorded_as_said(directory: &Path, experiment: &str, said: &Said) {
    let mut recorded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for record in records(directory).iter().filter(|record| record.experiment == experiment) {
        assert_eq!(record.status, Status::Ok, "{}: {:?}", record.cell, record.failure);
        recorded.entry(record.workload.clone()).or_default().extend(record.metrics.keys().cloned());
    }
    assert_eq!(recorded.keys().collect::<Vec<_>>(), said.keys().collect::<Vec<_>>(), "{experiment}: blocks");
    for (block, names) in &recorded {
        let (always, conditional) = &said[block];
        let unconditional: BTreeSet<String> = names.difference(conditional).cloned().collect();
        assert_eq!(&unconditional, always, "{experiment} `{block}`: recorded (left) against said (right)");
    }
}

#[test]
fn bench_server_and_command_cells_record_what_check_says() {
    let llama = Llama::get();
    let directory = project(&[("experiments/cells.kdl", CELLS)]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    for experiment in ["bench", "serve", "command"] {
        let said = said(&llama, directory.path(), experiment);
        assert_recorded_as_said(directory.path(), experiment, &said);
    }
    // What the listing shows, checked against a run: the depth list keeps `@d8` beside the
    // plain depth 0, a conversation has its turns, concurrency its percentiles.
    let bench = &said(&llama, directory.path(), "bench")["bench"].0;
    for name in ["pp8", "tg2", "tg4", "pp8+tg2", "pp8@d8", "tg4@d8", "pp8+tg2@d8"] {
        assert!(bench.contains(name), "{name}: {bench:?}");
    }
    let serve = said(&llama, directory.path(), "serve");
    // A conversation's first session apart from its repeats.
    assert!(serve["talk"].0.contains("ttft_ms_turn2_first") && serve["talk"].0.contains("ttft_ms_turn2_warm"));
    assert!(serve["load"].0.contains("e2e_ms_p99"));
}

/// A cell run as a Slurm job records what `check` says, as a local one does.
#[test]
fn a_bench_cell_run_as_a_slurm_job_records_what_check_says() {
    let cluster = crate::slurm::Cluster::get();
    let _jobs = crate::slurm::Jobs { cluster: &cluster, names: vec!["bakeoff-on-slurm"] };
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "on-slurm" {
    matrix {
        model "gemma"
        toolbox "cpu-node"
    }
    bench { args "-t" 2 "-p" 8 "-n" 2 "-r" 1 "--repack" 0 }
    timeout 300
}
"#;
    let directory = project(&[("toolboxes/nodes.kdl", crate::slurm::NODES), ("experiments/on-slurm.kdl", manifest)]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress", "--executor", "slurm"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(records(directory.path()).iter().all(|record| record.slurm.is_some()), "run as a job");
    let said = said(&llama, directory.path(), "on-slurm");
    assert_recorded_as_said(directory.path(), "on-slurm", &said);
}
