//! Sweeps along an axis that sets a size or names a file: `-p {plen}` measures each cell under
//! the plain name `pp`, so a table of `pp` against `plen` is full; `prompt-file="prompts/{size}.txt"`
//! gives each cell its own file, fingerprinted by its content, and a missing one is named at check.

use bakeoff::store::Status;

use crate::support::{Llama, project, records};

const SWEEP: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "sizes" {
    matrix {
        model "gemma"
        size "short" "long"
    }
    server { args "-nr" "-t" 2 "--ctx-size" 2048 }
    workload "ask" { request api="completion" prompt-file="prompts/{size}.txt" max-tokens=2 }
}
"#;

fn words(count: usize) -> String {
    (1..=count).map(|index| format!("word{index}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn a_prompt_file_named_by_an_axis_gives_each_cell_its_own_prompt() {
    let llama = Llama::get();
    let directory = project(&[
        ("experiments/sizes.kdl", SWEEP),
        ("experiments/prompts/short.txt", &words(8)),
        ("experiments/prompts/long.txt", &words(300)),
    ]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let stored = records(directory.path());
    let prompt_tokens = |size: &str| {
        let record = stored.iter().find(|record| record.axes["size"] == size).unwrap();
        assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
        record.metrics["prompt_n_first"].mean
    };
    let (short, long) = (prompt_tokens("short"), prompt_tokens("long"));
    assert!(short < 40.0 && long > 300.0, "each cell sent its own file: {short} and {long} prompt tokens");

    // Editing one value's file re-measures that cell only.
    std::fs::write(directory.path().join("experiments/prompts/long.txt"), words(301)).unwrap();
    let plan = llama.bakeoff(directory.path()).args(["plan"]).run();
    assert!(plan.stdout.contains("2 cells: 1 cached, 1 to run, 0 blocked"), "{}", plan.stdout);
}

#[test]
fn a_missing_file_for_one_value_is_named_at_check() {
    let directory = project(&[
        ("experiments/sizes.kdl", &SWEEP.replace(r#"size "short" "long""#, r#"size "short" "medium""#)),
        ("experiments/prompts/short.txt", "Hello"),
    ]);
    let outcome = Llama::get().bakeoff(directory.path()).args(["check"]).run();
    assert_ne!(outcome.code, 0);
    assert!(outcome.stderr.contains("file `prompts/medium.txt` does not exist"), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("short.txt"), "{}", outcome.stderr);

    let unknown = project(&[("experiments/sizes.kdl", &SWEEP.replace("{size}", "{length}"))]);
    let outcome = Llama::get().bakeoff(unknown.path()).args(["check"]).run();
    assert_ne!(outcome.code, 0);
    assert!(outcome.stderr.contains("unknown placeholder `{length}`"), "{}", outcome.stderr);
}

const PROMPT_SWEEP: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "plen" {
    matrix {
        model "gemma"
        plen 16 32
    }
    bench { args "-t" 1 "-p" "{plen}" "-n" 0 "-r" 1 "--repack" 0 }
    report { table rows="plen" columns="model" metric="pp" }
}
"#;

#[test]
fn a_prompt_length_sweep_fills_one_table_of_pp() {
    let llama = Llama::get();
    let directory = project(&[("experiments/plen.kdl", PROMPT_SWEEP)]);
    let produces = llama.bakeoff(directory.path()).args(["check", "--produces"]).run();
    assert_eq!(produces.code, 0, "{}", produces.stderr);
    assert!(produces.stdout.contains("pp") && !produces.stdout.contains("pp16"), "{}", produces.stdout);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    for record in records(directory.path()) {
        assert_eq!(record.metrics.keys().filter(|name| name.starts_with("pp")).collect::<Vec<_>>(), ["pp"]);
        assert_eq!(record.raw[0]["n_prompt"].to_string(), record.axes["plen"], "the size is the cell's axis value");
    }
    let report = std::fs::read_to_string(directory.path().join("results/plen/README.md")).unwrap();
    let table = report.split("| plen |").nth(1).expect("a table of plen rows");
    let rows: Vec<&str> = table.lines().filter(|line| line.starts_with("| 16 ") || line.starts_with("| 32 ")).collect();
    assert_eq!(rows.len(), 2, "{report}");
    assert!(rows.iter().all(|row| !row.contains("n/a") && !row.contains('—')), "a number in every cell: {rows:?}");
}
