//! `bakeoff log`: the journal of what runs did, read back after a campaign with a retry, a
//! stop, skips, a blocked cell and a Ctrl-C, whole and filtered.

use std::time::{Duration, Instant};

use crate::support::{Bakeoff, interrupt, processes_matching, project};

#[test]
fn the_journal_shows_retries_stops_skips_blocks_and_a_signal_in_order() {
    let directory = project(&[(
        "experiments/campaign.kdl",
        r#"toolbox "needy" {
    runner "host"
    requires {
        kernel ">=999.0" reason="a kernel from the future"
    }
}
toolbox "other" {
    runner "host"
}
experiment "campaign" {
    matrix { n 1 2 3 4 }
    command {
        args "sh" "-c" "case {n} in 1) if [ -e tried ]; then echo v=1; else touch tried; exit 1; fi;; *) echo broken-{n} >&2; exit 2;; esac"
        metric "v" regex="v=([0-9]+)"
    }
    retries 1
    stop-after 2
}
experiment "future" {
    matrix { toolbox "needy" }
    command { args "true" }
}
experiment "long" {
    matrix { toolbox "other" }
    command { args "sleep" "31.4159" }
}
"#,
    )]);
    let root = directory.path();
    let mut child = Bakeoff::new(root).args(["run", "--no-progress"]).spawn();
    let started = Instant::now();
    while processes_matching("sleep 31.4159") == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "the long cell never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));

    let log = Bakeoff::new(root).arg("log").run();
    assert_eq!(log.code, 0, "{}", log.stderr);
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert!(lines[0].starts_with("run of "), "{}", log.stdout);
    // Each in the order it happened.
    let expected = [
        "start     ",
        "decide    campaign/n=1,toolbox=host/command: new",
        "blocked   future/toolbox=needy/command: toolbox `needy`",
        "info      attempt 1 of 2 of campaign/n=1,toolbox=host/command failed: exit code 1; retrying",
        "ok        campaign/n=1,toolbox=host/command: in ",
        "failed    campaign/n=2,toolbox=host/command: exit code 2 (after 2 attempts)",
        "warning   toolbox `host` failed 2 cells in a row",
        "failed    campaign/n=3,toolbox=host/command: exit code 2 (after 2 attempts)",
        "skip      campaign/n=4,toolbox=host/command: skipped: toolbox `host` failed 2 cells in a row",
        "signal    interrupted by signal 2 (SIGINT)",
        "end       ",
    ];
    let mut at = 0;
    for wanted in expected {
        let found = lines[at..].iter().position(|line| line.get(12..).is_some_and(|rest| rest.starts_with(wanted)));
        let found = found.unwrap_or_else(|| panic!("no `{wanted}` after line {at}:\n{}", log.stdout));
        at += found + 1;
    }
    assert_eq!(log.stdout.matches("a kernel from the future").count(), 1, "said once: {}", log.stdout);
    assert!(!log.stdout.contains("long/toolbox=other/command: in"), "the interrupted cell has no outcome");

    // Only what went wrong, of one experiment, with its run's start and end.
    let errors = Bakeoff::new(root).args(["log", "--errors", "campaign"]).run();
    assert_eq!(errors.code, 0, "{}", errors.stderr);
    let kinds: Vec<&str> =
        errors.stdout.lines().skip(1).map(|line| line[12..].split_whitespace().next().unwrap()).collect();
    assert_eq!(kinds, ["start", "failed", "failed", "skip", "end"], "{}", errors.stdout);

    // A second run appends; `--since` a moment between them shows only it.
    std::thread::sleep(Duration::from_millis(1100));
    let between = bakeoff_utc_now();
    std::thread::sleep(Duration::from_millis(1100));
    let second = Bakeoff::new(root).args(["run", "--no-progress", "campaign"]).run();
    // The skipped cell runs, and fails as its neighbours did.
    assert_eq!(second.code, 4, "{}", second.stderr);
    let recent = Bakeoff::new(root).args(["log", "--since", &between]).run();
    assert_eq!(recent.stdout.matches("run of ").count(), 1, "{}", recent.stdout);
    assert!(
        recent.stdout.contains("decide    campaign/n=4,toolbox=host/command: skipped last time"),
        "{}",
        recent.stdout
    );
    assert!(!recent.stdout.contains("campaign/n=1"), "{}", recent.stdout);
    let bad = Bakeoff::new(root).args(["log", "--since", "yesterday"]).run();
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("`--since yesterday` is neither"), "{}", bad.stderr);

    // A run killed in the middle of a line: the rest reads, and the cut line is counted.
    let journal = root.join("results/logs/journal.jsonl");
    let mut text = std::fs::read(&journal).unwrap();
    text.extend_from_slice(br#"{"at_unix_ms":17964"#);
    std::fs::write(&journal, text).unwrap();
    let cut = Bakeoff::new(root).arg("log").run();
    assert_eq!(cut.code, 0, "{}", cut.stderr);
    assert_eq!(cut.stdout.matches("run of ").count(), 2, "{}", cut.stdout);
    assert!(cut.stderr.contains("1 line(s) of"), "{}", cut.stderr);
}

/// Now, in UTC, as `--since` reads it (`2026-12-04T18:30:05`).
fn bakeoff_utc_now() -> String {
    let output = std::process::Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%S"]).output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
