//! `bakeoff why CELL` and `bakeoff host`.

use crate::support::{Bakeoff, Scratch, fixture, without_hashes};

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
    assert_eq!(value["nearest"]["changes"][0]["field"], "argv -r");
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

/// `why` took the first of several cells whose hashes start alike; it now lists them.
#[test]
fn an_ambiguous_hash_prefix_lists_the_cells_it_matches() {
    let many: String = (1..=1000).map(|n| n.to_string()).collect::<Vec<_>>().join(" ");
    let manifest =
        format!("experiment \"many\" {{\n    matrix {{ n {many} }}\n    command {{ args \"true\" \"{{n}}\" }}\n}}\n");
    let directory = crate::support::project(&[("experiments/many.kdl", &manifest)]);
    let facts = fixture("hosts/strix-1.json");
    let bakeoff = || {
        let mut bakeoff = Bakeoff::new(directory.path());
        bakeoff.args(["--host-facts", facts.to_str().unwrap()]);
        bakeoff
    };
    let plan: serde_json::Value = serde_json::from_str(&bakeoff().args(["plan", "--json"]).run().stdout).unwrap();
    let mut hashes: Vec<(String, String)> = plan["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cell| (cell["hash"].as_str().unwrap().to_owned(), cell["id"].as_str().unwrap().to_owned()))
        .collect();
    hashes.sort();
    // 1,000 hashes: some two share their first 4 hex digits (the inputs are fixed, so always the same two).
    let (first, second) = hashes
        .windows(2)
        .find(|pair| pair[0].0[..4] == pair[1].0[..4])
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .expect("two of 1,000 cell hashes share 4 hex digits");
    let outcome = bakeoff().args(["why", &first.0[..4]]).run();
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    let stderr = crate::support::unwrapped(&outcome.stderr);
    assert!(stderr.contains(&format!("`{}` matches", &first.0[..4])), "{stderr}");
    for (hash, id) in [&first, &second] {
        assert!(stderr.contains(&format!("{id} ({})", &hash[..12])), "{stderr}");
    }
    // A longer prefix that only one of them has still finds it.
    let unique = (5..64).map(|length| &first.0[..length]).find(|prefix| !second.0.starts_with(prefix)).unwrap();
    let found = bakeoff().args(["why", unique]).run();
    assert_eq!(found.code, 0, "{}", found.stderr);
    assert!(found.stdout.contains(&first.1), "{}", found.stdout);
}
