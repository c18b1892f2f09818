//! `bakeoff run` against the real llama-bench and llama-speculative on the Gemma model, a
//! stand-in `toolbox` that really executes the command, and processes that fail, crash, hang
//! or lose their parent.

use std::time::{Duration, Instant};

use bakeoff::store::Status;
use regex::Regex;

use crate::support::{Bakeoff, Llama, copy_quickstart, interrupt, processes_matching, project, records};

#[test]
fn quickstart_runs_real_llama_bench_then_nothing_then_only_the_edited_cell() {
    let llama = Llama::get();
    let directory = tempfile::tempdir().unwrap();
    copy_quickstart(directory.path());

    let first = llama.bakeoff(directory.path()).args(["run", "quickstart"]).run();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.stdout, "2 cells: 2 ran (2 ok, 0 failed), 0 cached, 0 blocked\n");
    let stored = records(directory.path());
    assert_eq!(stored.len(), 2);
    for record in &stored {
        assert_eq!(record.status, Status::Ok, "{record:?}");
        assert_eq!(record.metrics.keys().collect::<Vec<_>>(), ["peak_rss_bytes", "pp64", "tg16"]);
        for (name, metric) in record.metrics.iter().filter(|(name, _)| *name != "peak_rss_bytes") {
            assert!(metric.mean > 0.0 && metric.unit == "t/s" && metric.samples.len() == 3, "{name}: {metric:?}");
        }
        // llama-bench's own JSON records are kept as they were.
        assert_eq!(record.raw.len(), 2);
        assert_eq!(record.raw[0]["model_filename"], llama.model.display().to_string());
        assert_eq!(record.raw[0]["n_threads"].as_u64().unwrap().to_string(), record.axes["threads"]);
        let log = std::fs::read_to_string(directory.path().join(format!("results/logs/{}.log", record.hash))).unwrap();
        assert!(log.starts_with(&format!("$ {}", llama.bin_dir.join("llama-bench").display())), "{log}");
    }

    let second = llama.bakeoff(directory.path()).args(["run", "quickstart"]).run();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout, "2 cells: 0 ran (0 ok, 0 failed), 2 cached, 0 blocked\n");

    let manifest = directory.path().join("experiments/quickstart.kdl");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("threads 1 2", "threads 1 3");
    std::fs::write(&manifest, text).unwrap();
    let third = llama.bakeoff(directory.path()).args(["run", "quickstart", "--no-progress"]).run();
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(third.stdout, "2 cells: 1 ran (1 ok, 0 failed), 1 cached, 0 blocked\n");
    // The time left is estimated from the earlier result of the cell whose value was edited.
    let eta = regex::Regex::new(
        r"\[1/1\] running quickstart/model=gemma-3-270m-q4,toolbox=host,threads=3/bench, about \d+ s left",
    )
    .unwrap();
    assert!(eta.is_match(&third.stderr), "{}", third.stderr);
    assert_eq!(records(directory.path()).len(), 3);
}

#[test]
fn a_command_workload_reads_llama_speculative_metrics() {
    let llama = Llama::get();
    let directory = project(&[
        ("experiments/models.kdl", "model \"gemma\" { file \"gemma-3-270m-q4_k_m.gguf\" }\n"),
        (
            "experiments/speculative.kdl",
            r#"import "models.kdl"
experiment "speculative" {
    matrix {
        model "gemma"
        variant "draft" { args "-md" "{model:gemma}" "--spec-draft-n-max" 4 }
    }
    command {
        args "llama-speculative" "-m" "{model}" "{variant}" "-p" "Once upon a time" "-n" 16 "-t" 2 "-nr"
        metric "accept_pct" regex="accept\\s*=\\s*([0-9.]+)%"
        metric "decode_tps" regex="decoded .* speed:\\s*([0-9.]+) t/s"
    }
    timeout 120
}
"#,
        ),
    ]);
    let outcome = llama.bakeoff(directory.path()).arg("run").run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let stored = records(directory.path());
    assert_eq!(stored.len(), 1);
    let record = &stored[0];
    assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
    // The draft is the target model itself, so every drafted token is accepted.
    assert!((record.metrics["accept_pct"].mean - 100.0).abs() < 1e-9, "{:?}", record.metrics);
    assert!(record.metrics["decode_tps"].mean > 0.0);
}

