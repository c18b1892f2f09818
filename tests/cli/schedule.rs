//! The run walks the plan's DAG: untested models first, one llama-bench process for cells that
//! differ only in per-test parameters (records as if each cell ran alone), and a group that
//! fails leaves its cells to run one by one.

use bakeoff::store::Status;

use crate::support::{Bakeoff, Llama, project, records};

/// The `[i/n] running CELL` lines of a run, in order.
fn running(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| {
            line.split_once("] running ").map(|(_, rest)| rest.split(',').next().unwrap_or(rest).to_owned())
        })
        .collect()
}

/// Our EPYC users' first rule: a model nobody has measured on this host yet goes first,
/// whatever the manifest's order.
#[test]
fn untested_models_run_first() {
    let manifest = r#"model "old" { file "old.gguf" }
model "new" { file "new.gguf" }
experiment "order" {
    matrix {
        model "old" "new"
        n 1
    }
    // `{model}` makes the model part of what the cell runs (and of its fingerprint).
    command {
        args "sh" "-c" "echo value={n}" "{model}"
        metric "value" regex="value=([0-9]+)"
    }
}
"#;
    let directory =
        project(&[("experiments/order.kdl", manifest), ("models/old.gguf", "old"), ("models/new.gguf", "new")]);
    let bakeoff = || {
        let mut bakeoff = Bakeoff::new(directory.path());
        bakeoff.arg("--models").arg(directory.path().join("models"));
        bakeoff
    };
    let first = bakeoff().args(["run", "--no-progress", "--only", "model=old"]).run();
    assert_eq!(first.code, 0, "{}", first.stderr);
    // Both models get a new cell; `old` comes first in the manifest, `new` has no result here.
    let path = directory.path().join("experiments/order.kdl");
    std::fs::write(&path, manifest.replace("n 1", "n 1 2")).unwrap();
    let second = bakeoff().args(["run", "--no-progress"]).run();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(running(&second.stderr), ["order/model=new", "order/model=new", "order/model=old"], "{}", second.stderr);
}

const DEPTHS: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "depths" {
    matrix {
        model "gemma"
        threads 1 2
        depth 0 32
    }
    bench { args "-t" "{threads}" "-d" "{depth}" "-p" 16 "-n" 4 "-r" 2 "--repack" 0 }
    timeout 300
}
"#;

/// Four cells (threads × depth) are one llama-bench process; each cell's record has what the
/// same cell run alone records: the same metric names, the same raw record fields, its own
/// thread count and depth.
#[test]
fn a_load_group_records_each_cell_as_if_it_ran_alone() {
    let llama = Llama::get();
    let directory = project(&[("experiments/depths.kdl", DEPTHS)]);
    let run = |args: &[&str]| llama.bakeoff(directory.path()).args(["run", "--no-progress"]).args(args).run();
    let grouped = run(&[]);
    assert_eq!(grouped.code, 0, "{}", grouped.stderr);
    assert_eq!(grouped.stdout, "4 cells: 4 ran (4 ok, 0 failed), 0 cached, 0 blocked\n");
    assert!(grouped.stderr.contains("and 3 more (one llama-bench: llama-bench -m "), "{}", grouped.stderr);
    assert!(grouped.stderr.contains(" -t 1,2 -d 0,32 -p 16 -n 4 -r 2 --repack 0 -o jsonl)"), "{}", grouped.stderr);
    let in_group = records(directory.path());
    assert_eq!(in_group.len(), 4);
    for record in &in_group {
        assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
        assert_eq!(record.raw.len(), 2, "pp16 and tg4: {}", record.cell);
        for raw in &record.raw {
            assert_eq!(raw["n_threads"].to_string(), record.axes["threads"], "{}", record.cell);
            assert_eq!(raw["n_depth"].to_string(), record.axes["depth"], "{}", record.cell);
        }
        assert!(record.timings.duration_ms > 0);
    }
    // The same cell alone (a group needs two cells).
    let alone = run(&["--force", "--only", "threads=2", "--only", "depth=32"]);
    assert_eq!(alone.code, 0, "{}", alone.stderr);
    assert!(!alone.stderr.contains("one llama-bench"), "{}", alone.stderr);
    let single =
        records(directory.path()).into_iter().find(|record| record.cell.contains("threads=2,depth=32")).unwrap();
    let grouped_one = in_group.iter().find(|record| record.hash == single.hash).unwrap();
    assert_eq!(grouped_one.metrics.keys().collect::<Vec<_>>(), single.metrics.keys().collect::<Vec<_>>());
    // The depth is the cell's axis value: the metrics keep their plain names.
    assert_eq!(grouped_one.metrics.keys().collect::<Vec<_>>(), ["peak_rss_bytes", "pp16", "tg4"]);
    let fields = |record: &bakeoff::store::CellRecord| -> Vec<Vec<String>> {
        record.raw.iter().map(|raw| raw.as_object().unwrap().keys().cloned().collect()).collect()
    };
    assert_eq!(fields(grouped_one), fields(&single));
    for (grouped, alone) in grouped_one.metrics.values().zip(single.metrics.values()) {
        assert_eq!(grouped.samples.len(), alone.samples.len());
        assert_eq!(grouped.unit, alone.unit);
    }
}

/// One cell's flags make llama-bench refuse the whole group: the group's cells then run one
/// by one, so the failure stays that cell's and the others are ok.
#[test]
fn a_failing_group_leaves_the_failure_to_its_cell() {
    let llama = Llama::get();
    let manifest =
        DEPTHS.replace("depth 0 32", "ctk \"f16\" \"no-such-type\"").replace(r#""-d" "{depth}""#, r#""-ctk" "{ctk}""#);
    let directory = project(&[("experiments/depths.kdl", &manifest)]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "4 cells: 4 ran (2 ok, 2 failed), 0 cached, 0 blocked\n", "{}", outcome.stderr);
    assert!(outcome.stderr.contains("before measuring every cell; the rest run one by one"), "{}", outcome.stderr);
    for record in records(directory.path()) {
        let bad = record.axes["ctk"] == "no-such-type";
        assert_eq!(
            record.status,
            if bad { Status::Failed } else { Status::Ok },
            "{}: {:?}",
            record.cell,
            record.failure
        );
    }
}
