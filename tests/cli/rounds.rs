//! Honest numbers from the real llama-bench on Gemma: interleaved rounds with confidence
//! intervals, a killed run's rounds kept and completed, and the depth sweep read along its axis.

use bakeoff::store::Status;

use crate::support::{Llama, project, records};

const SWEEP: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "sweep" {
    matrix {
        model "gemma"
        threads 1 2
        depth 0 32 64
    }
    bench { args "-t" "{threads}" "-d" "{depth}" "-p" 8 "-n" 4 "-r" 2 "--repack" 0 }
    rounds 3
    timeout 300
    report {
        table rows="depth" columns="threads" metric="tg4"
    }
}
"#;

/// A threads × depth matrix in 3 rounds: every cell is measured three times, round 1 of every
/// cell before round 2 of any (the records' round timestamps say so), the metric is the mean
/// over rounds with a confidence interval, and the depth sweep's table has a number in every
/// cell (it had `n/a` for every depth but 0 while the metric was called `tg4@d32`), drawn as
/// lines against depth with the retention beside it.
#[test]
fn rounds_interleave_and_the_depth_sweep_has_every_number() {
    let llama = Llama::get();
    let directory = project(&[("experiments/sweep.kdl", SWEEP)]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "6 cells: 6 ran (6 ok, 0 failed), 0 cached, 0 blocked\n");
    assert_eq!(run.stderr.matches("(round 3/3)").count(), 6, "{}", run.stderr);

    let recorded = records(directory.path());
    assert_eq!(recorded.len(), 6);
    for record in &recorded {
        assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
        assert_eq!(record.rounds.len(), 3, "{}", record.cell);
        assert_eq!(record.fingerprint.rounds, 3);
        assert_eq!(record.metrics.keys().collect::<Vec<_>>(), ["peak_rss_bytes", "pp8", "tg4"], "{}", record.cell);
        let tg = &record.metrics["tg4"];
        let stats = tg.rounds.as_ref().expect("statistics over rounds");
        let values: Vec<f64> = record.rounds.iter().map(|round| round.metrics["tg4"].mean).collect();
        assert_eq!(stats.values, values);
        assert!((tg.mean - values.iter().sum::<f64>() / 3.0).abs() < 1e-9);
        let [low, high] = stats.ci95.expect("a confidence interval from 3 rounds");
        assert!(low < tg.mean && tg.mean < high, "{low} {} {high}", tg.mean);
        assert_eq!(tg.samples.len(), 6, "2 repetitions in each of 3 rounds");
        // Each round's raw llama-bench records are kept.
        assert_eq!(record.raw.len(), 6);
        // llama-bench maps the whole model: its peak is above the file's size.
        let model_size = llama.model_bytes();
        let peak = record.metrics["peak_rss_bytes"].mean;
        assert!(peak > model_size && peak < 4.0 * model_size, "{}: peak {peak}", record.cell);
    }
    // Interleaved: every cell's round k starts after every cell's round k−1 ended.
    for round in 1..3 {
        let previous_end = recorded.iter().map(|record| record.rounds[round - 1].started_unix_ms).max().unwrap();
        let next_start = recorded.iter().map(|record| record.rounds[round].started_unix_ms).min().unwrap();
        assert!(next_start > previous_end, "round {} started before round {round} was done", round + 1);
    }

    let report = std::fs::read_to_string(directory.path().join("results/sweep/README.md")).unwrap();
    let table = report.split("### tg4").nth(1).unwrap();
    for depth in ["0", "32", "64"] {
        let row = table.lines().find(|line| line.starts_with(&format!("| {depth} |"))).unwrap();
        assert!(!row.contains("n/a") && row.matches(" ± ").count() == 2, "{row}\n{report}");
    }
    assert!(report.contains("± is the 95% confidence interval of the mean over 3 interleaved rounds"), "{report}");
    assert!(report.contains("Retention: tg4 against its value at the smallest depth (0)."), "{report}");
    // Depth is a condition, not a choice: the threads are weighed at each depth, never a depth
    // named best (the report once said "Best: `depth=512`").
    let verdicts: Vec<&str> =
        report.lines().filter(|line| line.starts_with("Best") || line.starts_with("No clear best")).collect();
    assert_eq!(verdicts.len(), 3, "one per depth: {report}");
    for (verdict, depth) in verdicts.iter().zip(["0", "32", "64"]) {
        assert!(verdict.contains(&format!(" at `depth={depth}`: `threads=")), "{verdict}");
    }
    let svg = std::fs::read_to_string(directory.path().join("results/sweep/tg4.svg")).unwrap();
    assert!(svg.contains("<polyline"), "a line chart against depth");
    assert!(svg.contains("threads=1") && svg.contains("threads=2"), "one line per thread count");

    // Without the report block, the default report also reads the sweep along depth.
    let path = directory.path().join("experiments/sweep.kdl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{}}}\n", &text[..text.find("    report {").unwrap()])).unwrap();
    let rerun = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(rerun.stdout, "6 cells: 0 ran (0 ok, 0 failed), 6 cached, 0 blocked\n", "{}", rerun.stderr);
    let report = std::fs::read_to_string(directory.path().join("results/sweep/README.md")).unwrap();
    assert!(report.contains("### tg4 (t/s, higher is better) by depth × threads"), "{report}");
}