const FAULTS: &str = r#"experiment "faults" {
    matrix {
        variant "ok" { args "sh" "-c" "echo value=42" }
        variant "exit" { args "sh" "-c" "echo boom >&2; exit 3" }
        variant "segv" { args "sh" "-c" "kill -SEGV $$" }
        variant "hang" { args "sh" "-c" "sleep 31.4159 & sleep 31.4159; wait" }
        variant "silent" { args "sh" "-c" "echo nothing to see" }
    }
    command {
        args "{variant}"
        metric "value" regex="value=([0-9]+)"
    }
    timeout 2
}
"#;

#[test]
fn failures_are_results_and_nothing_is_left_running() {
    let directory = project(&[("experiments/faults.kdl", FAULTS)]);
    let outcome = Bakeoff::new(directory.path()).args(["run", "--grace", "1"]).run();
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "5 cells: 5 ran (1 ok, 4 failed), 0 cached, 0 blocked\n");
    assert!(outcome.stderr.contains("4 cell(s) failed"), "{}", outcome.stderr);
    let stored = records(directory.path());
    let by_variant = |variant: &str| stored.iter().find(|record| record.axes["variant"] == variant).unwrap();
    assert_eq!(by_variant("ok").status, Status::Ok);
    assert!((by_variant("ok").metrics["value"].mean - 42.0).abs() < 1e-9);
    let exit = by_variant("exit").failure.clone().unwrap();
    assert_eq!((exit.reason.as_str(), exit.exit_code), ("exit code 3", Some(3)));
    assert!(exit.log_tail.contains(&"boom".to_owned()), "{:?}", exit.log_tail);
    let segv = by_variant("segv").failure.clone().unwrap();
    assert_eq!((segv.reason.as_str(), segv.signal), ("killed by signal 11 (SIGSEGV)", Some(11)));
    assert_eq!(by_variant("hang").status, Status::TimedOut);
    assert_eq!(by_variant("hang").failure.clone().unwrap().reason, "timed out after 2 s");
    assert_eq!(
        by_variant("silent").failure.clone().unwrap().reason,
        "metric `value`: regex `value=([0-9]+)` found nothing in the output"
    );
    // The hanging cell's background `sleep` went with its process group.
    assert_eq!(processes_matching("sleep 31.4159"), 0);

    let again = Bakeoff::new(directory.path()).arg("plan").run();
    assert!(again.stdout.ends_with("5 cells: 1 cached, 0 to run, 0 blocked, 4 failed before\n"), "{}", again.stdout);
}

#[test]
fn killing_bakeoff_loses_only_the_cell_in_flight() {
    let directory = project(&[(
        "experiments/slow.kdl",
        r#"experiment "slow" {
    matrix { seconds "1.6180" "1.6181" "1.6182" }
    command { args "sleep" "{seconds}" }
}
"#,
    )]);
    let mut child = Bakeoff::new(directory.path()).args(["run", "--no-progress"]).spawn();
    let started = Instant::now();
    while records(directory.path()).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "the first cell never finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(processes_matching("sleep 1.618"), 0, "a cell outlived bakeoff");
    assert_eq!(records(directory.path()).len(), 1);

    let resumed = Bakeoff::new(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.stdout, "3 cells: 2 ran (2 ok, 0 failed), 1 cached, 0 blocked\n");
}

