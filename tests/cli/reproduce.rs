//! Two machines played on one: the same checkout, two model roots holding the Gemma file at
//! different paths, two `--host-facts` files. Machine B verifies the lock, reproduces the
//! quickstart with the real llama-bench, and `compare` sets both hosts' numbers side by side.

use std::path::{Path, PathBuf};

use bakeoff::fingerprint::diff;
use sha2::{Digest, Sha256};

use crate::support::{Bakeoff, Llama, copy_quickstart, records};

const MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

struct Machine {
    facts: PathBuf,
    models: PathBuf,
}

impl Machine {
    fn new(directory: &Path, name: &str, facts: &serde_json::Value, model: Option<&[u8]>, llama: &Llama) -> Self {
        let models = directory.join(name).join("models");
        std::fs::create_dir_all(&models).unwrap();
        match model {
            Some(bytes) => std::fs::write(models.join(MODEL_FILE), bytes).unwrap(),
            None => std::os::unix::fs::symlink(&llama.model, models.join(MODEL_FILE)).unwrap(),
        }
        let path = directory.join(format!("{name}.json"));
        std::fs::write(&path, facts.to_string()).unwrap();
        Self { facts: path, models }
    }

    fn bakeoff(&self, llama: &Llama, project: &Path) -> Bakeoff {
        let mut bakeoff = Bakeoff::new(project);
        bakeoff.env("PATH", llama.path(None)).arg("--models").arg(&self.models).arg("--host-facts").arg(&self.facts);
        bakeoff
    }
}

fn facts(name: &str, kernel: &str, cpu: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name, "kernel": kernel, "os": "Fedora Linux 43", "cpu": cpu,
        "memory_bytes": 68_719_476_736_u64, "gpus": [], "firmware": "20260110", "devices": []
    })
}

