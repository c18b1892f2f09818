//! `search`: an axis searched for where a condition stops holding. Command cells whose metric
//! is a known function of the axis give the exact answer to check; each probe appends its value
//! to a file of this test's, so that what ran is counted, not guessed.

use std::path::Path;

use bakeoff::store::Status;

use crate::support::{Bakeoff, project, records, unwrapped};

/// A command cell printing `cost=3n` (and failing from `fails_from` on), searched over n.
fn manifest(log: &Path, keep: &str, want: &str, to: u32, fails_from: u32) -> String {
    format!(
        r#"experiment "limit" {{
    command {{
        args "sh" "-c" "echo {{n}} >> {log}; if [ {{n}} -ge {fails_from} ]; then echo 'out of memory' >&2; exit 3; fi; echo cost=$(( {{n}} * 3 ))"
        metric "cost" regex="cost=([0-9]+)"
    }}
    search "n" from=0 to={to} step=10 {{
        keep "{keep}"
        want "{want}"
    }}
}}
"#,
        log = log.display()
    )
}

fn probed(log: &Path) -> Vec<u32> {
    std::fs::read_to_string(log).unwrap_or_default().lines().map(|line| line.parse().unwrap()).collect()
}

#[test]
fn a_search_finds_the_exact_boundary_in_few_probes_and_a_rerun_probes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("probes.log");
    // cost = 3n stays ≤ 1500 up to n = 500: 101 grid points, at most ⌈log2 101⌉ + 2 = 9 probes.
    let directory = project(&[("experiments/limit.kdl", &manifest(&log, "cost <= 1500", "largest", 1000, 100_000))]);
    let root = directory.path();
    let plan = Bakeoff::new(root).args(["plan"]).run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let text = unwrapped(&plan.stdout);
    assert!(
        text.contains("search `n` for limit/toolbox=host, command: 0 of at most 9 probes measured (101 grid points); probes n=0 and n=1000 next"),
        "{text}"
    );
    let run = Bakeoff::new(root).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first = probed(&log);
    assert!(first.len() <= 9, "{} probes: {first:?}", first.len());
    assert_eq!(&first[..2], [0, 1000], "both ends first");
    let report = std::fs::read_to_string(root.join("results/limit/README.md")).unwrap();
    let answer = "largest n with cost ≤ 1500: 500 (not at 510) (1500 at 500; 1530 at 510)";
    assert!(unwrapped(&report).contains(answer), "{report}");
    // Only the probes are in the report: no grid point shows as not run.
    assert!(!report.contains("not run"), "{report}");
    assert_eq!(records(root).len(), first.len());
    // Nothing new: the rerun probes nothing, and the plan says the answer.
    let again = Bakeoff::new(root).args(["run", "--no-progress"]).run();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(probed(&log), first, "a rerun probed again");
    let plan = unwrapped(&Bakeoff::new(root).args(["plan"]).run().stdout);
    assert!(plan.contains(&format!("{} of at most 9 probes measured", first.len())), "{plan}");
    assert!(plan.contains("largest n with cost ≤ 1500: 500 (not at 510)"), "{plan}");
    // `--force` measures the search afresh: the same probes again, each once.
    let forced = Bakeoff::new(root).args(["run", "--no-progress", "--force"]).run();
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(probed(&log)[first.len()..], first[..], "--force");
    // A widened range probes what it adds: its new end.
    let wider = manifest(&log, "cost <= 1500", "largest", 2000, 100_000);
    std::fs::write(root.join("experiments/limit.kdl"), wider).unwrap();
    let widened = Bakeoff::new(root).args(["run", "--no-progress"]).run();
    assert_eq!(widened.code, 0, "{}", widened.stderr);
    assert_eq!(probed(&log)[2 * first.len()..], [2000]);
    let report = std::fs::read_to_string(root.join("results/limit/README.md")).unwrap();
    assert!(unwrapped(&report).contains(answer), "{report}");
    // The chart of the probes, with the threshold.
    let svg = std::fs::read_to_string(root.join("results/limit/search.svg")).unwrap();
    assert!(svg.contains("cost over n"), "{svg}");
}

