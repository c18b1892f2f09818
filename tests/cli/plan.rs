//! `bakeoff plan` on this repository's experiments: counts, blocked reasons, and exactly the
//! cells an edit affects, with the fingerprint field that changed.

use std::collections::BTreeSet;

use regex::Regex;

use crate::support::{Bakeoff, Scratch, fixture, project, without_hashes};

fn will_run(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("will run"))
        .map(|rest| rest.split_whitespace().nth(1).unwrap().to_owned())
        .collect()
}

#[test]
// strix-1 kept a kernel older than 6.18.4, which ROCm 6.4.4 needs; strix-2 has a newer one and
// the linux-firmware that breaks ROCm: its ROCm cells are blocked, with both reasons.
fn two_hosts_one_with_the_broken_rocm_firmware() {
    let scratch = Scratch::new();
    let strix_1 =
        scratch.bakeoff().args(["--host-facts", fixture("hosts/strix-1.json").to_str().unwrap(), "plan"]).run();
    assert_eq!(strix_1.code, 0, "{}", strix_1.stderr);
    // Quality cells that differ only in depth are one measurement each.
    assert!(
        strix_1
            .stdout
            .ends_with("84 cells: 0 cached, 66 to run (and 18 with the same inputs as one of them), 0 blocked\n"),
        "{}",
        strix_1.stdout
    );

    let strix_2 =
        scratch.bakeoff().args(["--host-facts", fixture("hosts/strix-2.json").to_str().unwrap(), "plan"]).run();
    assert_eq!(strix_2.code, 0, "{}", strix_2.stderr);
    // Six ROCm configurations, each with its bench and its quality cell.
    assert!(
        strix_2
            .stdout
            .ends_with("84 cells: 0 cached, 58 to run (and 14 with the same inputs as one of them), 12 blocked\n"),
        "{}",
        strix_2.stdout
    );
    let blocked: Vec<&str> = strix_2.stdout.lines().filter(|line| line.starts_with("blocked")).collect();
    assert_eq!(blocked.len(), 12);
    for line in blocked {
        assert!(line.contains("toolbox=llama-rocm-6.4.4"), "{line}");
        assert!(
            line.ends_with(
                "toolbox `llama-rocm-6.4.4` requires firmware != 20251125, host has `20251125`: \
                 linux-firmware 20251125 breaks ROCm; toolbox `llama-rocm-6.4.4` requires kernel < 6.18.4, host has \
                 `6.18.5-200.fc43.x86_64`: kernel 6.18.4+ breaks ROCm; only the nightly images carry the fix"
            ),
            "{line}"
        );
    }
    insta::assert_snapshot!("plan_strix_2", strix_2.stdout);
}

#[test]
fn cached_cells_stay_cached_and_an_edit_reruns_exactly_the_cells_it_touches() {
    let scratch = Scratch::new();
    let facts = fixture("hosts/strix-1.json");
    let facts_arg = facts.to_str().unwrap();
    assert_eq!(scratch.seed_results(&facts, &[]), 84);
    let cached = scratch.bakeoff().args(["--host-facts", facts_arg, "plan"]).run();
    assert_eq!(cached.code, 0, "{}", cached.stderr);
    assert!(cached.stdout.ends_with("84 cells: 84 cached, 0 to run, 0 blocked\n"), "{}", cached.stdout);

    scratch.edit("experiments/glm-flash-quant.kdl", "depth 0 32768", "depth 0 16384");
    let edited = scratch.bakeoff().args(["--host-facts", facts_arg, "plan"]).run();
    assert_eq!(edited.code, 0, "{}", edited.stderr);
    // Only bench cells: the quality args do not use `depth`, so its quality cells stay cached.
    assert!(edited.stdout.ends_with("84 cells: 76 cached, 8 to run, 0 blocked\n"), "{}", edited.stdout);
    let expected: BTreeSet<String> = [
        "model=glm-4.7-flash-q8,toolbox=llama-vulkan-radv,depth=16384,fa=1,ctk=f16",
        "model=glm-4.7-flash-q8,toolbox=llama-vulkan-radv,depth=16384,fa=0,ctk=f16",
        "model=glm-4.7-flash-q8,toolbox=llama-rocm-6.4.4,depth=16384,fa=0,ctk=f16",
        "model=glm-4.7-flash-bf16,toolbox=llama-vulkan-radv,depth=16384,fa=1,ctk=f16",
        "model=glm-4.7-flash-bf16,toolbox=llama-vulkan-radv,depth=16384,fa=0,ctk=f16",
        "model=glm-4.7-flash-bf16,toolbox=llama-rocm-6.4.4,depth=16384,fa=0,ctk=f16",
        "model=glm-4.7-flash-reap-q8,toolbox=llama-vulkan-radv,depth=16384,fa=1,ctk=f16",
        "model=glm-4.7-flash-q8,toolbox=llama-vulkan-radv,depth=16384,fa=1,ctk=q8_0",
    ]
    .iter()
    .map(|axes| format!("glm-flash-quant/{axes}/bench"))
    .collect();
    assert_eq!(will_run(&edited.stdout), expected);
    for line in edited.stdout.lines().filter(|line| line.starts_with("will run")) {
        assert!(line.contains("(changed: -d 32768 → 16384, axes.depth 32768 → 16384;"), "{line}");
        assert!(line.contains("nearest earlier result: glm-flash-quant/"), "{line}");
        assert!(line.contains("depth=32768"), "{line}");
    }
}