#[test]
fn a_different_llama_cpp_build_is_refused_here_and_recorded_when_pinned_elsewhere() {
    let llama = Llama::get();
    let directory = tempfile::tempdir().unwrap();
    copy_quickstart(directory.path());
    let lock = llama.bakeoff(directory.path()).arg("lock").run();
    assert_eq!(lock.code, 0, "{}", lock.stderr);
    assert!(
        lock.stdout.contains("toolbox `host`: (none) → host (no image) digest (not inspected) llama.cpp "),
        "{}",
        lock.stdout
    );
    let path = directory.path().join("bakeoff.lock");
    let mut pinned: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let built = pinned["toolboxes"]["host"]["llama_cpp"].as_str().unwrap().to_owned();
    pinned["toolboxes"]["host"]["llama_cpp"] = "b4000 (0123abc)".into();
    std::fs::write(&path, serde_json::to_string_pretty(&pinned).unwrap()).unwrap();

    let refused = llama.bakeoff(directory.path()).args(["plan", "quickstart"]).run();
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    let stderr = crate::support::unwrapped(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "toolbox `host` has another llama.cpp build than bakeoff.lock: locked b4000 (0123abc), found {built}"
        )),
        "{stderr}"
    );
    let accepted = llama.bakeoff(directory.path()).arg("lock").run();
    assert!(
        accepted.stdout.contains("llama.cpp b4000 (0123abc) (pinned on ")
            && accepted.stdout.contains(") → host (no image) digest (not inspected) llama.cpp"),
        "{}",
        accepted.stdout
    );
    assert_eq!(llama.bakeoff(directory.path()).args(["plan", "quickstart"]).run().code, 0);

    // Pinned on another machine, the same difference is that machine's build, not an error: the
    // plan shows it and each result records it.
    let mut pinned: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    pinned["toolboxes"]["host"]["llama_cpp"] = "b4000 (0123abc)".into();
    pinned["toolboxes"]["host"]["pinned_on"] = serde_json::json!({ "id": "00000000000000aa", "name": "strix-1" });
    std::fs::write(&path, serde_json::to_string_pretty(&pinned).unwrap()).unwrap();
    let drift =
        format!("toolbox `host`: llama.cpp build {built} here, b4000 (0123abc) in bakeoff.lock (pinned on strix-1)");
    let plan = llama.bakeoff(directory.path()).args(["plan", "quickstart"]).run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.starts_with(&format!("differs from lock: {drift}\n")), "{}", plan.stdout);
    let run = llama.bakeoff(directory.path()).args(["run", "quickstart", "--only", "threads=1"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let records = crate::support::records(directory.path());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].fingerprint.toolbox.llama_cpp.as_deref(), Some(built.as_str()));
    assert_eq!(records[0].lock_drift.len(), 1);
    assert_eq!(records[0].lock_drift[0].to_string(), drift);
    // bakeoff lock on this host takes the pin over.
    let taken = llama.bakeoff(directory.path()).arg("lock").run();
    assert!(taken.stdout.contains("(pinned on strix-1) → host (no image)"), "{}", taken.stdout);
    let relocked: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_ne!(relocked["toolboxes"]["host"]["pinned_on"]["id"], "00000000000000aa");
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_stops_the_cell_in_flight_and_a_second_kills_at_once() {
    let directory = project(&[(
        "experiments/long.kdl",
        r#"experiment "long" {
    matrix { seconds "27.1828" "27.1829" }
    command { args "sleep" "{seconds}" }
}
experiment "stubborn" {
    matrix { n 1 }
    command { args "sh" "-c" "trap '' TERM; echo stubborn-27; while :; do :; done" }
}
"#,
    )]);
    let mut first = Bakeoff::new(directory.path()).args(["run", "long", "--no-progress"]).spawn();
    wait_for("the first cell to start", || processes_matching("sleep 27.182") == 1);
    interrupt(&first);
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(processes_matching("sleep 27.182"), 0);
    assert!(records(directory.path()).is_empty(), "an interrupted cell has no result");

    // A cell that ignores SIGTERM would take the whole grace period; a second Ctrl-C ends it.
    let mut second = Bakeoff::new(directory.path()).args(["run", "stubborn", "--no-progress", "--grace", "60"]).spawn();
    wait_for("the stubborn cell to start", || processes_matching("stubborn-27") == 1);
    let started = Instant::now();
    interrupt(&second);
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&second);
    assert_eq!(second.wait().unwrap().code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(10), "the second Ctrl-C did not kill at once");
    assert_eq!(processes_matching("stubborn-27"), 0);

    // SIGTERM stops a run as Ctrl-C does, and the exit code says which signal: 128 + 15. (It
    // was 130 for both.)
    let mut third = Bakeoff::new(directory.path()).args(["run", "long", "--no-progress"]).spawn();
    wait_for("the first cell to start again", || processes_matching("sleep 27.182") == 1);
    // SAFETY: kill(2) on a child we started and have not yet waited for.
    unsafe {
        libc::kill(i32::try_from(third.id()).unwrap(), libc::SIGTERM);
    }
    assert_eq!(third.wait().unwrap().code(), Some(143));
    assert_eq!(processes_matching("sleep 27.182"), 0);
}

