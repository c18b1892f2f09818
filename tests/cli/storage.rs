//! A storage root (`--storage DIR`): with a fresh HOME and no XDG_* or TMPDIR, a run writes
//! nothing outside the project and the root (every file it and its children create is listed by
//! strace), its children get their temporary files and caches under the root, the quality
//! bases go there, and `storage "strict"` refuses a `results/` outside it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Bakeoff, Llama, installed, project, records, repo};

#[test]
fn a_run_with_a_storage_root_writes_only_under_it_and_the_project() {
    let strace = installed("strace", "scripts/test.sh (Debian: apt install strace)");
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "where" {
    matrix { model "gemma" }
    bench { args "-t" 1 "-p" 8 "-n" 2 "-r" 1 }
    command {
        args "sh" "-c" "echo tmpdir=$TMPDIR; echo hf=$HF_HOME; echo cache=$XDG_CACHE_HOME; echo pip=$PIP_CACHE_DIR; mktemp; echo made=1"
        metric "made" regex="made=([0-9]+)"
    }
    quality {
        corpus "corpus.txt"
        reference model="gemma"
        args "-c" 128 "--chunks" 2 "-t" 1
    }
}
"#;
    let corpus = std::fs::read_to_string(repo().join("experiments/corpus/prose.txt")).unwrap();
    let directory = project(&[("experiments/where.kdl", manifest), ("experiments/corpus.txt", &corpus)]);
    let root = directory.path().canonicalize().unwrap();
    let storage = tempfile::tempdir().unwrap();
    let storage_root = storage.path().canonicalize().unwrap();
    let home = tempfile::tempdir().unwrap();
    let trace = tempfile::tempdir().unwrap();
    let log = trace.path().join("strace.txt");

    let output = Command::new(&strace)
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        .args(["-e", "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat"])
        .arg(env!("CARGO_BIN_EXE_bakeoff"))
        .arg("--storage")
        .arg(&storage_root)
        .arg("--models")
        .arg(llama.model_root())
        .args(["run", "--no-progress"])
        .current_dir(&root)
        // A fresh machine's user: a HOME of its own, nothing else said about where to write.
        .env_clear()
        .env("PATH", llama.path(None))
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .env("BAKEOFF_BUSY_THRESHOLD", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    // Every file and folder made, by bakeoff and every child.
    let created = created_paths(&std::fs::read_to_string(&log).unwrap(), &root);
    assert!(
        created.iter().any(|path| path.starts_with(root.join("results/cells"))),
        "strace saw no record: {created:?}"
    );
    let outside: Vec<&PathBuf> = created
        .iter()
        .filter(|path| !path.starts_with(&root) && !path.starts_with(&storage_root))
        .filter(|path| !["/dev/", "/proc/", "/sys/"].iter().any(|system| path.starts_with(system)))
        .collect();
    assert!(outside.is_empty(), "written outside the project and the storage root: {outside:?}");
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0, "HOME was written to");
    // bakeoff's own caches are under the root.
    assert!(storage_root.join("cache/bakeoff/file-hashes.json").is_file(), "{created:?}");

    // The command cell's children kept their temporary files and caches under the root.
    let records = records(&root);
    let command = records.iter().find(|record| record.metrics.contains_key("made")).expect("the command cell's record");
    let said = std::fs::read_to_string(root.join(format!("results/logs/{}.log", command.hash))).unwrap();
    for (variable, folder) in [("tmpdir", "tmp"), ("hf", "huggingface"), ("cache", "cache"), ("pip", "pip")] {
        let line = format!("{variable}={}", storage_root.join(folder).display());
        assert!(said.contains(&line), "no `{line}` in:\n{said}");
    }
    let made = said.lines().find(|line| line.contains("tmp.")).expect("mktemp's file");
    assert!(Path::new(made.trim()).starts_with(storage_root.join("tmp")), "{made}");
    // The quality reference's base logits are on the root, not in results/.
    // A folder per store under `bases/`, so that one project's `gc` leaves another's alone.
    let folders: Vec<PathBuf> = std::fs::read_dir(storage_root.join("bases"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    let bases: Vec<_> = std::fs::read_dir(&folders[0]).unwrap().filter_map(Result::ok).collect();
    assert!(
        bases.iter().any(|entry| entry.path().extension().is_some_and(|extension| extension == "kld")),
        "{bases:?}"
    );
    assert!(!root.join("results/bases").exists());
    // Each record notes the root.
    for record in &records {
        assert_eq!(record.host.storage.as_deref(), Some(storage_root.to_str().unwrap()), "{}", record.cell);
    }
    // `host` shows it.
    let host = Bakeoff::new(&root).arg("--storage").arg(&storage_root).arg("host").run();
    assert!(host.stdout.contains(&format!("storage   {}", storage_root.display())), "{}", host.stdout);
}

#[test]
fn strict_storage_refuses_what_lies_outside_the_root() {
    let strict = r#"storage "strict"
experiment "e" {
    command { args "true" }
}
"#;
    let directory = project(&[("experiments/e.kdl", strict)]);
    let root = directory.path();
    let storage = tempfile::tempdir().unwrap();
    let storage_root = storage.path().canonicalize().unwrap();
    // The project is outside the root: refused at check, plan and run, naming it.
    for command in ["check", "plan", "run"] {
        let refused = Bakeoff::new(root).arg("--storage").arg(&storage_root).arg(command).run();
        assert_eq!(refused.code, 2, "{command}: {}", refused.stderr);
        assert!(
            refused.stderr.contains("`storage \"strict\"`: these lie outside the storage root"),
            "{}",
            refused.stderr
        );
        assert!(refused.stderr.contains("the project `"), "{}", refused.stderr);
    }
    assert!(!root.join("results/cells").exists(), "a refused run recorded something");
    // The project on the root and its results elsewhere: the results are named.
    let inside = storage_root.join("project");
    std::fs::create_dir_all(inside.join("experiments")).unwrap();
    std::fs::write(inside.join("experiments/e.kdl"), strict).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let refused = Bakeoff::new(&inside)
        .arg("--storage")
        .arg(&storage_root)
        .arg("--results")
        .arg(elsewhere.path())
        .args(["run", "--no-progress"])
        .run();
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("results/ `{}`", elsewhere.path().display())), "{}", refused.stderr);
    // With its results on the root too, it runs.
    let ran = Bakeoff::new(&inside)
        .arg("--storage")
        .arg(&storage_root)
        .env_remove("BAKEOFF_CACHE_DIR")
        .args(["run", "--no-progress"])
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    // Without a root, strict says what to set.
    let no_root = Bakeoff::new(&inside).env_remove("BAKEOFF_STORAGE").arg("plan").run();
    assert_eq!(no_root.code, 2);
    assert!(no_root.stderr.contains("no storage root is set"), "{}", no_root.stderr);
    // `warn` only says so.
    std::fs::write(root.join("experiments/e.kdl"), strict.replace("strict", "warn")).unwrap();
    let warned = Bakeoff::new(root).arg("--storage").arg(&storage_root).arg("plan").run();
    assert_eq!(warned.code, 0, "{}", warned.stderr);
    assert!(warned.stderr.contains("lies outside the storage root"), "{}", warned.stderr);
}