#[test]
fn another_host_reruns_every_cell_naming_the_facts_that_differ() {
    let scratch = Scratch::new();
    scratch.seed_results(&fixture("hosts/strix-1.json"), &["quickstart"]);
    let other = scratch
        .bakeoff()
        .args(["--host-facts", fixture("hosts/strix-2.json").to_str().unwrap(), "plan", "quickstart"])
        .run();
    assert_eq!(other.code, 0, "{}", other.stderr);
    assert!(other.stdout.ends_with("2 cells: 0 cached, 2 to run, 0 blocked\n"), "{}", other.stdout);
    // The id comes from the facts that name the machine (name, CPU, GPUs, memory), so it differs too.
    let changed = Regex::new(
        r"\(changed: host\.firmware 20260110 → 20251125, host\.id [0-9a-f]{16} → [0-9a-f]{16}, host\.kernel 6\.18\.3-200\.fc43\.x86_64 → 6\.18\.5-200\.fc43\.x86_64\)",
    )
    .unwrap();
    assert_eq!(changed.find_iter(&other.stdout).count(), 2, "{}", other.stdout);
}

#[test]
fn a_changed_model_is_refused_until_the_lock_accepts_it() {
    let scratch = Scratch::new();
    let facts = fixture("hosts/strix-1.json");
    let facts_arg = facts.to_str().unwrap();
    let lock = scratch.bakeoff().arg("lock").run();
    assert_eq!(lock.code, 0, "{}", lock.stderr);
    assert!(lock.stdout.contains("model `gemma-3-270m-q4`: (none) → sha256 "), "{}", lock.stdout);
    scratch.seed_results(&facts, &["quickstart"]);

    // Another GGUF file under the same name: a header with no tensors, and other bytes.
    let mut requantized = b"GGUF\x03\x00\x00\x00".to_vec();
    requantized.extend([0u8; 16]);
    requantized.extend(b"requantized!");
    std::fs::write(scratch.models().join("gemma-3-270m-q4_k_m.gguf"), requantized).unwrap();
    let refused = scratch.bakeoff().args(["--host-facts", facts_arg, "plan", "quickstart"]).run();
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stdout.is_empty());
    let stderr = without_hashes(&crate::support::unwrapped(&refused.stderr));
    assert!(stderr.contains("model `gemma-3-270m-q4` at `[PROJECT]/models/gemma-3-270m-q4_k_m.gguf` does not match bakeoff.lock: locked sha256 [HASH] (40 bytes), found sha256 [HASH] (36 bytes)"), "{stderr}");
    assert!(stderr.contains("accept it with `bakeoff lock`"), "{stderr}");

    let accepted = scratch.bakeoff().arg("lock").run();
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    assert!(without_hashes(&accepted.stdout).contains("model `gemma-3-270m-q4`: sha256 [HASH] (40 bytes, gemma-3-270m-q4_k_m.gguf) → sha256 [HASH] (36 bytes, gemma-3-270m-q4_k_m.gguf)"), "{}", accepted.stdout);
    let rerun = scratch.bakeoff().args(["--host-facts", facts_arg, "plan", "quickstart"]).run();
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert!(rerun.stdout.ends_with("2 cells: 0 cached, 2 to run, 0 blocked\n"), "{}", rerun.stdout);
    assert!(rerun.stdout.contains("(changed: -m sha256:"), "{}", rerun.stdout);
}