#[test]
fn a_second_machine_verifies_the_lock_reproduces_and_compares() {
    let llama = Llama::get();
    let project = tempfile::tempdir().unwrap();
    let project = project.path();
    copy_quickstart(project);
    let machines = tempfile::tempdir().unwrap();
    let weights = std::fs::read(&llama.model).unwrap();
    let pinned = bakeoff::digest::hex(&Sha256::digest(&weights));
    let a = Machine::new(
        machines.path(),
        "a",
        &facts("box-a", "6.18.9-200.fc43.x86_64", "AMD RYZEN AI MAX+ 395"),
        None,
        &llama,
    );
    // B holds its own copy of the file, at another path.
    let b = Machine::new(
        machines.path(),
        "b",
        &facts("box-b", "6.12.0-55.el10.x86_64", "AMD EPYC 9454P"),
        Some(&weights),
        &llama,
    );

    let locked = a.bakeoff(&llama, project).arg("lock").run();
    assert_eq!(locked.code, 0, "{}", locked.stderr);
    let ran = a.bakeoff(&llama, project).args(["run", "quickstart", "--no-progress"]).run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);

    // B plans against the lock: its copy hashes to the pinned sha256, and every cell runs again
    // here because only the host facts differ.
    let plan = b.bakeoff(&llama, project).args(["plan", "quickstart"]).run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.ends_with("2 cells: 0 cached, 2 to run, 0 blocked\n"), "{}", plan.stdout);

    let reproduced = b.bakeoff(&llama, project).args(["reproduce", "quickstart", "--no-progress"]).run();
    assert_eq!(reproduced.code, 0, "{}", reproduced.stderr);
    let stdout = &reproduced.stdout;
    assert!(stdout.starts_with("# quickstart\n\n## box-b against box-a\n"), "{stdout}");
    assert!(stdout.contains("| kernel | 6.18.9-200.fc43.x86_64 | 6.12.0-55.el10.x86_64 |"), "{stdout}");
    assert!(stdout.contains("| cpu | AMD RYZEN AI MAX+ 395 | AMD EPYC 9454P |"), "{stdout}");
    assert!(!stdout.contains("| firmware |"), "the same on both: {stdout}");
    assert!(stdout.contains("2 cells measured on both."), "{stdout}");

    // Four records in four files: each host wrote its own, and the fingerprints of one cell differ
    // only in host facts (the model enters by its hash, not its path).
    let records = records(project);
    assert_eq!(records.len(), 4);
    for record in records.iter().filter(|record| record.host.name == "box-a") {
        let twin = records.iter().find(|other| other.host.name == "box-b" && other.cell == record.cell).unwrap();
        assert_ne!(twin.hash, record.hash);
        let fields: Vec<String> =
            diff(&record.fingerprint, &twin.fingerprint).into_iter().map(|change| change.field).collect();
        assert_eq!(fields, ["host.cpu", "host.id", "host.kernel"], "{}", record.cell);
        assert!(record.fingerprint.argv.contains(&format!("sha256:{pinned}")), "{:?}", record.fingerprint.argv);
    }

    // The same comparison for scripts: real llama-bench numbers from both hosts, with ratios.
    let json = b
        .bakeoff(&llama, project)
        .args(["compare", "quickstart", "--host", "box-a", "--host", "box-b", "--json"])
        .run();
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let comparison = &value["comparisons"][0];
    assert_eq!((comparison["reference"].as_str(), comparison["other"].as_str()), (Some("box-a"), Some("box-b")));
    let rows = comparison["rows"].as_array().unwrap();
    let metrics: Vec<&str> = rows.iter().map(|row| row["metric"].as_str().unwrap()).collect();
    assert_eq!(metrics, ["pp64", "pp64", "tg16", "tg16"]);
    for row in rows {
        let (first, second) = (row["reference"]["mean"].as_f64().unwrap(), row["other"]["mean"].as_f64().unwrap());
        assert!(first > 1.0 && second > 1.0, "{row}");
        assert_eq!(row["reference"]["samples"], 3);
        assert!((row["ratio"].as_f64().unwrap() - second / first).abs() < 1e-9, "{row}");
        assert_eq!(row["verdict"]["verdict"], "not-enough-rounds", "{row}");
    }
    let differing: Vec<&str> =
        comparison["differences"].as_array().unwrap().iter().map(|fact| fact["fact"].as_str().unwrap()).collect();
    assert_eq!(differing, ["kernel", "cpu"]);

    // The report, rewritten by B's run, has the comparison too.
    let report = std::fs::read_to_string(project.join("results/quickstart/README.md")).unwrap();
    assert!(report.contains("## Hosts compared\n\n### box-b against box-a\n"), "{report}");

    // A copy with one byte changed is refused before anything runs, with both hashes.
    let mut corrupt = weights.clone();
    corrupt[weights.len() / 2] ^= 0x01;
    let found = bakeoff::digest::hex(&Sha256::digest(&corrupt));
    let c = Machine::new(
        machines.path(),
        "c",
        &facts("box-c", "6.12.0-55.el10.x86_64", "AMD EPYC 9454P"),
        Some(&corrupt),
        &llama,
    );
    let refused = c.bakeoff(&llama, project).args(["reproduce", "quickstart", "--no-progress"]).run();
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    let stderr = crate::support::unwrapped(&refused.stderr);
    assert!(
        stderr.contains(&format!("locked sha256 {pinned} (253113024 bytes), found sha256 {found} (253113024 bytes)")),
        "{stderr}"
    );
    assert_eq!(crate::support::records(project).len(), 4, "nothing ran");

    // A machine without the model is told where bakeoff looked and what it expects.
    let empty = machines.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let missing = Bakeoff::new(project)
        .env("PATH", llama.path(None))
        .args(["--models", empty.to_str().unwrap(), "--host-facts", c.facts.to_str().unwrap(), "plan", "quickstart"])
        .run();
    assert_eq!(missing.code, 0, "{}", missing.stderr);
    let stdout = crate::support::unwrapped(&missing.stdout);
    assert!(stdout.contains(&format!("is not under any model root (looked in `{}`)", empty.display())), "{stdout}");
    assert!(
        stdout.contains(&format!("bakeoff.lock expects sha256 {pinned} and 253113024 bytes (241.4 MiB)")),
        "{stdout}"
    );
}