/// A run killed between rounds keeps the rounds it measured: the plan says how many are in,
/// and the next run measures only the rest.
#[test]
fn a_cell_with_rounds_missing_measures_only_the_rest() {
    let llama = Llama::get();
    let manifest = SWEEP.replace("threads 1 2", "threads 2").replace("depth 0 32 64", "depth 0");
    let directory = project(&[("experiments/sweep.kdl", &manifest)]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let [record] = &records(directory.path())[..] else { panic!("one record") };
    // What a run killed during round 3 leaves: the record as written after round 2.
    let path = directory.path().join("results/cells").join(&record.hash[..2]).join(format!("{}.json", record.hash));
    let mut value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    value["rounds"].as_array_mut().unwrap().pop();
    std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    let kept: Vec<u64> = record.rounds[..2].iter().map(|round| round.started_unix_ms).collect();

    let plan = llama.bakeoff(directory.path()).args(["plan"]).run();
    assert!(plan.stdout.contains("(2 of 3 rounds recorded)"), "{}", plan.stdout);
    // The report marks it rather than counting it ok like any other (it once did).
    let report = llama.bakeoff(directory.path()).args(["report", "sweep"]).run();
    assert_eq!(report.code, 0, "{}", report.stderr);
    let report = std::fs::read_to_string(directory.path().join("results/sweep/README.md")).unwrap();
    assert!(report.contains("1 cell: 1 ok (1 with fewer rounds than asked)"), "{report}");
    assert!(report.contains(", 2/3 rounds) |") || report.contains(" (2/3 rounds) |"), "{report}");
    assert!(report.contains("2 of 3 rounds recorded, as an interrupted run left it"), "{report}");
    let rest = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(rest.code, 0, "{}", rest.stderr);
    assert_eq!(rest.stderr.matches("(round 3/3)").count(), 1, "{}", rest.stderr);
    assert!(!rest.stderr.contains("(round 1/3)"), "{}", rest.stderr);
    let [completed] = &records(directory.path())[..] else { panic!("one record") };
    assert_eq!(completed.rounds.len(), 3);
    let starts: Vec<u64> = completed.rounds.iter().map(|round| round.started_unix_ms).collect();
    assert_eq!(starts[..2], kept[..], "the two recorded rounds are kept as they were");
    assert!(starts[2] > record.rounds[2].started_unix_ms, "round 3 measured again");
    assert_eq!(completed.metrics["tg4"].rounds.as_ref().unwrap().values.len(), 3);
}

/// Energy from a RAPL tree of the test's own: the package zone's counter, read before and after
/// the cell and differenced across its wrap-around (the cell itself moves the counter past
/// `max_energy_range_uj`), its sub-zone not counted twice; with no counter anywhere, the record
/// says `energy_j` is unavailable and why, and the report repeats it.
#[test]
fn energy_comes_from_the_counters_and_is_unavailable_without_them() {
    let directory = project(&[]);
    let powercap = directory.path().join("powercap");
    for (zone, start) in [("intel-rapl:0", "999000000"), ("intel-rapl:0:0", "5")] {
        std::fs::create_dir_all(powercap.join(zone)).unwrap();
        std::fs::write(powercap.join(zone).join("energy_uj"), start).unwrap();
        std::fs::write(powercap.join(zone).join("max_energy_range_uj"), "1000000000").unwrap();
    }
    let counter = powercap.join("intel-rapl:0/energy_uj");
    let manifest = format!(
        r#"experiment "power" {{
    matrix {{ n 1 }}
    command {{
        args "sh" "-c" "echo 500000 > {} && echo value={{n}}"
        metric "value" regex="value=([0-9]+)"
    }}
}}
"#,
        counter.display()
    );
    std::fs::create_dir_all(directory.path().join("experiments")).unwrap();
    std::fs::write(directory.path().join("experiments/power.kdl"), manifest).unwrap();
    let empty = directory.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run = crate::support::Bakeoff::new(directory.path())
        .env("BAKEOFF_POWERCAP_ROOT", &powercap)
        .env("BAKEOFF_HWMON_ROOT", &empty)
        .args(["run", "--no-progress"])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let [record] = &records(directory.path())[..] else { panic!("one record") };
    // 999,000,000 → wrap at 1,000,000,000 → 500,000: 1,500,000 µJ.
    assert!((record.metrics["energy_j"].mean - 1.5).abs() < 1e-9, "{:?}", record.metrics);
    assert_eq!(record.metrics["energy_j"].unit, "J");
    assert!(record.unavailable.is_empty());

    let rerun = crate::support::Bakeoff::new(directory.path())
        .env("BAKEOFF_POWERCAP_ROOT", &empty)
        .env("BAKEOFF_HWMON_ROOT", &empty)
        .args(["run", "--no-progress", "--force"])
        .run();
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let [record] = &records(directory.path())[..] else { panic!("one record") };
    assert!(!record.metrics.contains_key("energy_j"), "never a made-up number");
    let reason = &record.unavailable["energy_j"];
    assert!(reason.starts_with("no readable RAPL counter under `"), "{reason}");
    let report = std::fs::read_to_string(directory.path().join("results/power/README.md")).unwrap();
    assert!(report.contains("`energy_j` is unavailable"), "{report}");
}

