//! The manifests this repository ships, and every KDL block in README.md, parse and validate.

use crate::support::{Bakeoff, repo};

#[test]
fn every_shipped_manifest_checks() {
    let outcome = Bakeoff::new(&repo()).arg("check").run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stderr, "", "shipped manifests have no warnings");
    assert!(outcome.stdout.contains("6 experiment(s)"), "{}", outcome.stdout);
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
