//! `bakeoff why CELL` and `bakeoff host`.

use crate::support::{Scratch, fixture, without_hashes};

#[test]
fn why_shows_the_fingerprint_and_the_diff_against_the_nearest_result() {
    let scratch = Scratch::new();
    let facts = fixture("hosts/strix-1.json");
    let facts_arg = facts.to_str().unwrap();
    scratch.seed_results(&facts, &["quickstart"]);
    scratch.edit("experiments/quickstart.kdl", "\"-r\" 3", "\"-r\" 5");
    let cell = "quickstart/model=gemma-3-270m-q4,toolbox=host,threads=2/bench";
    let why = scratch.bakeoff().args(["--host-facts", facts_arg, "why", cell]).run();
    assert_eq!(why.code, 0, "{}", why.stderr);
    insta::assert_snapshot!("why_quickstart", without_hashes(&why.stdout));

    let json = scratch.bakeoff().args(["--host-facts", facts_arg, "why", cell, "--json"]).run();
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["nearest"]["changes"][0]["field"], "argv[10]");
    assert_eq!(value["nearest"]["changes"][0]["old"], "3");
    assert_eq!(value["nearest"]["changes"][0]["new"], "5");

    let by_hash = value["hash"].as_str().unwrap()[..10].to_owned();
    let again = scratch.bakeoff().args(["--host-facts", facts_arg, "why", &by_hash]).run();
    assert!(again.stdout.starts_with(&format!("cell     {cell}\n")), "{}", again.stdout);

    let unknown = scratch.bakeoff().args(["why", "quickstart/nope"]).run();
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("no cell matches `quickstart/nope`"), "{}", unknown.stderr);
}

#[test]
fn host_lists_facts_and_toolbox_verdicts() {
    let scratch = Scratch::new();
    let host = scratch.bakeoff().args(["--host-facts", fixture("hosts/strix-2.json").to_str().unwrap(), "host"]).run();
    assert_eq!(host.code, 0, "{}", host.stderr);
    insta::assert_snapshot!("host_strix_2", host.stdout);

    let probed = scratch.bakeoff().args(["host", "--json"]).run();
    assert_eq!(probed.code, 0, "{}", probed.stderr);
    let value: serde_json::Value = serde_json::from_str(&probed.stdout).unwrap();
    assert!(value["facts"]["memory_bytes"].as_u64().unwrap() > 0);
    let id = value["facts"]["id"].as_str().unwrap();
    assert!(id.len() == 16 && id.bytes().all(|byte| byte.is_ascii_hexdigit()), "{id}");
    // A name is a label: the id stays the machine's.
    let named = scratch.bakeoff().args(["--host-name", "bench-box", "host", "--json"]).run();
    let named: serde_json::Value = serde_json::from_str(&named.stdout).unwrap();
    assert_eq!(named["facts"]["name"], "bench-box");
    assert_eq!(named["facts"]["id"], id);
    assert_eq!(value["toolboxes"]["host"]["ok"], true);
    // This machine has no /dev/kfd, so the ROCm toolboxes are blocked here.
    assert_eq!(value["toolboxes"]["llama-rocm-6.4.4"]["ok"], false);

    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), r#"{"kernal": "6.18"}"#).unwrap();
    let refused = scratch.bakeoff().args(["--host-facts", bad.path().to_str().unwrap(), "host"]).run();
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("unknown field `kernal`"), "{}", refused.stderr);
}