#[test]
fn failed_cells_are_not_rerun_unless_asked() {
    let scratch = Scratch::new();
    let facts = fixture("hosts/strix-1.json");
    let facts_arg = facts.to_str().unwrap();
    scratch.seed_results(&facts, &["quickstart"]);
    let plan = scratch.bakeoff().args(["--host-facts", facts_arg, "plan", "quickstart", "--json"]).run();
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let hash = json["cells"][0]["hash"].as_str().unwrap().to_owned();
    let store = bakeoff::store::Store::new(scratch.path().join("results"));
    let mut record = store.read(&hash).unwrap().unwrap();
    record.status = bakeoff::store::Status::Failed;
    record.failure = Some(bakeoff::store::Failure {
        reason: "exit code 1".to_owned(),
        exit_code: Some(1),
        signal: None,
        log_tail: vec!["error: failed to load model".to_owned()],
    });
    store.write(&record).unwrap();

    let plan = scratch.bakeoff().args(["--host-facts", facts_arg, "plan", "quickstart"]).run();
    let plan_text = crate::support::without_short_hashes(&plan.stdout);
    assert!(plan_text.contains("failed before quickstart/model=gemma-3-270m-q4,toolbox=host,threads=1/bench  exit code 1 (rerun with --retry-failed)"), "{plan_text}");
    assert!(plan.stdout.ends_with("2 cells: 1 cached, 0 to run, 0 blocked, 1 failed before\n"), "{}", plan.stdout);
    let retry = scratch.bakeoff().args(["--host-facts", facts_arg, "plan", "quickstart", "--retry-failed"]).run();
    assert!(retry.stdout.contains("(retrying: exit code 1)"), "{}", retry.stdout);
    let forced = scratch
        .bakeoff()
        .args(["--host-facts", facts_arg, "plan", "quickstart", "--force", "--only", "threads=2"])
        .run();
    assert!(
        crate::support::without_short_hashes(&forced.stdout)
            .contains("will run      quickstart/model=gemma-3-270m-q4,toolbox=host,threads=2/bench  (forced)"),
        "{}",
        forced.stdout
    );
    assert_eq!(forced.stdout.lines().count(), 2, "only the selected cell is planned: {}", forced.stdout);
    assert!(forced.stdout.ends_with("1 cell: 0 cached, 1 to run, 0 blocked\n"), "{}", forced.stdout);
    let only = scratch
        .bakeoff()
        .args(["--host-facts", facts_arg, "plan", "--only", "toolbox=llama-rocm-*", "--only", "fa=0"])
        .run();
    // The ROCm quality cells read the base of the reference on Vulkan, which joins the plan.
    assert!(
        only.stdout.ends_with("13 cells: 0 cached, 9 to run (and 4 with the same inputs as one of them), 0 blocked\n"),
        "{}",
        only.stdout
    );
    let bad = scratch.bakeoff().args(["plan", "--force", "--only", "threads"]).run();
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("`threads` is not an `axis=value` selector"), "{}", bad.stderr);
}

#[test]
fn json_and_dot_outputs() {
    let scratch = Scratch::new();
    let facts = fixture("hosts/strix-1.json");
    let json = scratch.bakeoff().args(["--host-facts", facts.to_str().unwrap(), "plan", "quickstart", "--json"]).run();
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["summary"]["cells"], 2);
    assert_eq!(value["summary"]["to_run"], 2);
    assert_eq!(value["cells"][1]["id"], "quickstart/model=gemma-3-270m-q4,toolbox=host,threads=2/bench");
    assert_eq!(value["cells"][1]["decision"]["status"], "run");
    assert_eq!(value["cells"][1]["decision"]["why"], "new");
    assert_eq!(value["cells"][1]["hash"].as_str().unwrap().len(), 64);

    let dot = scratch.bakeoff().args(["--host-facts", facts.to_str().unwrap(), "plan", "quickstart", "--dot"]).run();
    assert_eq!(dot.code, 0, "{}", dot.stderr);
    insta::assert_snapshot!("plan_quickstart_dot", dot.stdout);
}

