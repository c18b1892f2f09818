//! Quality beside speed, with the real llama-perplexity: the Gemma model as the reference and
//! requantizations the test makes with llama.cpp's own llama-quantize; base logits computed once
//! per reference and kept in the store; what cannot work blocked at plan with its reason.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Llama, project, records, repo, unwrapped};

/// The corpus every quality test scores: the example experiment's own text.
fn corpus() -> String {
    std::fs::read_to_string(repo().join("experiments/corpus/prose.txt")).unwrap()
}

/// `gemma-3-270m-TYPE.gguf` made from the Gemma model by `llama-quantize --allow-requantize`,
/// once per machine (a temporary file renamed into place, so tests that race make one each and
/// keep either).
fn requantized(llama: &Llama, kind: &str) -> PathBuf {
    let directory = std::env::temp_dir().join("bakeoff-test-requantized");
    std::fs::create_dir_all(&directory).unwrap();
    let model_size = std::fs::metadata(&llama.model).unwrap().len();
    let path = directory.join(format!("gemma-3-270m-{}-{model_size}.gguf", kind.to_lowercase()));
    if path.is_file() {
        return path;
    }
    let partial = directory.join(format!(".{kind}.{}.tmp", std::process::id()));
    let output = Command::new(llama.bin_dir.join("llama-quantize"))
        .args(["--allow-requantize"])
        .arg(&llama.model)
        .arg(&partial)
        .arg(kind)
        .output()
        .unwrap();
    assert!(output.status.success(), "llama-quantize {kind}: {}", String::from_utf8_lossy(&output.stderr));
    std::fs::rename(&partial, &path).unwrap();
    path
}

/// A folder of model files for the project's model root: the Gemma model and requantizations.
fn model_root(llama: &Llama, kinds: &[&str]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&llama.model, root.path().join("gemma-3-270m-q4_k_m.gguf")).unwrap();
    for kind in kinds {
        let made = requantized(llama, kind);
        let name = format!("gemma-3-270m-{}.gguf", kind.to_lowercase());
        std::os::unix::fs::symlink(made, root.path().join(name)).unwrap();
    }
    root
}

const MODELS: &str = r#"
model "q4_k_m" { file "gemma-3-270m-q4_k_m.gguf" }
model "q8_0" { file "gemma-3-270m-q8_0.gguf" }
model "q4_0" { file "gemma-3-270m-q4_0.gguf" }
model "q2_k" { file "gemma-3-270m-q2_k.gguf" }
model "q6_k" { file "gemma-3-270m-q6_k.gguf" }
"#;

/// Four models at two thread counts, and the reference model with a `q4_0` K cache: quality
/// uses neither `threads` nor bench's sizes, so its cells are five measurements, not ten.
const QUANT: &str = r#"import "models.kdl"
experiment "quant" {
    matrix {
        model "q4_k_m" "q8_0" "q4_0" "q2_k"
        toolbox "host"
        threads 1 2
        ctk "f16"
    }
    // A 4-bit K cache on the reference model: one configuration more, at both thread counts.
    include model="q4_k_m" ctk="q4_0"
    bench { args "-t" "{threads}" "-ctk" "{ctk}" "-p" 16 "-n" 4 "-r" 1 "--repack" 0 }
    quality {
        corpus "corpus.txt"
        reference model="q4_k_m" ctk="f16"
        args "-c" 128 "--chunks" 4 "-ctk" "{ctk}"
    }
    timeout 600
}
"#;

/// A `llama-perplexity` first on PATH that notes each call in `calls` and runs the real one.
fn counting_perplexity(llama: &Llama, directory: &Path) -> PathBuf {
    let bin = directory.join("counting");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {}\nexec {} \"$@\"\n",
        directory.join("calls").display(),
        llama.bin_dir.join("llama-perplexity").display()
    );
    let path = bin.join("llama-perplexity");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bin
}

