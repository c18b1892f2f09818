//! Inputs no other test uses: odd but valid files must not panic a command.

use crate::support::{Bakeoff, project};

fn facts(id: &str, name: &str, kernel: &str) -> String {
    format!(
        r#"{{"id": "{id}", "name": "{name}", "kernel": "{kernel}", "os": "Debian GNU/Linux 12", "cpu": "EPYC 9654",
 "memory_bytes": 412316860416, "gpus": [], "firmware": null, "devices": []}}"#
    )
}

/// A host-facts file may give a short id (1 to 64 hex digits); two hosts sharing a name with
/// 2-digit ids made `run`, `report` and `compare` panic where they cut ids to 8 digits.
#[test]
fn short_host_ids_and_shared_names_do_not_panic() {
    let directory = project(&[
        (
            "experiments/echo.kdl",
            r#"experiment "echo" {
    matrix { n 1 2 }
    command {
        args "sh" "-c" "echo value={n}"
        metric "value" regex="value=([0-9]+)"
    }
}
"#,
        ),
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
