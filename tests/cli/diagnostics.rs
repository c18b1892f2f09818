//! Every bad manifest in `tests/fixtures/bad/` fails `bakeoff check` with a diagnostic that
//! points at the file, line and column of the cause and says what to do.

use crate::support::{Bakeoff, fixture, repo};

#[test]
fn every_bad_manifest_is_reported_with_its_place_and_a_help_line() {
    let directory = fixture("bad");
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "kdl"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "only {} bad manifests", files.len());
    // `,-[file:line:column]` is where miette draws the source excerpt.
    let located = regex::Regex::new(r",-\[tests/fixtures/bad/[a-z/-]+\.kdl:\d+:\d+\]").unwrap();
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let relative = file.strip_prefix(repo()).unwrap().display().to_string();
        let outcome = Bakeoff::new(&repo()).arg("check").arg(&relative).run();
        assert_eq!(outcome.code, 2, "{name}: exit code\n{}", outcome.stderr);
        assert!(outcome.stdout.is_empty(), "{name}: nothing on stdout");
        assert!(located.is_match(&outcome.stderr), "{name}: no file:line:column\n{}", outcome.stderr);
        assert!(outcome.stderr.contains("help: "), "{name}: no help line\n{}", outcome.stderr);
        assert!(!outcome.stderr.contains("panicked"), "{name}: panicked\n{}", outcome.stderr);
        insta::assert_snapshot!(format!("bad_{name}"), outcome.stderr);
    }
}

#[test]
fn warnings_do_not_fail_the_check() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("warn.kdl"),
        "model \"tiny\" { file \"tiny.gguf\" }\n\
         experiment \"e\" {\n    matrix {\n        model \"tiny\"\n        depth 0\n    }\n    \
         exclude depth=512\n    command { args \"llama-cli\" \"-m\" \"{model}\" \"-f\" \"prompts/x.txt\" }\n}\n",
    )
    .unwrap();
    let outcome = Bakeoff::new(directory.path()).args(["check", "warn.kdl"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("`depth=512` excludes no cell"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("looks like a path to an undeclared file"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("{file:prompts/x.txt}"), "{}", outcome.stderr);
    assert!(outcome.stdout.starts_with("ok: 1 experiment(s) with 1 cell(s)"), "{}", outcome.stdout);
}

#[test]
fn an_unknown_experiment_name_suggests_the_nearest() {
    let outcome = Bakeoff::new(&repo()).args(["check", "quickstrat"]).run();
    assert_eq!(outcome.code, 2);
    assert!(outcome.stderr.contains("unknown experiment `quickstrat`"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("did you mean `quickstart`?"), "{}", outcome.stderr);
}

#[test]
fn a_missing_manifest_file_is_an_error_not_a_panic() {
    let outcome = Bakeoff::new(&repo()).args(["check", "experiments/nope.kdl"]).run();
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("cannot read manifest `experiments/nope.kdl`"), "{}", outcome.stderr);
}

/// An experiment's report goes to `results/NAME/`: the store's own folders, the Slurm jobs'
/// (git-ignored) one included, are not names for it.
#[test]
fn an_experiment_named_after_a_store_folder_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("slurm.kdl"), "experiment \"slurm\" {\n    command { args \"true\" }\n}\n")
        .unwrap();
    let outcome = Bakeoff::new(directory.path()).args(["check", "slurm.kdl"]).run();
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("`results/slurm/` holds the Slurm executor's job logs (and is ignored by git)"),
        "{}",
        outcome.stderr
    );
}