/// The llama-perplexity passes so far: (writes a base, reads one).
fn calls(directory: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(directory.join("calls")).unwrap_or_default();
    // Inspection asks `llama-perplexity --help` too: only passes name a base.
    let passes: Vec<&str> = text.lines().filter(|line| line.contains("--kl-divergence-base")).collect();
    let reads = passes.iter().filter(|line| line.ends_with("--kl-divergence")).count();
    (passes.len() - reads, reads)
}

fn quality_records(root: &Path) -> Vec<bakeoff::store::CellRecord> {
    let mut found: Vec<_> = records(root).into_iter().filter(|record| record.workload == "quality").collect();
    found.sort_by(|a, b| a.axes["model"].cmp(&b.axes["model"]));
    found
}

fn metric(record: &bakeoff::store::CellRecord, name: &str) -> f64 {
    record.metrics.get(name).unwrap_or_else(|| panic!("{} has no {name}: {:?}", record.cell, record.metrics)).mean
}

/// The mean KL divergence a direct llama-perplexity run prints for `model` against `base`.
fn direct_kld(llama: &Llama, model: &Path, base: &Path) -> f64 {
    let output = Command::new(llama.bin_dir.join("llama-perplexity"))
        .arg("-m")
        .arg(model)
        .args(["-c", "128", "--chunks", "4", "-ctk", "f16", "--kl-divergence", "--kl-divergence-base"])
        .arg(base)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    let line = text.lines().find(|line| line.contains("Mean    KLD:")).unwrap_or_else(|| panic!("{text}"));
    line.split(':').nth(1).unwrap().split('±').next().unwrap().trim().parse().unwrap()
}

