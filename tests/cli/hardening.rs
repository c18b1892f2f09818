//! Inputs no other test uses: odd but valid files must not panic a command.

use crate::support::{Bakeoff, project};

fn facts(id: &str, name: &str, kernel: &str) -> String {
    format!(
        r#"{{"id": "{id}", "name": "{name}", "kernel": "{kernel}", "os": "Debian GNU/Linux 12", "cpu": "EPYC 9654",
 "memory_bytes": 412316860416, "gpus": [], "firmware": null, "devices": []}}"#
    )
}

/// An experiment of `command` cells that print `value=N` for each N in `values`: results
/// without a model or llama.cpp.
fn echo(values: &str) -> String {
    format!(
        r#"experiment "echo" {{
    matrix {{ n {values} }}
    command {{
        args "sh" "-c" "echo value={{n}}"
        metric "value" regex="value=([0-9]+)"
    }}
}}
"#
    )
}

/// A host-facts file may give a short id (1 to 64 hex digits); two hosts sharing a name with
/// 2-digit ids made `run`, `report` and `compare` panic where they cut ids to 8 digits.
#[test]
fn short_host_ids_and_shared_names_do_not_panic() {
    let directory = project(&[
        ("experiments/echo.kdl", &echo("1 2")),
        ("hosts/a.json", &facts("ab", "twin", "6.12.1")),
        ("hosts/b.json", &facts("cd", "twin", "6.12.2")),
    ]);
    let on = |host: &str, args: &[&str]| {
        Bakeoff::new(directory.path()).args(["--host-facts", &format!("hosts/{host}.json")]).args(args).run()
    };
    for host in ["a", "b"] {
        let outcome = on(host, &["run", "--no-progress"]);
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    }
    let report = on("a", &["report"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let markdown = std::fs::read_to_string(directory.path().join("results/echo/README.md")).unwrap();
    assert!(markdown.contains("twin (ab)") && markdown.contains("twin (cd)"), "{markdown}");
    let compare = on("a", &["compare", "--host", "ab", "--host", "cd"]);
    assert_eq!(compare.code, 0, "{}", compare.stderr);
    assert!(compare.stdout.contains("twin (cd) against twin (ab)"), "{}", compare.stdout);
    let unknown = on("a", &["compare", "--host", "ef"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("twin (ab) (id ab)"), "{}", unknown.stderr);
}

/// gc matched log names to record hashes and so removed `server-<hash>.log`, the log of the
/// llama-server a kept record's cell started: the store now says which record a log is of.
#[test]
fn gc_keeps_the_server_log_of_a_kept_record() {
    let directory = project(&[("experiments/echo.kdl", &echo("1"))]);
    let run = Bakeoff::new(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let kept = crate::support::records(directory.path())[0].hash.clone();
    let logs = directory.path().join("results/logs");
    let gone = "0".repeat(64);
    for name in
        [format!("server-{kept}.log"), format!("server-{gone}.log"), format!("{gone}.log"), "notes.log".to_owned()]
    {
        std::fs::write(logs.join(name), "log").unwrap();
    }
    let gc = Bakeoff::new(directory.path()).arg("gc").run();
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    let mut left: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    // The campaign's journal is no cell's log: it stays.
    assert_eq!(
        left,
        [format!("{kept}.log"), "journal.jsonl".to_owned(), "notes.log".to_owned(), format!("server-{kept}.log")],
        "{}",
        gc.stdout
    );
    assert!(
        gc.stdout.contains(&format!("removed results/logs/server-{gone}.log  (log of no kept record)")),
        "{}",
        gc.stdout
    );
}

/// Colour was on unless `NO_COLOR`, whatever stderr was: escape codes went into pipes and
/// logs. `auto` colours only a terminal; `--color always` and `never` decide.
#[test]
fn colour_only_where_a_person_reads_it() {
    let directory = project(&[("experiments/bad.kdl", "experiment \"bad\" {\n    matrix { n 1 }\n}\n")]);
    let check = |args: &[&str]| {
        let mut bakeoff = Bakeoff::new(directory.path());
        bakeoff.env_remove("NO_COLOR").arg("check").args(args);
        bakeoff.run()
    };
    let piped = check(&[]);
    assert_eq!(piped.code, 2, "{}", piped.stderr);
    assert!(piped.stderr.contains("has nothing to run"), "{}", piped.stderr);
    assert!(!piped.stderr.contains('\u{1b}'), "escape codes in a pipe: {:?}", piped.stderr);
    assert!(check(&["--color", "always"]).stderr.contains("\u{1b}["), "--color always colours");
    assert!(!check(&["--color", "never"]).stderr.contains('\u{1b}'));
}

/// Records broken three ways (cut short, a field of the wrong type, another format): every
/// command names the file and goes on; planning calls each cell blocked with that reason
/// (the store's record head once called another format cached while scans called it
/// corrupt), and a run leaves the files as they are for someone to restore.
#[test]
fn corrupt_records_are_named_by_every_command_and_never_overwritten() {
    let directory = project(&[
        ("experiments/echo.kdl", &echo("1 2 3 4")),
        ("hosts/a.json", &facts("ab", "one", "6.12.1")),
        ("hosts/b.json", &facts("cd", "two", "6.12.2")),
    ]);
    let on = |host: &str, args: &[&str]| {
        Bakeoff::new(directory.path()).args(["--host-facts", &format!("hosts/{host}.json")]).args(args).run()
    };
    assert_eq!(on("a", &["run", "--no-progress"]).code, 0);
    assert_eq!(on("b", &["run", "--no-progress"]).code, 0);
    let mut records = crate::support::records(directory.path());
    records.retain(|record| record.host.id == "ab");
    records.sort_by(|a, b| a.cell.cmp(&b.cell));
    let path = |hash: &str| directory.path().join(format!("results/cells/{}/{hash}.json", &hash[..2]));
    let text = |hash: &str| std::fs::read_to_string(path(hash)).unwrap();
    let broken = [
        (records[0].hash.clone(), text(&records[0].hash)[..100].to_owned()),
        (records[1].hash.clone(), text(&records[1].hash).replacen("\"status\": \"ok\"", "\"status\": 7", 1)),
        (records[2].hash.clone(), text(&records[2].hash).replacen("\"format\": 1", "\"format\": 99", 1)),
    ];
    for (hash, content) in &broken {
        std::fs::write(path(hash), content).unwrap();
    }
    let plan = on("a", &["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.ends_with("4 cells: 1 cached, 0 to run, 3 blocked\n"), "{}", plan.stdout);
    for (hash, _) in &broken {
        let reason = format!("{hash}.json` is corrupt: ");
        let line = plan.stdout.lines().find(|line| line.contains(&reason)).unwrap_or_else(|| panic!("{}", plan.stdout));
        assert!(line.ends_with("restore it from git, or delete it so that the cell runs again"), "{line}");
    }
    let run = on("a", &["run", "--no-progress"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (hash, content) in &broken {
        assert_eq!(&text(hash), content, "a run wrote over a corrupt record");
    }
    for args in [&["report"][..], &["compare"], &["why", "echo/n=4,toolbox=host/command"], &["gc", "--dry-run"]] {
        let outcome = on("a", args);
        assert!(outcome.code == 0, "{args:?}: {}", outcome.stderr);
        for (hash, _) in &broken {
            assert!(outcome.stderr.contains(&format!("{hash}.json` is corrupt")), "{args:?}: {}", outcome.stderr);
        }
    }
}

/// Comparing on a laptop the records two servers committed: no model files, no lock. compare
/// said "nothing to compare" since it could not hash the model to find the cells; the records'
/// own fingerprints pair them, and a note names the input it could not hash.
#[test]
fn compare_and_report_work_from_the_records_alone() {
    let directory = project(&[
        (
            "experiments/echo.kdl",
            r#"model "tiny" { file "tiny.gguf" }
experiment "echo" {
    matrix {
        model "tiny"
        n 1 2
    }
    command {
        args "sh" "-c" "echo value={n}" "{model}"
        metric "value" regex="value=([0-9]+)"
    }
}
"#,
        ),
        ("models/tiny.gguf", "tiny"),
        ("hosts/a.json", &facts("aaaa1111", "server-a", "6.12.1")),
        ("hosts/b.json", &facts("bbbb2222", "server-b", "6.12.2")),
    ]);
    let on = |host: &str, args: &[&str]| {
        Bakeoff::new(directory.path())
            .args(["--host-facts", &format!("hosts/{host}.json"), "--models", "models"])
            .args(args)
            .run()
    };
    assert_eq!(on("a", &["run", "--no-progress"]).code, 0);
    assert_eq!(on("b", &["run", "--no-progress"]).code, 0);
    std::fs::remove_dir_all(directory.path().join("models")).unwrap();
    std::fs::create_dir(directory.path().join("models")).unwrap();
    let compare = on("a", &["compare", "--json"]);
    assert_eq!(compare.code, 0, "{}", compare.stderr);
    assert!(compare.stderr.contains("note: `tiny` cannot be hashed here"), "{}", compare.stderr);
    let value: serde_json::Value = serde_json::from_str(&compare.stdout).unwrap();
    let rows = value["comparisons"][0]["rows"].as_array().unwrap();
    // `peak_rss_bytes` is there too when the short command was read before it ended.
    let values: Vec<_> = rows.iter().filter(|row| row["metric"] == "value").collect();
    assert_eq!(values.len(), 2, "both cells measured on both hosts: {}", compare.stdout);
    let report = on("a", &["report"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let markdown = std::fs::read_to_string(directory.path().join("results/echo/README.md")).unwrap();
    assert!(markdown.contains("2 cells: 2 ok"), "{markdown}");
}

/// Two machines that each ran and committed, then merge: records never collide (one file per
/// cell hash, the host id in it), and the reports both rewrote merge without a conflict (the
/// merge keeps one, `bakeoff report` rewrites it from the merged records).
#[test]
fn two_clones_that_each_ran_and_committed_merge_cleanly() {
    let origin = project(&[
        ("experiments/echo.kdl", &echo("1 2")),
        ("hosts/a.json", &facts("aaaa1111", "box-a", "6.12.1")),
        ("hosts/b.json", &facts("bbbb2222", "box-b", "6.12.2")),
        (".gitignore", "results/logs/\nresults/.lock\n"),
    ]);
    let git = |directory: &std::path::Path, args: &[&str]| {
        let output = std::process::Command::new("git")
            .arg("-C")
            .arg(directory)
            .args(args)
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
            .output()
            .expect("git runs");
        (
            output.status.success(),
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
        )
    };
    assert!(git(origin.path(), &["init", "-q", "-b", "main"]).0);
    assert!(git(origin.path(), &["add", "-A"]).0);
    assert!(git(origin.path(), &["commit", "-q", "-m", "experiments"]).0);
    let clones = tempfile::tempdir().unwrap();
    for (name, host) in [("a", "a"), ("b", "b")] {
        let clone = clones.path().join(name);
        assert!(git(clones.path(), &["clone", "-q", &origin.path().display().to_string(), name]).0);
        let run =
            Bakeoff::new(&clone).args(["--host-facts", &format!("hosts/{host}.json"), "run", "--no-progress"]).run();
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains("reports merge without conflicts"), "{}", run.stderr);
        assert!(git(&clone, &["add", "-A"]).0);
        assert!(git(&clone, &["commit", "-q", "-m", &format!("results of box-{host}")]).0);
    }
    let (a, b) = (clones.path().join("a"), clones.path().join("b"));
    // Both changed results/echo/README.md (and its chart): the merge must not stop on them.
    let (merged, output) = git(&b, &["pull", "-q", "--no-rebase", &a.display().to_string(), "main"]);
    assert!(merged, "{output}");
    assert!(git(&b, &["diff", "--name-only", "--diff-filter=U"]).1.is_empty(), "conflicted files left");
    let records = crate::support::records(&b);
    assert_eq!(records.len(), 4, "both machines' records");
    let report = Bakeoff::new(&b).args(["--host-facts", "hosts/b.json", "report"]).run();
    assert_eq!(report.code, 0, "{}", report.stderr);
    let markdown = std::fs::read_to_string(b.join("results/echo/README.md")).unwrap();
    assert!(markdown.contains("box-a") && markdown.contains("box-b"), "{markdown}");
}

/// A tmpfs of the test's own, unmounted when the test ends.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .unwrap();
        assert!(
            mounted.success(),
            "cannot mount a tmpfs at {}: the tests run as root (scripts/test.sh)",
            path.display()
        );
        Self(path.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// The results disk fills up mid-run: the run stops with an error naming the record it could
/// not write and what to do, no record is corrupt, the reports that could not be written are
/// said once and counted; with room again, the next run completes the campaign.
#[test]
fn a_full_results_disk_loses_nothing_and_the_next_run_completes() {
    let directory = project(&[(
        "experiments/fill.kdl",
        r#"experiment "fill" {
    matrix { n 1 2 3 4 5 6 7 8 9 10 }
    command {
        args "sh" "-c" "head -c 300000 /dev/zero | tr '\\0' x; echo; echo value={n}"
        metric "value" regex="value=([0-9]+)"
    }
}
"#,
    )]);
    let results = directory.path().join("small-disk");
    let _disk = SmallDisk::mount(&results, "1m");
    let run = || Bakeoff::new(directory.path()).arg("--results").arg(&results).args(["run", "--no-progress"]).run();
    let full = run();
    assert_eq!(full.code, 1, "{}", full.stderr);
    assert!(full.stderr.contains("cannot write result record `"), "{}", full.stderr);
    assert!(full.stderr.contains("No space left on device"), "{}", full.stderr);
    assert!(
        crate::support::unwrapped(&full.stderr).contains("help: make room on the disk that holds the results"),
        "{}",
        full.stderr
    );
    let kept = crate::support::records_in(&results);
    assert!(!kept.is_empty() && kept.len() < 10, "some cells were recorded before the disk filled: {}", kept.len());
    assert!(full.stderr.matches("cannot write the report of `fill`").count() <= 1, "said once: {}", full.stderr);

    // Room again: the logs go (they are not results), and the campaign completes.
    std::fs::remove_dir_all(results.join("logs")).unwrap();
    let free = std::process::Command::new("mount").args(["-o", "remount,size=64m"]).arg(&results).status().unwrap();
    assert!(free.success());
    let rest = run();
    assert_eq!(rest.code, 0, "{}", rest.stderr);
    assert!(rest.stdout.contains(&format!("{} cached", kept.len())), "{}", rest.stdout);
    let all = crate::support::records_in(&results);
    assert_eq!(all.len(), 10);
    assert!(all.iter().all(|record| record.status == bakeoff::store::Status::Ok));
}
