//! `bakeoff lock` pins models and declared files, and prints what changed.

use crate::support::{Scratch, without_hashes};

#[test]
fn lock_creates_then_reports_up_to_date_then_names_changes() {
    let scratch = Scratch::new();
    let first = scratch.bakeoff().arg("lock").run();
    assert_eq!(first.code, 0, "{}", first.stderr);
    insta::assert_snapshot!("lock_first", without_hashes(&first.stdout));
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scratch.path().join("bakeoff.lock")).unwrap()).unwrap();
    assert_eq!(lock["format"], 1);
    assert_eq!(lock["models"]["gemma-3-270m-q4"]["size"], 40);
    assert_eq!(lock["toolboxes"]["llama-rocm-6.4.4"]["image"], "docker.io/kyuz0/amd-strix-halo-toolboxes:rocm-6.4.4");
    assert!(lock["files"]["experiments/prompts/summarize.txt"]["sha256"].is_string());

    let again = scratch.bakeoff().arg("lock").run();
    assert_eq!(again.stdout, "bakeoff.lock is up to date\n");

    scratch.edit("experiments/prompts/summarize.txt", "three sentences", "two sentences");
    let changed = scratch.bakeoff().arg("lock").run();
    let stdout = without_hashes(&changed.stdout);
    assert!(
        stdout.starts_with("file `experiments/prompts/summarize.txt`: sha256 [HASH] → sha256 [HASH]\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("(1 change(s))\n"), "{stdout}");
}

#[test]
fn a_model_missing_here_keeps_its_pinned_hash() {
    let scratch = Scratch::new();
    assert_eq!(scratch.bakeoff().arg("lock").run().code, 0);
    std::fs::remove_file(scratch.models().join("Qwen2.5-0.5B-Instruct-Q8_0.gguf")).unwrap();
    let outcome = scratch.bakeoff().arg("lock").run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "bakeoff.lock is up to date\n");
    assert!(
        outcome.stderr.contains(
            "warning: model `qwen2.5-0.5b-draft`: `Qwen2.5-0.5B-Instruct-Q8_0.gguf` is not under any model root"
        ),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("keeping its pinned sha256"), "{}", outcome.stderr);
}