#[test]
#[expect(clippy::float_cmp, reason = "one base gives the very digits llama-perplexity printed before")]
fn quality_measures_every_configuration_against_one_reference_base() {
    let llama = Llama::get();
    let models = model_root(&llama, &["Q8_0", "Q4_0", "Q2_K", "Q6_K"]);
    let directory = project(&[
        ("experiments/models.kdl", MODELS),
        ("experiments/quant.kdl", QUANT),
        ("experiments/corpus.txt", &corpus()),
    ]);
    let root = directory.path();
    let counting = counting_perplexity(&llama, root);
    let bakeoff = || {
        let mut bakeoff = llama.bakeoff(root);
        bakeoff.env("PATH", llama.path(Some(&counting))).arg("--models").arg(models.path());
        bakeoff
    };

    // The plan shows the base's size before it is written: 4 chunks × 63 scored tokens of
    // Gemma's 262,144-token vocabulary.
    let plan = bakeoff().args(["plan", "quant"]).run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("[writes 126.0 MiB of base logits to results/bases/]"), "{}", plan.stdout);
    assert!(plan.stdout.contains("15 to run (and 5 with the same inputs as one of them)"), "{}", plan.stdout);

    let ran = bakeoff().args(["run", "quant", "--no-progress"]).run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(calls(root), (1, 4), "one base, four candidates: threads does not multiply quality");

    let quality = quality_records(root);
    assert_eq!(quality.len(), 5);
    let by_model = |model: &str| {
        quality.iter().find(|record| record.axes["model"] == model && record.axes["ctk"] == "f16").unwrap()
    };
    let reference = by_model("q4_k_m");
    assert!(metric(reference, "ppl") > 1.0);
    assert_eq!(reference.metrics.keys().filter(|name| name.starts_with("kld")).count(), 0, "{:?}", reference.metrics);
    let (q8, q4, q2) = (by_model("q8_0"), by_model("q4_0"), by_model("q2_k"));
    for record in [q8, q4, q2] {
        for name in ["ppl", "ppl_ratio", "kld_mean", "kld_p99", "kld_max", "same_top_p", "dp_rms"] {
            metric(record, name);
        }
        assert!(record.metrics["kld_mean"].stddev.is_some(), "llama-perplexity's ± is kept");
    }
    assert!(
        metric(q8, "kld_mean") < metric(q4, "kld_mean"),
        "q8_0 {} q4_0 {}",
        metric(q8, "kld_mean"),
        metric(q4, "kld_mean")
    );
    assert!(
        metric(q4, "kld_mean") < metric(q2, "kld_mean"),
        "q4_0 {} q2_k {}",
        metric(q4, "kld_mean"),
        metric(q2, "kld_mean")
    );
    assert!(metric(q8, "same_top_p") > metric(q4, "same_top_p"));
    assert!(metric(q4, "same_top_p") > metric(q2, "same_top_p"));
    // The K cache in 4 bits moves the distributions, further than Q8_0 weights do.
    let cache = quality.iter().find(|record| record.axes["ctk"] == "q4_0").unwrap();
    assert!(
        metric(cache, "kld_mean") > metric(q8, "kld_mean"),
        "{} against {}",
        metric(cache, "kld_mean"),
        metric(q8, "kld_mean")
    );

    // The base is the store's, named by the reference cell's hash, and out of git.
    let base = root.join("results/bases").join(format!("{}.kld", reference.hash));
    assert!(base.is_file(), "no base at {}", base.display());
    assert_eq!(std::fs::metadata(&base).unwrap().len(), 132_124_660);
    assert_eq!(std::fs::read_to_string(root.join("results/bases/.gitignore")).unwrap().lines().last(), Some("*"));
    // bakeoff's figure is llama-perplexity's own on the same inputs.
    let direct = direct_kld(&llama, &models.path().join("gemma-3-270m-q4_0.gguf"), &base);
    assert!((direct - metric(q4, "kld_mean")).abs() < 1e-9, "direct {direct}, bakeoff {}", metric(q4, "kld_mean"));

    // A model added to the matrix runs its one quality cell against the base that is there.
    let manifest = root.join("experiments/quant.kdl");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"q2_k\"\n", "\"q2_k\" \"q6_k\"\n")).unwrap();
    let plan = bakeoff().args(["plan", "quant"]).run();
    assert!(plan.stdout.contains("20 cached, 3 to run (and 1 with the same inputs as one of them)"), "{}", plan.stdout);
    let added = bakeoff().args(["run", "quant", "--no-progress"]).run();
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(calls(root), (1, 5), "only the new model's quality cell ran");

    // A base that is gone is made again when a candidate needs it, with the same numbers.
    std::fs::remove_file(&base).unwrap();
    let plan = bakeoff().args(["plan", "quant", "--only", "model=q4_0", "--force"]).run();
    assert!(plan.stdout.contains("(its base logits are missing; 1 quality cell(s) read them)"), "{}", plan.stdout);
    let again = bakeoff().args(["run", "quant", "--only", "model=q4_0", "--force", "--no-progress"]).run();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(calls(root), (2, 6), "the reference ran again for the base, then the candidate");
    assert!(base.is_file());
    let remeasured = quality_records(root).into_iter().find(|record| record.axes["model"] == "q4_0").unwrap();
    assert_eq!(metric(&remeasured, "kld_mean"), metric(q4, "kld_mean"), "the same base gives the same numbers");

    // gc keeps the base of a kept reference and takes one nothing refers to.
    let stray = root.join("results/bases").join(format!("{}.kld", "f".repeat(64)));
    std::fs::write(&stray, "old").unwrap();
    let gc = bakeoff().arg("gc").run();
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert!(base.is_file(), "{}", gc.stdout);
    assert!(!stray.exists(), "{}", gc.stdout);
}