/// The graph `run` walks: the quickstart's two thread counts as one llama-bench load group, and
/// the prompt-cache experiment's two workloads per thread count on one server each (start, its
/// cells, stop).
#[test]
fn the_dot_graph_has_load_groups_and_server_steps() {
    let scratch = Scratch::new();
    let facts = fixture("hosts/strix-1.json");
    let args = ["--host-facts", facts.to_str().unwrap(), "plan", "quickstart", "gemma-prompt-cache", "--dot"];
    let dot = scratch.bakeoff().args(args).run();
    assert_eq!(dot.code, 0, "{}", dot.stderr);
    assert_eq!(dot.stdout.matches("llama-bench load group").count(), 1, "{}", dot.stdout);
    assert_eq!(dot.stdout.matches("start server").count(), 2, "{}", dot.stdout);
    assert_eq!(dot.stdout.matches("stop server").count(), 2, "{}", dot.stdout);
    insta::assert_snapshot!("plan_groups_dot", without_hashes(&dot.stdout));
}

/// A host toolbox's inspection (`llama-bench --version`) is kept in the machine's cache until
/// one of its programs changes: another path, size or modification time asks again.
#[test]
fn a_host_toolbox_is_inspected_again_when_its_program_changes() {
    let llama = crate::support::Llama::get();
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("calls.log");
    let wrapper = bin.path().join("llama-bench");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
        log.display(),
        llama.bin_dir.join("llama-bench").display()
    );
    std::fs::write(&wrapper, &script).unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(llama.bin_dir.join("llama-server"), bin.path().join("llama-server")).unwrap();
    let manifest = format!(
        r#"toolbox "wrapped" {{
    runner "host"
    bin-dir "{}"
}}
model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
experiment "wrapped" {{
    matrix {{ model "gemma"; toolbox "wrapped" }}
    bench {{ args "-p" 8 "-n" 2 }}
}}
"#,
        bin.path().display()
    );
    let directory = project(&[("experiments/wrapped.kdl", &manifest)]);
    let cache = directory.path().join("machine-cache");
    let plan = || {
        let outcome = Bakeoff::new(directory.path())
            .env("BAKEOFF_CACHE_DIR", &cache)
            .arg("--models")
            .arg(llama.model_root())
            .arg("plan")
            .run();
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        calls.lines().filter(|line| *line == "--version" || *line == "--help").count()
    };
    assert_eq!(plan(), 2, "the first plan asks llama-bench its version and its options");
    assert_eq!(plan(), 0, "the second takes them from the cache");
    std::fs::write(&wrapper, format!("{script}# rebuilt\n")).unwrap();
    assert_eq!(plan(), 2, "a changed program is asked again");
    assert_eq!(plan(), 0);
}

/// Options the toolbox's llama.cpp build does not know, or marks as removed, block their cells
/// at plan time with the build's own words or a did-you-mean, and where the manifest writes
/// them; the options of a valid manifest pass.
#[test]
fn options_the_build_does_not_take_block_their_cells_at_plan() {
    let llama = crate::support::Llama::get();
    let directory = project(&[(
        "experiments/flags.kdl",
        r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "typo" {
    matrix { model "gemma" }
    bench { args "-p" 8 "-n" 2 "--flash-atn" 1 }
}
experiment "removed" {
    matrix { model "gemma" }
    server { args "-nr" "--draft-max" 8 }
    workload "w" { request api="completion" prompt="hi" max-tokens=2 }
}
experiment "fine" {
    matrix { model "gemma" }
    bench { args "-p" 8 "-n" 2 "--flash-attn" "on" "-ngl" 0 "--repack=0" }
}
"#,
    )]);
    let plan = llama.bakeoff(directory.path()).arg("plan").run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let build = "0.6.0-dev (build 0, commit unknown)";
    assert!(
        plan.stdout.contains(&format!(
            "`--flash-atn` is not an option of llama-bench in toolbox `host` (build {build}): did you mean \
             `--flash-attn`? (experiments/flags.kdl:4:32)"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!(
            "`--draft-max` is not an option of llama-server in toolbox `host` (build {build}): the argument has been \
             removed. use --spec-draft-n-max or --spec-ngram-mod-n-max (experiments/flags.kdl:8:25)"
        )),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.ends_with("3 cells: 0 cached, 1 to run, 2 blocked\n"), "{}", plan.stdout);
}
