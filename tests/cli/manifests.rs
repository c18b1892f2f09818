//! The manifests this repository ships, and every KDL block in README.md, parse and validate.

use crate::support::{Bakeoff, repo};

#[test]
fn every_shipped_manifest_checks() {
    let outcome = Bakeoff::new(&repo()).arg("check").run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stderr, "", "shipped manifests have no warnings");
    assert!(outcome.stdout.contains("7 experiment(s)"), "{}", outcome.stdout);
    for directory in ["experiments", "toolboxes"] {
        for entry in std::fs::read_dir(repo().join(directory)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|extension| extension == "kdl") {
                let relative = path.strip_prefix(repo()).unwrap().display().to_string();
                let outcome = Bakeoff::new(&repo()).args(["check", &relative]).run();
                assert_eq!(outcome.code, 0, "{relative}: {}", outcome.stderr);
            }
        }
    }
}

#[test]
fn every_kdl_block_in_the_readme_validates() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut blocks = 0;
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```kdl" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|line| line.trim() != "```").collect();
        blocks += 1;
        // Blocks are read as if they were a file in experiments/, so their imports resolve.
        let path = repo().join("experiments").join(format!("readme-block-{blocks}.kdl"));
        let result = bakeoff::manifest::load_text(&repo(), &path, &block.join("\n"));
        if let Err(error) = result {
            panic!("README block {blocks} does not validate: {:?}", miette::Report::new(error));
        }
    }
    assert!(blocks >= 3, "README.md has {blocks} kdl blocks");
}

#[test]
fn kdl_version_1_manifests_are_accepted() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("v1.kdl"),
        "model \"tiny\" file=\"tiny.gguf\"\n\
         experiment \"e\" {\n    matrix {\n        model \"tiny\"\n        fa true false\n    }\n    \
         bench { args \"-fa\" \"{fa}\" r\"-p\" 16; }\n}\n",
    )
    .unwrap();
    let outcome = Bakeoff::new(directory.path()).args(["check", "v1.kdl"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains("with 2 cell(s)"), "{}", outcome.stdout);
}