#[test]
fn two_runs_on_one_store_take_turns() {
    let directory = project(&[(
        "experiments/turns.kdl",
        r#"experiment "turns" {
    matrix { seconds "1.4142" }
    command { args "sleep" "{seconds}" }
}
"#,
    )]);
    let mut first = Bakeoff::new(directory.path()).args(["run", "--no-progress"]).spawn();
    wait_for("the first run to start its cell", || processes_matching("sleep 1.4142") == 1);
    let second = Bakeoff::new(directory.path()).args(["run", "--no-progress"]).run();
    assert!(first.wait().unwrap().success());
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stderr.contains(&format!("waiting: bakeoff run pid {} holds", first.id())), "{}", second.stderr);
    // The second run planned after the first finished, so it found the cell cached.
    assert_eq!(second.stdout, "1 cell: 0 ran (0 ok, 0 failed), 1 cached, 0 blocked\n");
}

#[test]
fn a_failed_attempt_is_retried_and_the_attempts_are_recorded() {
    let directory = project(&[(
        "experiments/flaky.kdl",
        r#"experiment "flaky" {
    matrix { n 1 }
    command {
        args "sh" "-c" "if [ -e attempted ]; then echo value=7; else touch attempted; exit 1; fi"
        metric "value" regex="value=([0-9]+)"
    }
    retries 1
}
"#,
    )]);
    let outcome = Bakeoff::new(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("retrying (2/2) flaky/n=1,toolbox=host/command"), "{}", outcome.stderr);
    let stored = records(directory.path());
    assert_eq!((stored[0].status, stored[0].attempts), (Status::Ok, 2));
}

