//! `bakeoff models`: the GGUF files under the model roots, with their headers' metadata.

use std::io::Read;

use crate::support::{Bakeoff, Llama, project};

#[test]
fn lists_the_real_model_with_its_metadata_and_each_bad_file_with_its_error() {
    let llama = Llama::get();
    let directory = project(&[(
        "experiments/models.kdl",
        "model \"gemma\" { file \"real/gemma.gguf\" }\nmodel \"absent\" { file \"absent.gguf\" }\n",
    )]);
    let models = directory.path().join("models");
    std::fs::create_dir_all(models.join("real")).unwrap();
    std::os::unix::fs::symlink(&llama.model, models.join("real/gemma.gguf")).unwrap();
    let mut head = vec![0u8; 4096];
    std::fs::File::open(&llama.model).unwrap().read_exact(&mut head).unwrap();
    std::fs::write(models.join("truncated.gguf"), &head).unwrap();
    std::fs::write(models.join("junk.gguf"), b"not a model at all").unwrap();
    std::fs::write(models.join("empty.gguf"), b"").unwrap();
    std::fs::write(models.join("notes.txt"), b"not listed").unwrap();

    let outcome = Bakeoff::new(directory.path()).args(["--models", models.to_str().unwrap(), "models", "--json"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let json: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let listed: Vec<&serde_json::Value> = json["models"].as_array().unwrap().iter().collect();
    let names: Vec<&str> = listed.iter().map(|model| model["relative"].as_str().unwrap()).collect();
    assert_eq!(names, ["empty.gguf", "junk.gguf", "real/gemma.gguf", "truncated.gguf"]);

    let real = listed[2];
    assert_eq!(real["declared_as"], serde_json::json!(["gemma"]));
    assert_eq!(real["results"], 0);
    assert_eq!(real["size"], 253_113_024);
    let metadata = &real["metadata"];
    assert_eq!(metadata["architecture"], "gemma3");
    assert_eq!(metadata["file_type"], "Q4_K_M");
    assert_eq!(metadata["context_length"], 32768);
    // llama-bench reports this model's `model_n_params` as 268,098,176.
    assert_eq!(metadata["parameters"], 268_098_176);
    assert!(real["error"].is_null());

    assert_eq!(listed[0]["error"], "not a GGUF file (it starts with nothing: it is empty)");
    assert_eq!(listed[1]["error"], "not a GGUF file (it starts with 6e 6f 74 20)");
    assert!(listed[3]["error"].as_str().unwrap().starts_with("truncated: the file ends inside its header, at byte 40"));
    for bad in [listed[0], listed[1], listed[3]] {
        assert!(bad["metadata"].is_null());
        assert_eq!(bad["declared_as"], serde_json::json!([]));
    }

    let text = Bakeoff::new(directory.path()).args(["--models", models.to_str().unwrap(), "models"]).run();
    assert_eq!(text.code, 0, "{}", text.stderr);
    let gemma_line = text.stdout.lines().find(|line| line.starts_with("real/gemma.gguf")).unwrap();
    for part in ["241.4 MiB", "gemma3", "Q4_K_M", "268M", "32768", "gemma, untested"] {
        assert!(gemma_line.contains(part), "`{part}` is not in `{gemma_line}`");
    }
    assert!(text.stdout.contains("junk.gguf: not a GGUF file"), "{}", text.stdout);
    assert!(
        text.stdout
            .ends_with("4 GGUF model(s) under 1 root(s): 3 not declared in any manifest, 1 untested, 3 unreadable\n"),
        "{}",
        text.stdout
    );
}

#[test]
fn without_a_model_root_it_says_how_to_give_one() {
    let directory = project(&[]);
    let outcome = Bakeoff::new(directory.path()).arg("models").run();
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("no model root is set"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("--models DIR"), "{}", outcome.stderr);
}

/// A mixture-of-experts flag on a dense model, or a metadata key of another architecture, is a
/// silent no-op in llama.cpp: the cell would be labelled with a change that did not happen. Both
/// are blocked at plan with the model's own facts, read from its GGUF header; the rest run.
#[test]
fn flags_the_model_cannot_take_are_blocked_at_plan() {
    let llama = Llama::get();
    let directory = project(&[(
        "experiments/moe.kdl",
        r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "moe" {
    matrix {
        model "gemma"
        variant "dense"
        variant "cpu-moe" { args "--n-cpu-moe" 8 }
        variant "top4" { args "--override-kv" "qwen3moe.expert_used_count=int:4" }
    }
    bench { args "-p" 8 "-n" 2 "-r" 1 "-t" 2 "--repack" 0 "{variant}" }
}
"#,
    )]);
    let plan = llama.bakeoff(directory.path()).args(["plan"]).run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.ends_with("3 cells: 0 cached, 1 to run, 2 blocked\n"), "{}", plan.stdout);
    let text = crate::support::unwrapped(&plan.stdout);
    assert!(
        text.contains(
            "`--n-cpu-moe` places a mixture's experts, but model `gemma` has none (architecture `gemma3`, no \
             experts): llama.cpp would run it unchanged"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "`--override-kv qwen3moe.expert_used_count=int:4` names architecture `qwen3moe`, but model `gemma` is \
             `gemma3`: llama.cpp ignores the key; write `gemma3.expert_used_count` if the model has it"
        ),
        "{text}"
    );

    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "3 cells: 1 ran (1 ok, 0 failed), 0 cached, 2 blocked\n", "{}", run.stderr);
    let stored = crate::support::records(directory.path());
    let blocked: Vec<_> = stored.iter().filter(|record| record.status == bakeoff::store::Status::Blocked).collect();
    assert_eq!(blocked.len(), 2, "{stored:?}");
    for record in blocked {
        let reason = &record.failure.as_ref().unwrap().reason;
        assert!(reason.contains("model `gemma`"), "{reason}");
    }
}