/// `toolbox create` passes nothing on to podman, so container arguments on a toolbox runner
/// would silently do nothing: `check` says so, pointing at them, and still accepts the file.
#[test]
fn container_args_on_a_toolbox_runner_get_a_warning() {
    let directory = crate::support::project(&[(
        "toolboxes/box.kdl",
        "toolbox \"box\" {\n    runner \"toolbox\"\n    image \"localhost/llama:cpu\"\n    \
         container-args \"--group-add\" \"video\"\n}\n\
         toolbox \"pod\" {\n    runner \"podman\"\n    image \"localhost/llama:cpu\"\n    \
         container-args \"--group-add\" \"video\"\n}\n\
         experiment \"e\" {\n    matrix { toolbox \"box\" \"pod\" }\n    command { args \"true\" }\n}\n",
    )]);
    let outcome = Bakeoff::new(directory.path()).args(["check", "toolboxes/box.kdl"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let stderr = crate::support::unwrapped(&outcome.stderr);
    assert!(stderr.contains("`container-args` has no effect with runner `toolbox`"), "{stderr}");
    assert!(stderr.contains("box.kdl:4:5"), "points at the node: {stderr}");
    assert_eq!(stderr.matches("has no effect").count(), 1, "podman takes them: {stderr}");
}

/// Two command experiments on a declared `host` toolbox, each in a file of its own.
fn two_experiments(b: &str) -> tempfile::TempDir {
    crate::support::project(&[
        ("toolboxes/host.kdl", "toolbox \"host\" { runner \"host\"; }\n"),
        (
            "experiments/a.kdl",
            "experiment \"a\" {\n    matrix { toolbox \"host\"; n 1 2; }\n    command { args \"true\" \"{n}\"; }\n}\n",
        ),
        ("experiments/b.kdl", b),
    ])
}

const FACTS: &str = "hosts/strix-1.json";

fn plan(directory: &std::path::Path, targets: &[&str]) -> crate::support::Outcome {
    let facts = crate::support::fixture(FACTS);
    Bakeoff::new(directory).args(["--host-facts", facts.to_str().unwrap(), "plan"]).args(targets).run()
}

/// Regression (issue 30): one broken manifest made `plan NAME` and `report NAME` of every other
/// experiment fail. A file the named experiment cannot depend on is left out with a warning;
/// naming its experiment, or none, still stops on its errors.
#[test]
fn a_broken_file_stops_only_the_commands_that_need_it() {
    let syntax = "experiment \"b\" {\n    matrix { toolbox \"host\"; n 1; }\n    command { args \"true\" \"{n}\"; \n";
    let semantic = "experiment \"b\" {\n    matrix { toolbox \"nowhere\"; }\n    command { args \"true\"; }\n}\n";
    for (kind, text, error) in
        [("syntax", syntax, "bakeoff::manifest::syntax"), ("semantic", semantic, "unknown toolbox `nowhere`")]
    {
        let directory = two_experiments(text);
        let root = directory.path();
        let healthy = plan(root, &["a"]);
        assert_eq!(healthy.code, 0, "{kind}: {}", healthy.stderr);
        assert!(healthy.stdout.ends_with("2 cells: 0 cached, 2 to run, 0 blocked\n"), "{kind}: {}", healthy.stdout);
        let stderr = crate::support::unwrapped(&healthy.stderr);
        let what = if kind == "syntax" {
            "left out: 4 error(s) in it; what it declares cannot be read"
        } else {
            "left out: 1 error(s) in it; experiment `b` is not loaded"
        };
        assert!(stderr.contains(&format!("`experiments/b.kdl` {what}")), "{kind}: {stderr}");
        assert!(stderr.contains("bakeoff::manifest::left_out"), "{kind}: {stderr}");
        for named in [&["b"][..], &[]] {
            let stopped = plan(root, named);
            assert_eq!(stopped.code, 2, "{kind} {named:?}: {}", stopped.stderr);
            assert!(stopped.stderr.contains(error), "{kind} {named:?}: {}", stopped.stderr);
        }
        let report = Bakeoff::new(root).args(["report", "a"]).run();
        assert_eq!(report.code, 0, "{kind}: {}", report.stderr);
        assert!(root.join("results/a/README.md").is_file());
        let check = Bakeoff::new(root).args(["check", "a"]).run();
        assert_eq!(check.code, 0, "{kind}: {}", check.stderr);
        assert!(check.stdout.contains("1 experiment(s) with 2 cell(s)"), "{kind}: {}", check.stdout);
    }
}

/// What a broken file declares may be what the named experiment uses: then nothing is left
/// out, and the named experiment stops on the broken file's errors.
#[test]
fn a_broken_file_that_may_define_what_an_experiment_uses_stops_it() {
    // A broken toolbox file that declared the toolbox `a` runs on: its definition is unknown.
    let directory =
        two_experiments("experiment \"b\" {\n    matrix { toolbox \"host\"; }\n    command { args \"true\"; }\n}\n");
    std::fs::write(directory.path().join("toolboxes/host.kdl"), "toolbox \"host\" { runner \"host\"\n").unwrap();
    let stopped = plan(directory.path(), &["a"]);
    assert_eq!(stopped.code, 2, "{}", stopped.stderr);
    assert!(stopped.stderr.contains("toolboxes/host.kdl"), "{}", stopped.stderr);
    assert!(stopped.stderr.contains("bakeoff::manifest::syntax"), "{}", stopped.stderr);

    // A second, broken definition of a toolbox `a` uses, in `b`'s file.
    let duplicate = "toolbox \"host\" { runner \"podman\"; }\nexperiment \"b\" {\n    matrix { toolbox \"host\"; }\n    command { args \"true\"; }\n}\n";
    let directory = two_experiments(duplicate);
    let stopped = plan(directory.path(), &["a"]);
    assert_eq!(stopped.code, 2, "{}", stopped.stderr);
    assert!(stopped.stderr.contains("toolbox `host` is declared twice"), "{}", stopped.stderr);

    // An experiment that extends the broken one.
    let directory =
        two_experiments("experiment \"b\" {\n    matrix { toolbox \"nowhere\"; }\n    command { args \"true\"; }\n}\n");
    let path = directory.path().join("experiments/c.kdl");
    std::fs::write(&path, "experiment \"c\" extends=\"b\" {\n    matrix { toolbox \"host\"; }\n}\n").unwrap();
    let stopped = plan(directory.path(), &["c"]);
    assert_eq!(stopped.code, 2, "{}", stopped.stderr);
    assert!(stopped.stderr.contains("unknown toolbox `nowhere`"), "{}", stopped.stderr);
    assert_eq!(plan(directory.path(), &["a"]).code, 0, "`a` needs neither");

    // Unparsable text could have declared the `host` toolbox that `a` otherwise gets built in.
    let directory = two_experiments("toolbox \"host\" { bin-dir \"/opt/llama\"\n");
    std::fs::remove_file(directory.path().join("toolboxes/host.kdl")).unwrap();
    let stopped = plan(directory.path(), &["a"]);
    assert_eq!(stopped.code, 2, "{}", stopped.stderr);
    assert!(stopped.stderr.contains("experiments/b.kdl"), "{}", stopped.stderr);
}