/// A minimal GGUF: architecture `gemma3` and a vocabulary of `tokens` entries, no tensors (plan
/// only reads its header).
fn tiny_gguf(path: &Path, tokens: u64) {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(3u32.to_le_bytes());
    bytes.extend(0u64.to_le_bytes());
    bytes.extend(2u64.to_le_bytes());
    let string = |bytes: &mut Vec<u8>, text: &str| {
        bytes.extend((text.len() as u64).to_le_bytes());
        bytes.extend(text.as_bytes());
    };
    string(&mut bytes, "general.architecture");
    bytes.extend(8u32.to_le_bytes());
    string(&mut bytes, "gemma3");
    string(&mut bytes, "tokenizer.ggml.tokens");
    bytes.extend(9u32.to_le_bytes());
    bytes.extend(8u32.to_le_bytes());
    bytes.extend(tokens.to_le_bytes());
    for index in 0..tokens {
        string(&mut bytes, &format!("t{index}"));
    }
    std::fs::write(path, bytes).unwrap();
}

/// What cannot work is said at plan with its reason, never found as a failure after a run.
#[test]
fn quality_that_cannot_work_is_blocked_at_plan() {
    let llama = Llama::get();
    let models = tempfile::tempdir().unwrap();
    tiny_gguf(&models.path().join("other-vocabulary.gguf"), 1000);
    let manifest = r#"
model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
model "other" { file "other-vocabulary.gguf" }
experiment "vocab" {
    matrix {
        model "gemma" "other"
        toolbox "host"
    }
    quality {
        corpus "corpus.txt"
        reference model="gemma"
        args "-c" 128 "--chunks" 4
    }
}
experiment "short" {
    matrix {
        model "gemma"
        toolbox "host"
        ctk "f16" "q4_0"
    }
    quality {
        corpus "short.txt"
        reference model="gemma" ctk="f16"
        args "-c" 128 "--chunks" 4 "-ctk" "{ctk}"
    }
}
experiment "several" {
    matrix {
        model "gemma"
        toolbox "host"
        ctk "f16" "q4_0"
        threads 1 2
    }
    quality {
        corpus "corpus.txt"
        reference model="gemma"
        args "-c" 128 "--chunks" 4 "-ctk" "{ctk}"
    }
}
"#;
    let directory = project(&[
        ("experiments/quality.kdl", manifest),
        ("experiments/corpus.txt", &corpus()),
        ("experiments/short.txt", &"words ".repeat(40)),
    ]);
    let root = directory.path();
    let plan = |experiment: &str| {
        let outcome = llama.bakeoff(root).arg("--models").arg(models.path()).args(["plan", experiment]).run();
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
        unwrapped(&outcome.stdout)
    };

    let vocab = plan("vocab");
    assert!(
        vocab.contains(
            "vocab/model=other,toolbox=host/quality  KL divergence needs one vocabulary: `other` has 1,000 tokens, \
             the reference `gemma` 262,144"
        ),
        "{vocab}"
    );
    let short = plan("short");
    assert!(
        short.contains(
            "corpus `short.txt` is too short for `-c 128 --chunks 4`: llama-perplexity needs 512 tokens, and its \
             240 bytes make at most 241"
        ),
        "{short}"
    );
    assert!(short.contains("2 cells: 0 cached, 0 to run, 2 blocked"), "{short}");
    // `threads` differs too, but quality does not use it: only `ctk` is named.
    let several = plan("several");
    assert!(
        several.contains(
            "the quality reference `model=gemma` matches 2 configurations that differ in `ctk`: add a value for each \
             to `reference`"
        ),
        "{several}"
    );

    // A toolbox without llama-perplexity: PATH has llama-bench and llama-server only.
    let bin = root.join("partial-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for program in ["llama-bench", "llama-server"] {
        std::os::unix::fs::symlink(llama.bin_dir.join(program), bin.join(program)).unwrap();
    }
    let outcome =
        llama.bakeoff(root).env("PATH", format!("{}:/usr/bin:/bin", bin.display())).args(["plan", "vocab"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let text = unwrapped(&outcome.stdout);
    assert!(text.contains("vocab/model=gemma,toolbox=host/quality  `llama-perplexity` not found"), "{text}");
    assert!(text.contains("2 cells: 0 cached, 0 to run, 2 blocked"), "{text}");
}