/// A retry that fails the same way as the attempt before it (the same exit status and the same
/// error line) is not retried again: llama-bench refusing an argument at once, with `retries 3`,
/// runs twice rather than four times. A timeout may be the machine's moment: it uses every
/// retry.
#[test]
fn a_retry_that_fails_the_same_way_stops_but_a_timeout_uses_every_retry() {
    let llama = Llama::get();
    let directory = project(&[(
        "experiments/retries.kdl",
        r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "refused" {
    matrix { model "gemma" }
    bench { args "-ctk" "nonsense" "-p" 8 "-n" 2 "-r" 1 }
    retries 3
}
experiment "slow" {
    matrix { n 1 }
    command {
        args "sleep" "30"
        metric "never" regex="never=([0-9]+)"
    }
    timeout 1
    retries 1
}
"#,
    )]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress", "--grace", "1"]).run();
    assert_eq!(run.code, 4, "{}", run.stderr);
    let stored = records(directory.path());
    let refused = stored.iter().find(|record| record.experiment == "refused").unwrap();
    assert_eq!((refused.status, refused.attempts), (Status::Failed, 2), "{:?}", refused.failure);
    assert_eq!(
        refused.failure.as_ref().unwrap().reason,
        "exit code 1: error: invalid parameter for argument: -ctk; failed the same way twice: not retried further"
    );
    assert_eq!(run.stderr.matches("retrying (").count(), 2, "once each: {}", run.stderr);
    let slow = stored.iter().find(|record| record.experiment == "slow").unwrap();
    assert_eq!((slow.status, slow.attempts), (Status::TimedOut, 2), "{:?}", slow.failure);
    assert_eq!(slow.failure.as_ref().unwrap().reason, "timed out after 1 s");

    // Where the time went: two timeouts of a second each are failing time, said in the run's
    // time line and in the report.
    let time = run.stderr.lines().find(|line| line.starts_with("time: ")).expect("a time line");
    let failing = Regex::new(r"failing cells (\d+\.\d) s").unwrap();
    let seconds: f64 = failing.captures(time).unwrap_or_else(|| panic!("{time}"))[1].parse().unwrap();
    assert!((2.0..10.0).contains(&seconds), "{time}");
    assert!(time.contains("; measuring is "), "{time}");
    let report = std::fs::read_to_string(directory.path().join("results/slow/README.md")).unwrap();
    let row = report.lines().skip_while(|line| *line != "### Where the time went").nth(4).unwrap_or("");
    assert!(row.ends_with("(100%) |") && row.contains("| 0 ms (0%) | 0 ms (0%) |"), "{report}");
}

/// `stop-after 3`: a toolbox whose cells all fail (its llama-bench refuses `-ctk nonsense`)
/// fails three in a row, and its other three are skipped with the reason, while the other
/// toolbox's cells run; the summary and the exit code say so, and the next plan runs the
/// skipped ones.
#[test]
fn stop_after_skips_a_broken_toolboxs_other_cells() {
    let llama = Llama::get();
    let broken = tempfile::tempdir().unwrap();
    // The real llama-bench, given a cache type it refuses whenever it is given a model.
    let script = format!(
        "#!/bin/sh\ncase \" $* \" in *\" -m \"*) set -- -ctk nonsense \"$@\";; esac\nexec '{}' \"$@\"\n",
        llama.bin_dir.join("llama-bench").display()
    );
    std::fs::write(broken.path().join("llama-bench"), script).unwrap();
    std::fs::set_permissions(broken.path().join("llama-bench"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let manifest = format!(
        r#"toolbox "broken" {{
    runner "host"
    bin-dir "{}"
}}
model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
experiment "streak" {{
    matrix {{
        model "gemma"
        toolbox "broken" "host"
        n 1 2 3 4 5 6
    }}
    exclude toolbox="host" n=3
    exclude toolbox="host" n=4
    exclude toolbox="host" n=5
    exclude toolbox="host" n=6
    bench {{ args "-p" 8 "-n" "{{n}}" "-r" 1 "--repack" 0 }}
    stop-after 3
}}
"#,
        broken.path().display()
    );
    let directory = project(&[("experiments/streak.kdl", &manifest)]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress", "--no-load-groups"]).run();
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(run.stdout, "8 cells: 5 ran (2 ok, 3 failed), 0 cached, 0 blocked, 3 skipped\n", "{}", run.stderr);
    let last = "exit code 1: error: invalid parameter for argument: -ctk";
    assert!(
        run.stderr.contains(&format!(
            "toolbox `broken` failed 3 cells in a row (last: {last}); its other 3 cells were skipped: fix it and rerun"
        )),
        "{}",
        run.stderr
    );
    let stored = records(directory.path());
    let of = |status: Status| stored.iter().filter(|record| record.status == status).count();
    assert_eq!((of(Status::Failed), of(Status::Skipped), of(Status::Ok)), (3, 3, 2));
    for skipped in stored.iter().filter(|record| record.status == Status::Skipped) {
        assert_eq!(skipped.fingerprint.toolbox.name, "broken");
        assert_eq!(
            skipped.failure.as_ref().unwrap().reason,
            format!("skipped: toolbox `broken` failed 3 cells in a row (last: {last}): fix it and rerun")
        );
    }
    let plan = llama.bakeoff(directory.path()).args(["plan"]).run();
    assert_eq!(plan.stdout.matches("(skipped last time: skipped: toolbox `broken`").count(), 3, "{}", plan.stdout);
    assert!(plan.stdout.ends_with("8 cells: 2 cached, 3 to run, 0 blocked, 3 failed before\n"), "{}", plan.stdout);
    // The report says how many were skipped.
    let report = std::fs::read_to_string(directory.path().join("results/streak/README.md")).unwrap();
    assert!(report.contains("3 skipped"), "{report}");
}

#[test]
fn a_changed_model_reruns_its_cells_only_after_the_lock_accepts_it() {
    let directory = project(&[
        ("models/tiny.gguf", "GGUF stand-in, version one"),
        (
            "experiments/size.kdl",
            r#"model "tiny" { file "tiny.gguf" }
experiment "size" {
    matrix { model "tiny" }
    command {
        args "wc" "-c" "{model}"
        metric "bytes" regex="^([0-9]+)"
    }
}
"#,
        ),
    ]);
    let models = directory.path().join("models");
    let bakeoff = || {
        let mut bakeoff = Bakeoff::new(directory.path());
        bakeoff.arg("--models").arg(&models).args(["run", "--no-progress"]);
        bakeoff
    };
    assert_eq!(Bakeoff::new(directory.path()).arg("--models").arg(&models).arg("lock").run().code, 0);
    assert_eq!(bakeoff().run().stdout, "1 cell: 1 ran (1 ok, 0 failed), 0 cached, 0 blocked\n");
    assert_eq!(bakeoff().run().stdout, "1 cell: 0 ran (0 ok, 0 failed), 1 cached, 0 blocked\n");

    std::fs::write(models.join("tiny.gguf"), "GGUF stand-in, version two, longer").unwrap();
    let refused = bakeoff().run();
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "nothing ran");
    assert!(crate::support::unwrapped(&refused.stderr).contains("does not match bakeoff.lock"), "{}", refused.stderr);

    assert_eq!(Bakeoff::new(directory.path()).arg("--models").arg(&models).arg("lock").run().code, 0);
    assert_eq!(bakeoff().run().stdout, "1 cell: 1 ran (1 ok, 0 failed), 0 cached, 0 blocked\n");
    let mut sizes: Vec<f64> = records(directory.path()).iter().map(|record| record.metrics["bytes"].mean).collect();
    sizes.sort_by(f64::total_cmp);
    assert_eq!(sizes, [26.0, 34.0]);
}

/// Once podman-toolbox was installed on the test machine, this test found the real `toolbox`
/// on `/usr/bin`: the tool is now made missing with a PATH that has nothing but `true`.
#[test]
fn a_missing_container_tool_blocks_the_cells_and_says_how_to_install_it() {
    let directory = project(&[(
        "experiments/boxed.kdl",
        r#"toolbox "llama-vulkan-radv" {
    runner "toolbox"
    image "docker.io/kyuz0/amd-strix-halo-toolboxes:vulkan-radv"
}
experiment "boxed" {
    matrix { toolbox "llama-vulkan-radv" }
    command { args "true" }
}
"#,
    )]);
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(which("true"), bin.path().join("true")).unwrap();
    let reason = "toolbox `llama-vulkan-radv`: `toolbox` is not installed: install toolbox (Fedora: `dnf install \
                  toolbox`, Debian: `apt install podman-toolbox`); then `bakeoff toolbox create` creates its container";
    let plan = Bakeoff::new(directory.path()).env("PATH", bin.path()).arg("plan").run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        crate::support::without_short_hashes(&plan.stdout)
            .contains(&format!("blocked       boxed/toolbox=llama-vulkan-radv/command  {reason}\n")),
        "{}",
        plan.stdout
    );
    let outcome = Bakeoff::new(directory.path()).env("PATH", bin.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let stored = records(directory.path());
    assert_eq!(stored[0].status, Status::Blocked);
    assert_eq!(stored[0].failure.clone().unwrap().reason, reason);
}