#[test]
fn a_failing_probe_does_not_hold_and_a_contradiction_is_said() {
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("probes.log");
    // Always cheap enough, but out of memory from n = 600: the answer is 590, with the reason.
    let directory = project(&[("experiments/limit.kdl", &manifest(&log, "cost <= 100000", "largest", 1000, 600))]);
    let root = directory.path();
    let run = Bakeoff::new(root).args(["run", "--no-progress"]).run();
    assert_ne!(run.code, 0, "failed probes are failed cells: {}", run.stderr);
    let report = unwrapped(&std::fs::read_to_string(root.join("results/limit/README.md")).unwrap());
    assert!(report.contains("largest n with cost ≤ 100000: 590 (not at 600)"), "{report}");
    assert!(report.contains("| 600 | failed: "), "{report}");
    assert!(records(root).iter().any(|record| record.status == Status::Failed));

    // `want "largest"` of a condition that holds above a boundary: it fails at 0 and holds at
    // 1,000, against the one boundary assumed, and the report says so.
    let log = work.path().join("backwards.log");
    let directory = project(&[("experiments/limit.kdl", &manifest(&log, "cost >= 1500", "largest", 1000, 100_000))]);
    let root = directory.path();
    let run = Bakeoff::new(root).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(probed(&log), [0, 1000], "nothing to bisect");
    let report = unwrapped(&std::fs::read_to_string(root.join("results/limit/README.md")).unwrap());
    assert!(
        report.contains(
            "cost ≥ 1500 holds nowhere in the range, not even at n=0; not one boundary as `want \"largest\"` assumes: it holds at 1,000 but not at 0"
        ),
        "{report}"
    );
}

#[test]
fn a_search_axis_in_the_matrix_too_or_a_bad_range_is_a_manifest_error() {
    let both = r#"experiment "e" {
    matrix { n 1 2 }
    command { args "echo" "{n}" }
    search "n" from=0 to=10 step=1 {
        keep "x <= 1"
        want "largest"
    }
}
"#;
    let directory = project(&[("experiments/e.kdl", both)]);
    let check = Bakeoff::new(directory.path()).args(["check"]).run();
    assert_ne!(check.code, 0);
    assert!(check.stderr.contains("`n` is searched: its values come from the `search` range"), "{}", check.stderr);
    let backwards = both.replace("matrix { n 1 2 }\n", "").replace("from=0 to=10", "from=10 to=0");
    let directory = project(&[("experiments/e.kdl", &backwards)]);
    let check = Bakeoff::new(directory.path()).args(["check"]).run();
    assert!(check.stderr.contains("a search needs `from` below `to` and a positive `step`"), "{}", check.stderr);
    let no_op = both.replace("matrix { n 1 2 }\n", "").replace("x <= 1", "x is small");
    let directory = project(&[("experiments/e.kdl", &no_op)]);
    let check = Bakeoff::new(directory.path()).args(["check"]).run();
    assert!(check.stderr.contains("it has no comparison"), "{}", check.stderr);
}

/// The real llama-bench on the Gemma model: the largest `-d` depth at which prompt processing
/// stays above a threshold set halfway between what the first measurement gave at the ends. Its
/// end probes are the first measurement's cells (the same inputs, measured once); two searches
/// from scratch agree within one grid step. The grid's step is 128: prompt speed falls by about
/// 6% a step near the threshold, while runs minutes apart on a busy 2-core machine differ by
/// up to 10% (a 64 step gave 128 against 256 on one CI run). One thread, as two on a 2-core
/// VM sometimes wait on a vCPU the host took away (a fourth of the speed, for a run).
#[test]
fn the_deepest_context_that_keeps_prompt_speed_on_the_real_llama_bench() {
    let llama = crate::support::Llama::get();
    let bench = r#"bench { args "-t" 1 "-p" 64 "-n" 0 "-d" "{depth}" "-r" 5 }"#;
    let first = format!(
        "model \"gemma\" {{ file \"gemma-3-270m-q4_k_m.gguf\" }}\nexperiment \"ends\" {{\n    matrix {{\n        model \"gemma\"\n        depth 0 1024\n    }}\n    {bench}\n}}\n"
    );
    let directory = project(&[("experiments/ends.kdl", &first)]);
    let root = directory.path();
    let run = llama.bakeoff(root).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ends = records(root);
    let pp = |depth: &str| ends.iter().find(|record| record.axes["depth"] == depth).unwrap().metrics["pp64"].mean;
    let (shallow, deep) = (pp("0"), pp("1024"));
    assert!(shallow > deep, "prompt processing did not slow with depth: {shallow} at 0, {deep} at 1024");
    let threshold = f64::midpoint(shallow, deep).round();
    let search = format!(
        "experiment \"deepest\" {{\n    matrix {{ model \"gemma\" }}\n    {bench}\n    search \"depth\" from=0 to=1024 step=128 {{\n        keep \"pp64 >= {threshold}\"\n        want \"largest\"\n    }}\n}}\n"
    );
    std::fs::write(root.join("experiments/deepest.kdl"), &search).unwrap();
    let answer = |root: &Path| -> i64 {
        let run = llama.bakeoff(root).args(["run", "--no-progress", "deepest"]).run();
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report = unwrapped(&std::fs::read_to_string(root.join("results/deepest/README.md")).unwrap());
        let line = format!("largest depth with pp64 ≥ {threshold}: ");
        let found = report.split(&line).nth(1).unwrap_or_else(|| panic!("no answer `{line}`: {report}"));
        found.split(' ').next().unwrap().replace(',', "").parse().unwrap()
    };
    let found = answer(root);
    // 9 grid points: at most ⌈log2 9⌉ + 2 = 6 probes, two of them the first experiment's cells.
    let probes: Vec<_> = records(root).into_iter().filter(|record| record.experiment == "deepest").collect();
    assert!(probes.len() <= 4, "{} new probes beyond the shared ends", probes.len());
    assert!((0..1024).contains(&found), "{found}");
    // Twice more from scratch: within one grid step.
    for _ in 0..2 {
        let again = project(&[(
            "experiments/deepest.kdl",
            &format!("model \"gemma\" {{ file \"gemma-3-270m-q4_k_m.gguf\" }}\n{search}"),
        )]);
        let other = answer(again.path());
        assert!((other - found).abs() <= 128, "{other} against {found} at threshold {threshold}");
    }
}