/// The paths created (opened for writing with `O_CREAT`, made, renamed or linked to) in an
/// `strace -f` log, made absolute against `cwd`; failed calls left out. A call another thread
/// interrupted is written in two lines (`… <unfinished ...>`, then `<... openat resumed>… = 3`):
/// its arguments are taken from the first, its result from the second.
fn created_paths(log: &str, cwd: &Path) -> BTreeSet<PathBuf> {
    let mut paths = BTreeSet::new();
    let mut unfinished: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for line in log.lines() {
        // strace pads the pid to a column (`9497  mkdir(…`) once pids of other widths appear.
        let Some((pid, rest)) = line.split_once(' ').map(|(pid, rest)| (pid, rest.trim_start())) else { continue };
        let whole = if let Some(start) = rest.strip_suffix(" <unfinished ...>") {
            unfinished.insert(pid, start);
            continue;
        } else if rest.starts_with("<... ") {
            let Some(start) = unfinished.remove(pid) else { continue };
            let result = rest.split_once("resumed>").map_or("", |(_, result)| result);
            format!("{start}{result}")
        } else {
            rest.to_owned()
        };
        if whole.contains(" = -1 ") {
            continue;
        }
        let Some((call, arguments)) = whole.split_once('(') else { continue };
        let quoted: Vec<&str> = arguments.split('"').skip(1).step_by(2).collect();
        let target = match call {
            "open" | "openat" if arguments.contains("O_CREAT") => quoted.first(),
            "creat" | "mkdir" | "mkdirat" => quoted.first(),
            "rename" | "renameat" | "renameat2" | "link" | "linkat" | "symlink" | "symlinkat" => quoted.last(),
            _ => None,
        };
        if let Some(target) = target {
            let path = Path::new(target);
            paths.insert(if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) });
        }
    }
    paths
}