fn which(program: &str) -> std::path::PathBuf {
    ["/usr/bin", "/bin"]
        .iter()
        .map(|directory| std::path::Path::new(directory).join(program))
        .find(|path| path.exists())
        .unwrap()
}

/// A run interrupted after a cell's first round says so in its summary: the round is kept and
/// counted, not reported as `0 ran` with nothing else.
#[test]
fn an_interrupted_run_counts_the_rounds_it_recorded() {
    let directory = project(&[]);
    let count = directory.path().join("count");
    let manifest = format!(
        r#"experiment "twice" {{
    matrix {{ n 1 }}
    command {{
        args "sh" "-c" "n=$(cat {count} 2>/dev/null || echo 0); echo $((n+1)) > {count}; [ $n -ge 1 ] && sleep 27.3$n; echo value=4"
        metric "value" regex="value=([0-9]+)"
    }}
    rounds 2
}}
"#,
        count = count.display()
    );
    std::fs::create_dir_all(directory.path().join("experiments")).unwrap();
    std::fs::write(directory.path().join("experiments/twice.kdl"), manifest).unwrap();
    let child = Bakeoff::new(directory.path())
        .args(["run", "--no-progress"])
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("round 2 to start", || processes_matching("sleep 27.31") == 1);
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 cell: 0 ran (0 ok, 0 failed), 0 cached, 0 blocked, 1 partly measured"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let [record] = &records(directory.path())[..] else { panic!("one record") };
    assert_eq!(record.rounds.len(), 1, "round 1 is kept");
    assert_eq!(processes_matching("sleep 27.31"), 0);
}