const TWICE: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "twice" {
    matrix {
        model "gemma"
        variant "short" { args "-t" 1 }
        variant "long" { args "--threads" 1 }
    }
    bench { args "{variant}" "-p" 8 "-n" 4 "-r" 3 "--repack" 0 }
    timeout 300
    report {
        table rows="variant" metric="tg4"
    }
}
"#;

/// The sample standard deviation.
#[expect(clippy::cast_precision_loss, reason = "a few repetitions")]
fn stddev(values: &[f64]) -> f64 {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|value| (value - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
}

/// Regression: "Best: `threads=1` with 224 t/s" for 224 ± 49 against 214 ± 91. Two configurations
/// that are the same (`-t 1` and `--threads 1`) on the real llama-bench: the report names a best
/// only when their spreads do not overlap, whatever the machine measured, and with one
/// repetition each (no spread at all) it names none.
#[test]
fn a_best_is_refused_within_noise() {
    let llama = Llama::get();
    let directory = project(&[("experiments/twice.kdl", TWICE)]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recorded = records(directory.path());
    assert_eq!(recorded.len(), 2);
    let [a, b] = [&recorded[0].metrics["tg4"], &recorded[1].metrics["tg4"]];
    assert_eq!((a.samples.len(), b.samples.len()), (3, 3));
    let overlap = (a.mean - b.mean).abs() <= stddev(&a.samples) + stddev(&b.samples);
    let report = std::fs::read_to_string(directory.path().join("results/twice/README.md")).unwrap();
    let verdict = report
        .lines()
        .find(|line| line.starts_with("Best: ") || line.starts_with("No clear best: "))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(verdict.contains("`variant=short`") && verdict.contains("`variant=long`"), "{verdict}");
    // Which way the machine's figures went, for whoever reads the test's output.
    eprintln!("{verdict}");
    if overlap {
        assert!(!report.contains("Best"), "{report}");
        assert!(
            verdict.starts_with("No clear best: ")
                && verdict.ends_with("overlap (± the standard deviation of the samples)."),
            "{verdict}"
        );
    } else {
        assert!(verdict.starts_with("Best: ") && verdict.contains("beyond both spreads"), "{verdict}");
    }

    // One repetition each: no spread to tell noise by, so no best, whatever the two means.
    let path = directory.path().join("experiments/twice.kdl");
    std::fs::write(&path, TWICE.replace("\"-r\" 3", "\"-r\" 1")).unwrap();
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = std::fs::read_to_string(directory.path().join("results/twice/README.md")).unwrap();
    assert!(!report.contains("Best"), "{report}");
    assert!(report.contains("are one sample each, with no spread to tell a difference from noise"), "{report}");
}

/// Adaptive rounds: a steady command cell stops at `min`, a noisy one (it alternates between
/// 100 and 140, round by round) takes rounds up to `max`, and each record and the report say how
/// many and why; the next plan finds both complete.
#[test]
fn adaptive_rounds_stop_where_the_interval_is_narrow_enough() {
    let work = tempfile::tempdir().unwrap();
    let counter = work.path().join("count");
    let manifest = format!(
        r#"experiment "steady" {{
    command {{
        args "sh" "-c" "echo value=100"
        metric "value" regex="value=([0-9]+)"
    }}
    rounds min=2 max=8 until="ci < 3%"
}}
experiment "noisy" {{
    command {{
        args "sh" "-c" "n=$(cat {counter} 2>/dev/null || echo 0); echo $((n + 1)) > {counter}; echo value=$(( 100 + 40 * (n % 2) ))"
        metric "value" regex="value=([0-9]+)"
    }}
    rounds min=2 max=8 until="value ci < 3%"
}}
"#,
        counter = counter.display()
    );
    let directory = project(&[("experiments/adaptive.kdl", &manifest)]);
    let root = directory.path();
    let run = crate::support::Bakeoff::new(root).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let records = records(root);
    let steady = records.iter().find(|record| record.experiment == "steady").unwrap();
    assert_eq!(steady.rounds.len(), 2, "{:?}", steady.rounds_stop);
    let why = steady.rounds_stop.as_deref().unwrap();
    assert!(why.starts_with("decided after 2 rounds: every interval within 3% of its mean"), "{why}");
    let noisy = records.iter().find(|record| record.experiment == "noisy").unwrap();
    assert_eq!(noisy.rounds.len(), 8, "{:?}", noisy.rounds_stop);
    let why = noisy.rounds_stop.as_deref().unwrap();
    assert!(why.starts_with("reached the most, 8 rounds: value still ±"), "{why}");
    assert_eq!(noisy.metrics["value"].round_count(), 8);
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "8", "the noisy cell ran 8 times");
    for (experiment, rounds) in [("steady", "| 2 | decided after 2 rounds"), ("noisy", "| 8 | reached the most")] {
        let report = std::fs::read_to_string(root.join(format!("results/{experiment}/README.md"))).unwrap();
        assert!(report.contains("### Rounds taken") && report.contains(rounds), "{report}");
    }
    let plan = crate::support::Bakeoff::new(root).args(["plan"]).run();
    assert!(plan.stdout.contains("2 cells: 2 cached, 0 to run"), "{}", plan.stdout);
    // What cannot work is said at check.
    for (rounds, says) in [
        (r#"rounds min=1 max=8 until="ci < 3%""#, "adaptive rounds need `min` of 2 or more"),
        ("rounds min=2 max=8", "adaptive `rounds` needs `max=` and `until=`"),
        (r#"rounds min=2 max=8 until="cv < 3%""#, "`cv` is not `ci` or `METRIC ci`"),
    ] {
        let broken = manifest.replace(r#"rounds min=2 max=8 until="ci < 3%""#, rounds);
        let directory = project(&[("experiments/adaptive.kdl", &broken)]);
        let check = crate::support::Bakeoff::new(directory.path()).args(["check"]).run();
        assert_ne!(check.code, 0, "{rounds}");
        assert!(check.stderr.contains(says), "{rounds}: {}", check.stderr);
    }
}

/// The real llama-bench in adaptive rounds, against the report's baseline: prompt processing
/// with a batch of 8 against 512 differs well beyond noise, so both cells stop before their
/// `max` (an interval of 1% alone would rarely stop them), and say why. One thread: on a
/// 2-core VM two threads now and then wait on a vCPU the host took away (130 t/s among 580s,
/// llama-bench alone), one thread never did (315–320 t/s, 8 runs of 8).
#[test]
fn a_real_llama_bench_pair_stops_once_its_verdict_is_reached() {
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "batch" {
    matrix {
        model "gemma"
        batch 8 512
    }
    bench { args "-t" 1 "-p" 64 "-n" 0 "-b" "{batch}" "-ub" "{batch}" "-r" 2 }
    rounds min=2 max=8 until="pp64 ci < 1%"
    report { baseline batch="512" }
}
"#;
    let directory = project(&[("experiments/batch.kdl", manifest)]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let records = records(directory.path());
    assert_eq!(records.len(), 2);
    for record in &records {
        assert_eq!(record.status, Status::Ok);
        let why = record.rounds_stop.as_deref().unwrap_or_else(|| panic!("{} has no stop", record.cell));
        assert!(record.rounds.len() < 8 && why.starts_with("decided after"), "{} rounds: {why}", record.rounds.len());
    }
    let baseline = records.iter().find(|record| record.axes["batch"] == "512").unwrap();
    let small = records.iter().find(|record| record.axes["batch"] == "8").unwrap();
    assert!(baseline.metrics["pp64"].mean > small.metrics["pp64"].mean);
    let said = |record: &bakeoff::store::CellRecord| record.rounds_stop.clone().unwrap_or_default();
    assert!(
        said(baseline).contains("differs from") || said(small).contains("differs from"),
        "no verdict against the baseline stopped either: {} / {}",
        said(baseline),
        said(small)
    );
}