/// A search in adaptive rounds: each probe's cost carries a known noise (±60, alternating by
/// round); probes far from the threshold stop at `min`, decided, and those near it take more,
/// up to `max`, and the answer says which are within noise.
#[test]
fn adaptive_rounds_settle_each_probe_against_the_threshold() {
    let work = tempfile::tempdir().unwrap();
    let counts = work.path().display();
    let manifest = format!(
        r#"experiment "limit" {{
    command {{
        args "sh" "-c" "f={counts}/count-{{n}}; k=$(cat $f 2>/dev/null || echo 0); echo $((k + 1)) > $f; echo cost=$(( {{n}} * 3 + 60 - 120 * (k % 2) ))"
        metric "cost" regex="cost=(-?[0-9]+)"
    }}
    rounds min=2 max=6 until="ci < 1%"
    search "n" from=0 to=1000 step=10 {{
        keep "cost <= 1500"
        want "largest"
    }}
}}
"#
    );
    let directory = project(&[("experiments/limit.kdl", &manifest)]);
    let root = directory.path();
    let run = Bakeoff::new(root).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let records = records(root);
    let at = |n: &str| records.iter().find(|record| record.axes["n"] == n).unwrap_or_else(|| panic!("no probe at {n}"));
    for (n, side) in [("0", "holds"), ("1000", "does not hold")] {
        let probe = at(n);
        assert_eq!(probe.rounds.len(), 2, "{n}: {:?}", probe.rounds_stop);
        let why = probe.rounds_stop.as_deref().unwrap();
        assert!(why.starts_with(&format!("decided after 2 rounds: cost ≤ 1500 {side} beyond noise")), "{why}");
    }
    // 1500 ± 60 at 500 never leaves the threshold: the most rounds.
    let edge = at("500");
    assert_eq!(edge.rounds.len(), 6, "{:?}", edge.rounds_stop);
    let report = unwrapped(&std::fs::read_to_string(root.join("results/limit/README.md")).unwrap());
    assert!(report.contains("largest n with cost ≤ 1500: 500 (not at 510)"), "{report}");
    assert!(report.contains("within noise of the threshold at 500"), "{report}");
}

/// A value the experiment excludes is no grid point: the search starts from the next one, and
/// the report's answer is the plan's, not "not finished".
#[test]
fn an_excluded_value_is_no_grid_point_for_the_plan_or_the_report() {
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("probes.log");
    let manifest = manifest(&log, "cost <= 1500", "largest", 1000, 100_000)
        .replace("    search \"n\"", "    exclude n=\"0\"\n    search \"n\"");
    let directory = project(&[("experiments/limit.kdl", &manifest)]);
    let root = directory.path();
    let run = Bakeoff::new(root).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(&probed(&log)[..2], [10, 1000]);
    let report = unwrapped(&std::fs::read_to_string(root.join("results/limit/README.md")).unwrap());
    assert!(report.contains("largest n with cost ≤ 1500: 500 (not at 510)"), "{report}");
    assert!(!report.contains("not finished"), "{report}");
}
