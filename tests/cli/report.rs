//! `bakeoff report`: the research report written from the store alone.

use std::path::Path;

use bakeoff::project::{Project, Settings};
use bakeoff::store::{CellRecord, Failure, MetricValue, Status};

use crate::support::{Bakeoff, Llama, fixture, project, records, repo};

const GLM: &str = r#"
toolbox "radv" {
    runner "toolbox"
    image "docker.io/kyuz0/amd-strix-halo-toolboxes:vulkan-radv"
}
toolbox "rocm" {
    runner "toolbox"
    image "docker.io/kyuz0/amd-strix-halo-toolboxes:rocm-7.14"
    requires {
        firmware "!=20251125" reason="linux-firmware 20251125 breaks ROCm"
    }
}
model "bf16" { file "GLM-4.7-Flash-BF16.gguf" }
model "q8" { file "GLM-4.7-Flash-Q8_K_XL.gguf" }
experiment "glm" {
    description "GLM-4.7-Flash: Q8 against BF16 on Vulkan and ROCm as the context grows"
    matrix {
        model "bf16" "q8"
        toolbox "radv" "rocm"
        ctx 4096 16384 65536
    }
    bench {
        args "-d" "{ctx}" "-p" 512 "-n" 128 "-r" 3
    }
    report {
        baseline model="bf16"
        table rows="model" columns="toolbox" metric="tg128"
        table rows="ctx" columns="toolbox" metric="pp512"
    }
}
"#;

const LOCK: &str = r#"{
  "format": 1,
  "models": {
    "bf16": { "file": "GLM-4.7-Flash-BF16.gguf", "sha256": "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1", "size": 59914815488 },
    "q8": { "file": "GLM-4.7-Flash-Q8_K_XL.gguf", "sha256": "c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8", "size": 34816000000 }
  },
  "files": {},
  "toolboxes": {}
}
"#;

fn metric(mean: f64, stddev: f64) -> MetricValue {
    MetricValue {
        mean,
        stddev: Some(stddev),
        unit: "t/s".to_owned(),
        samples: vec![mean - stddev, mean, mean + stddev],
        rounds: None,
    }
}

/// The store of two Strix Halo boxes that ran the GLM matrix: strix-1 ran everything but one
/// cell and saw one fail; strix-2 (linux-firmware 20251125) ran the Vulkan cells and found the
/// `ROCm` ones blocked. Metrics are made up: the report is what is under test here.
fn seed_two_hosts(directory: &Path) {
    seed_two_hosts_in_rounds(directory, &[]);
}

/// As `seed_two_hosts`; with `rounds` (one factor per round), each ok cell's metrics are
/// measured in rounds, each round's value the cell's value times its factor.
/// What llama.cpp said the glm cells ran on; strix-2 (`index` 1) has a newer Mesa.
fn ran_on(toolbox: &str, index: usize) -> bakeoff::store::RanOn {
    let vulkan = toolbox == "radv";
    bakeoff::store::RanOn {
        backend: if vulkan { "Vulkan" } else { "ROCm" }.to_owned(),
        devices: vec![
            if vulkan { "AMD Radeon 8060S Graphics (RADV GFX1151)" } else { "AMD Radeon Graphics" }.to_owned(),
        ],
        driver: Some(match (vulkan, index) {
            (true, 0) => "Mesa 25.3.1, radv".to_owned(),
            (true, _) => "Mesa 25.3.4, radv".to_owned(),
            (false, _) => "ROCm 7.14.0".to_owned(),
        }),
        offloaded: None,
        built_for: if vulkan { "Vulkan" } else { "ROCm" }.to_owned(),
    }
}

pub(crate) fn seed_two_hosts_in_rounds(directory: &Path, rounds: &[f64]) {
    let project = Project::new(&Settings {
        project: directory.to_path_buf(),
        results: None,
        models: Vec::new(),
        host_facts: None,
        host_name: None,
        no_cache: false,
        storage: None,
    });
    let loaded = project.load(&[]).unwrap();
    for (index, name) in ["strix-1", "strix-2"].iter().enumerate() {
        let host = bakeoff::host::HostFacts::load(&fixture(&format!("hosts/{name}.json"))).unwrap();
        let cells = project.resolve_uninspected(&loaded, &host).unwrap();
        assert_eq!(cells.len(), 12);
        for cell in cells {
            let value = |axis: &str| cell.cell.value(axis).unwrap().to_owned();
            let (model, toolbox, ctx) = (value("model"), value("toolbox"), value("ctx"));
            if name == &"strix-1" && model == "q8" && toolbox == "rocm" && ctx == "65536" {
                continue; // not run yet
            }
            // The models are not on this machine (their hashes come from the lock): only the
            // toolbox requirements decide what is blocked on these hosts.
            let blocked: Vec<&String> = cell.blocked.iter().filter(|reason| reason.starts_with("toolbox")).collect();
            let status = if !blocked.is_empty() {
                Status::Blocked
            } else if model == "bf16" && toolbox == "rocm" && ctx == "65536" {
                Status::Failed
            } else {
                Status::Ok
            };
            let mut record = CellRecord::new(&cell, &host, status);
            record.fingerprint.toolbox.llama_cpp = Some(if index == 0 { "b7100" } else { "b7085" }.to_owned());
            record.fingerprint.toolbox.digest =
                Some(format!("sha256:{}", if toolbox == "radv" { "4a5e" } else { "7c0d" }));
            record.hash = record.fingerprint.hash();
            record.timings.started_unix_ms = 1_795_305_600_000 + 60_000 * (index as u64);
            record.ran_on = (status != Status::Blocked).then(|| ran_on(&toolbox, index));
            match status {
                Status::Ok => {
                    let host_factor = if index == 0 { 1.0 } else { 0.97 };
                    let context = match ctx.as_str() {
                        "4096" => 1.0,
                        "16384" => 0.85,
                        _ => 0.6,
                    };
                    let generation =
                        if model == "q8" { 48.0 } else { 20.0 } * if toolbox == "rocm" { 0.9 } else { 1.0 };
                    let prompt = if model == "q8" { 900.0 } else { 610.0 } * if toolbox == "rocm" { 1.3 } else { 1.0 };
                    record.metrics.insert("tg128".to_owned(), metric(generation * context * host_factor, 0.4));
                    record.metrics.insert("pp512".to_owned(), metric(prompt * context * host_factor, 6.0));
                    if !rounds.is_empty() {
                        record.rounds = rounds
                            .iter()
                            .enumerate()
                            .map(|(round, factor)| bakeoff::store::Round {
                                started_unix_ms: record.timings.started_unix_ms + 1000 * round as u64,
                                duration_ms: 1000,
                                metrics: record
                                    .metrics
                                    .iter()
                                    .map(|(name, value)| (name.clone(), metric(value.mean * factor, 0.4)))
                                    .collect(),
                            })
                            .collect();
                        record.metrics = bakeoff::store::over_rounds(&record.rounds);
                    }
                }
                Status::Failed => {
                    record.failure = Some(Failure {
                        reason: "killed by SIGABRT (core dumped)".to_owned(),
                        exit_code: None,
                        signal: Some(6),
                        log_tail: vec![
                            "ggml_cuda_compute_forward: MUL_MAT failed".to_owned(),
                            "ROCm error: out of memory".to_owned(),
                            "  current device: 0, in function ggml_cuda_mul_mat at ggml-cuda.cu:1987".to_owned(),
                        ],
                    });
                }
                Status::Blocked | Status::TimedOut | Status::Skipped => {
                    record.failure = Some(Failure {
                        reason: blocked.iter().map(|reason| reason.as_str()).collect::<Vec<_>>().join("; "),
                        exit_code: None,
                        signal: None,
                        log_tail: Vec::new(),
                    });
                }
            }
            project.store.write(&record).unwrap();
        }
    }
}

fn glm_project() -> tempfile::TempDir {
    let directory = project(&[("experiments/glm.kdl", GLM), ("bakeoff.lock", LOCK)]);
    seed_two_hosts(directory.path());
    directory
}

/// A full matrix with a baseline, repeats with spread, a failed cell, blocked cells, a cell
/// not yet run and two hosts, written from the store without a model or toolbox in sight.
#[test]
fn the_report_of_two_hosts_shows_tables_ratios_failures_and_what_is_missing() {
    let directory = glm_project();
    let outcome = Bakeoff::new(directory.path()).args(["report", "glm"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout.trim(), "results/glm/README.md\nresults/index.html");
    let report = std::fs::read_to_string(directory.path().join("results/glm/README.md")).unwrap();
    insta::assert_snapshot!("glm_two_hosts", report);

    let mut charts: Vec<String> = std::fs::read_dir(directory.path().join("results/glm"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "svg"))
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    charts.sort();
    assert_eq!(charts, ["pp512.svg", "tg128.svg"]);
    let bars = std::fs::read_to_string(directory.path().join("results/glm/tg128.svg")).unwrap();
    assert!(bars.starts_with("<svg "), "{}", &bars[..100]);
    for label in ["model=q8 · ctx=4096 · host=strix-2", "toolbox=rocm", "blocked", "failed", "not run", "tg128 (t/s)"]
    {
        assert!(bars.contains(label), "the bar chart has no `{label}`");
    }
    let line = std::fs::read_to_string(directory.path().join("results/glm/pp512.svg")).unwrap();
    assert!(line.contains("<polyline"), "ctx is numeric with 3 values: a line chart");
    assert!(line.contains("16,384"), "ticks are formatted for people");
}

#[test]
fn the_report_is_byte_identical_when_the_store_is_unchanged() {
    let directory = glm_project();
    let path = directory.path().join("results/glm");
    assert_eq!(Bakeoff::new(directory.path()).args(["report"]).run().code, 0);
    let first: Vec<(String, Vec<u8>)> = read_all(&path);
    let modified = std::fs::metadata(path.join("README.md")).unwrap().modified().unwrap();
    assert_eq!(Bakeoff::new(directory.path()).args(["report"]).run().code, 0);
    assert_eq!(read_all(&path), first);
    // Unchanged files are not rewritten, so tools that watch mtimes see no change either.
    assert_eq!(std::fs::metadata(path.join("README.md")).unwrap().modified().unwrap(), modified);
}

fn read_all(directory: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn json_gives_the_same_tables_for_scripts() {
    let directory = glm_project();
    let outcome = Bakeoff::new(directory.path()).args(["report", "--format", "json"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(!directory.path().join("results/glm").exists(), "json writes no files");
    let json: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(json["format"], 1);
    let report = &json["reports"][0];
    assert_eq!(report["experiment"], "glm");
    let table = &report["tables"][0];
    assert_eq!(table["metric"], "tg128");
    assert_eq!(table["keys"], serde_json::json!(["model", "ctx", "host"]));
    assert_eq!(table["columns"], serde_json::json!(["radv", "rocm"]));
    // Row 0: model=bf16, ctx=4096 on strix-1; radv is the baseline, q8's row has the ratio.
    let row = &table["rows"][0];
    assert_eq!(row["key"], serde_json::json!(["bf16", "4096", "strix-1"]));
    assert_eq!(row["entries"][0]["status"], "ok");
    assert_eq!(row["entries"][0]["baseline"], true);
    assert_eq!(row["entries"][0]["samples"], 3);
    let q8 = table["rows"].as_array().unwrap().iter().find(|row| row["key"][0] == "q8").unwrap();
    assert!((q8["entries"][0]["ratio"].as_f64().unwrap() - 2.4).abs() < 1e-9, "{q8}");
    let statuses: Vec<&str> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["entries"].as_array().unwrap())
        .map(|entry| entry["status"].as_str().unwrap())
        .collect();
    for status in ["ok", "failed", "blocked", "not-run"] {
        assert!(statuses.contains(&status), "no `{status}` entry in {statuses:?}");
    }
    assert_eq!(report["problems"].as_array().unwrap().len(), 1 + 6);
    assert_eq!(report["not_run"][0]["host"], "strix-1");
    // ctx is a condition, not a choice: a verdict per host at each context size, each clear.
    let best = table["best"].as_array().unwrap();
    assert_eq!(best.len(), 2 * 3, "one verdict per host and context size: {best:?}");
    assert!(best.iter().all(|best| best["clear"] == true && best["evidence"]["test"] == "spreads"), "{best:?}");
}

#[test]
fn an_edited_value_leaves_its_old_results_out_of_the_report() {
    let directory = glm_project();
    let manifest = directory.path().join("experiments/glm.kdl");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("ctx 4096 16384 65536", "ctx 4096 16384 32768")).unwrap();
    let outcome = Bakeoff::new(directory.path()).args(["report", "--format", "json"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let json: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let report = &json["reports"][0];
    // At ctx=65536 strix-1 has 3 results (2 ok, 1 failed; 1 cell never ran), strix-2 has 4.
    assert_eq!(report["stale"], 3 + 4);
    let not_run: usize =
        report["not_run"].as_array().unwrap().iter().map(|host| host["cells"].as_array().unwrap().len()).sum();
    assert_eq!(not_run, 4 + 4, "each host has the four 32768 cells to run");
}

#[test]
fn a_report_with_nothing_run_yet_lists_every_cell() {
    let directory = project(&[("experiments/glm.kdl", GLM), ("bakeoff.lock", LOCK)]);
    let outcome = Bakeoff::new(directory.path()).args(["report"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let report = std::fs::read_to_string(directory.path().join("results/glm/README.md")).unwrap();
    assert!(report.contains("No cell has a result yet"), "{report}");
    assert!(report.contains("- 12 cells: 0 ok, 12 not yet run"), "{report}");
    assert!(report.contains("`model=q8, toolbox=rocm, ctx=65536`"), "{report}");
}

/// The quickstart on the real Gemma model: `bakeoff run` writes the report as cells finish,
/// with llama-bench's own description of the model and the real numbers.
#[test]
fn a_real_run_writes_the_report_as_cells_finish() {
    let llama = Llama::get();
    let directory = project(&[]);
    for folder in ["experiments", "toolboxes"] {
        std::fs::create_dir_all(directory.path().join(folder)).unwrap();
    }
    for file in ["experiments/quickstart.kdl", "experiments/models.kdl", "toolboxes/host.kdl", "bakeoff.lock"] {
        std::fs::copy(repo().join(file), directory.path().join(file)).unwrap();
    }
    let outcome = llama.bakeoff(directory.path()).args(["run", "quickstart", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("report: results/quickstart/README.md"), "{}", outcome.stderr);
    let report = std::fs::read_to_string(directory.path().join("results/quickstart/README.md")).unwrap();
    let stored = records(directory.path());
    let threads_2 = stored.iter().find(|record| record.axes["threads"] == "2").unwrap();
    let threads_1 = stored.iter().find(|record| record.axes["threads"] == "1").unwrap();
    let ratio = threads_2.metrics["tg16"].mean / threads_1.metrics["tg16"].mean;
    assert!(report.contains(" 2 cells: 2 ok"), "{report}");
    assert!(report.contains("(baseline)"), "{report}");
    let expected = if ratio >= 0.995 { format!("{ratio:.2}×") } else { format!("-{:.0}%", (1.0 - ratio) * 100.0) };
    assert!(report.contains(&expected), "the ratio {expected} is not in\n{report}");
    assert!(report.contains("gemma3 270M Q4_K - Medium"), "llama-bench's model type: {report}");
    assert!(report.contains("| matches |"), "the model matches the lock: {report}");
    assert!(directory.path().join("results/quickstart/tg16.svg").is_file());
    // The report from the store alone is the one the run wrote.
    let before = report.clone();
    let outcome = Bakeoff::new(directory.path()).args(["report", "quickstart"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(std::fs::read_to_string(directory.path().join("results/quickstart/README.md")).unwrap(), before);
}

/// `bakeoff compare` on the two Strix Halo hosts: the reference is named or chosen, unknown
/// hosts are refused with the ones that exist, and one host alone has nothing to compare.
#[test]
fn compare_sets_two_hosts_side_by_side() {
    let directory = glm_project();
    // This machine has no results here, so the host with the most is the reference.
    let default = Bakeoff::new(directory.path()).args(["compare", "glm"]).run();
    assert_eq!(default.code, 0, "{}", default.stderr);
    assert!(default.stdout.starts_with("# glm\n\n## strix-2 against strix-1\n"), "{}", default.stdout);
    // The same section the report shows.
    Bakeoff::new(directory.path()).args(["report", "glm"]).run();
    let report = std::fs::read_to_string(directory.path().join("results/glm/README.md")).unwrap();
    let section = default.stdout.trim_start_matches("# glm\n\n").replacen("## ", "### ", 1);
    assert!(report.contains(section.trim_end()), "{}\n----\n{report}", default.stdout);
    // Regression (issue 30): on a host with results, `compare` set this host as the reference,
    // the other way round from the report; it now prints the report's pairs wherever it runs.
    let strix_2 = fixture("hosts/strix-2.json");
    let on_strix_2 =
        Bakeoff::new(directory.path()).args(["--host-facts", strix_2.to_str().unwrap(), "compare", "glm"]).run();
    assert_eq!(on_strix_2.code, 0, "{}", on_strix_2.stderr);
    assert_eq!(on_strix_2.stdout, default.stdout);

    let reversed =
        Bakeoff::new(directory.path()).args(["compare", "--host", "strix-2", "--host", "strix-1", "--json"]).run();
    assert_eq!(reversed.code, 0, "{}", reversed.stderr);
    let value: serde_json::Value = serde_json::from_str(&reversed.stdout).unwrap();
    let comparison = &value["comparisons"][0];
    assert_eq!(comparison["experiment"], "glm");
    assert_eq!((comparison["reference"].as_str(), comparison["other"].as_str()), (Some("strix-2"), Some("strix-1")));
    assert_eq!((comparison["both"].as_u64(), comparison["only_other"].as_u64()), (Some(6), Some(4)));
    let facts: Vec<&str> =
        comparison["differences"].as_array().unwrap().iter().map(|fact| fact["fact"].as_str().unwrap()).collect();
    // The driver each toolbox ran on is among the facts that differ (strix-2 has a newer Mesa).
    assert_eq!(facts, ["kernel", "firmware", "llama.cpp build (toolbox radv)", "driver (toolbox radv)"]);
    let row = &comparison["rows"][0];
    assert_eq!(row["configuration"], "model=bf16, toolbox=radv, ctx=4096");
    assert!((row["ratio"].as_f64().unwrap() - 20.0 / 19.4).abs() < 1e-9, "{row}");
    // One run each, no rounds: no spread over rounds to test the difference against.
    assert_eq!(row["verdict"]["verdict"], "not-enough-rounds");

    let unknown = Bakeoff::new(directory.path()).args(["compare", "--host", "strix-3"]).run();
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("no host with results is called `strix-3`"), "{}", unknown.stderr);
    assert!(unknown.stderr.contains("hosts with results: strix-1 (id "), "{}", unknown.stderr);

    std::fs::remove_dir_all(directory.path().join("results/cells")).unwrap();
    let alone = Bakeoff::new(directory.path()).args(["compare", "glm"]).run();
    assert_eq!(alone.code, 1);
    assert!(alone.stderr.contains("nothing to compare"), "{}", alone.stderr);
}

/// `bakeoff gc` removes what no experiment refers to, and nothing the report shows: the
/// report's tables are the same before and after.
#[test]
fn gc_removes_only_what_no_experiment_refers_to() {
    let directory = glm_project();
    let root = directory.path();
    let manifest = root.join("experiments/glm.kdl");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("ctx 4096 16384 65536", "ctx 4096 16384 32768")).unwrap();
    let records = crate::support::records(root);
    assert_eq!(records.len(), 23);
    let stale = records.iter().find(|record| record.axes["ctx"] == "65536").unwrap();
    let shown = records.iter().find(|record| record.axes["ctx"] == "4096").unwrap();
    // A record of an experiment that was deleted since, logs of each kind, and a temporary file
    // a killed run left.
    let mut gone = shown.clone();
    gone.experiment = "glm-old".to_owned();
    gone.hash = "f".repeat(64);
    // Inputs of its own: a record of the same inputs as a current cell belongs to that cell too.
    gone.fingerprint.argv.push("--old".to_owned());
    bakeoff::store::Store::new(root.join("results")).write(&gone).unwrap();
    let logs = root.join("results/logs");
    std::fs::create_dir_all(&logs).unwrap();
    for hash in [&stale.hash, &shown.hash, &"e".repeat(64)] {
        std::fs::write(logs.join(format!("{hash}.log")), "llama-bench output\n").unwrap();
    }
    let temporary = root.join("results/cells/ff/.x.json.4242.tmp");
    std::fs::write(&temporary, "{").unwrap();
    let tables = |root: &Path| {
        let outcome = Bakeoff::new(root).args(["report", "glm", "--format", "json"]).run();
        let mut value: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
        value["reports"][0]["stale"] = serde_json::Value::Null;
        value
    };
    let before = tables(root);

    let dry = Bakeoff::new(root).args(["gc", "--dry-run"]).run();
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("gc: would remove 8 record(s) and 3 other file(s)"), "{}", dry.stdout);
    assert!(
        dry.stdout
            .contains(&format!("({} on {}: experiment `glm-old` is in no manifest)", shown.cell, shown.host.name)),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains(": its inputs match no cell of any experiment now)"), "{}", dry.stdout);
    assert_eq!(crate::support::records(root).len(), 24, "a dry run removes nothing");

    let gc = Bakeoff::new(root).args(["gc"]).run();
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert!(gc.stdout.contains("gc: removed 8 record(s) and 3 other file(s)"), "{}", gc.stdout);
    assert!(gc.stdout.ends_with("; 16 record(s) kept\n"), "{}", gc.stdout);
    assert_eq!(crate::support::records(root).len(), 16);
    assert!(logs.join(format!("{}.log", shown.hash)).exists());
    assert!(!logs.join(format!("{}.log", stale.hash)).exists());
    assert!(!temporary.exists() && !root.join("results/cells/ff").exists());
    assert_eq!(tables(root), before);
    let again = Bakeoff::new(root).args(["gc"]).run();
    assert!(again.stdout.starts_with("gc: removed 0 record(s) and 0 other file(s)"), "{}", again.stdout);

    // Without the lock the models' hashes are unknown here: which results the experiment
    // refers to cannot be told, so all of them stay.
    std::fs::write(&manifest, &text).unwrap();
    std::fs::remove_file(root.join("bakeoff.lock")).unwrap();
    let unsure = Bakeoff::new(root).args(["gc"]).run();
    assert_eq!(unsure.code, 0, "{}", unsure.stderr);
    assert!(unsure.stderr.contains("keeping every record of `glm`:"), "{}", unsure.stderr);
    assert_eq!(crate::support::records(root).len(), 16);
}

/// Records written before hosts had ids belong to the machine with the same name, CPU, GPUs
/// and memory: an upgraded bakeoff does not show one box as two hosts.
#[test]
fn records_from_before_host_ids_stay_with_their_machine() {
    let directory = glm_project();
    let store = bakeoff::store::Store::new(directory.path().join("results"));
    for record in crate::support::records(directory.path()) {
        if record.host.name == "strix-1" && record.axes["ctx"] == "4096" {
            let mut legacy = record.clone();
            legacy.host.id.clear();
            legacy.fingerprint.host.id.clear();
            legacy.hash = legacy.fingerprint.hash();
            legacy.timings.started_unix_ms -= 86_400_000;
            store.write(&legacy).unwrap();
        }
    }
    let outcome = Bakeoff::new(directory.path()).args(["report", "glm", "--format", "json"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let value: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let hosts: Vec<&str> =
        value["reports"][0]["hosts"].as_array().unwrap().iter().map(|host| host["label"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["strix-1", "strix-2"]);
    // Two boxes that share a name are told apart by their ids.
    let mut twin =
        crate::support::records(directory.path()).into_iter().find(|record| record.host.name == "strix-2").unwrap();
    twin.host.id = "abcdef0123456789".to_owned();
    twin.fingerprint.host.id.clone_from(&twin.host.id);
    twin.hash = twin.fingerprint.hash();
    store.write(&twin).unwrap();
    let outcome = Bakeoff::new(directory.path()).args(["report", "glm", "--format", "json"]).run();
    let value: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let hosts: Vec<&str> =
        value["reports"][0]["hosts"].as_array().unwrap().iter().map(|host| host["label"].as_str().unwrap()).collect();
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    assert!(hosts.contains(&"strix-2 (abcdef01)"), "{hosts:?}");
}

/// The GLM project with `rounds 5` and its store seeded in five rounds, the fifth 30% low.
pub(crate) fn glm_project_in_rounds() -> tempfile::TempDir {
    let manifest = GLM.replace("    report {\n        baseline", "    rounds 5\n    report {\n        baseline");
    let directory = project(&[("experiments/glm.kdl", &manifest), ("bakeoff.lock", LOCK)]);
    seed_two_hosts_in_rounds(directory.path(), &[1.0, 1.01, 0.99, 1.0, 0.7]);
    directory
}

/// Synthetic records in 5 rounds, the fifth 30% low in every cell: tables show the confidence
/// interval and name the outlier round; q8 against the bf16 baseline (2.4×) is significant,
/// while strix-2's 3% against strix-1 is not, given a spread that large (Welch's t-test).
#[test]
fn rounds_give_intervals_outliers_and_welchs_verdict() {
    let directory = glm_project_in_rounds();
    let outcome = Bakeoff::new(directory.path()).args(["report", "glm"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let report = std::fs::read_to_string(directory.path().join("results/glm/README.md")).unwrap();
    assert!(report.contains("± is the 95% confidence interval of the mean over 5 interleaved rounds"), "{report}");
    assert!(report.contains("outlier rounds (modified z-score over the MAD > 3.5): `model=bf16, "), "{report}");
    assert!(report.contains("round 5"), "{report}");
    let tg = report.split("### tg128").nth(1).unwrap();
    let q8 = tg.lines().find(|line| line.starts_with("| q8 |")).unwrap();
    assert!(q8.contains("×)") && !q8.contains("n.s."), "2.4× is beyond the rounds' spread: {q8}");
    assert!(report.contains("a ratio marked n.s. is not significant (Welch's t-test over the rounds, p ≥ 0.05)"));

    let compare = Bakeoff::new(directory.path()).args(["compare", "glm", "--json"]).run();
    assert_eq!(compare.code, 0, "{}", compare.stderr);
    let value: serde_json::Value = serde_json::from_str(&compare.stdout).unwrap();
    let rows = value["comparisons"][0]["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row["verdict"]["verdict"], "not-significant", "3% apart with a 30% outlier in the rounds: {row}");
        assert!(row["verdict"]["p"].as_f64().unwrap() > 0.05);
        assert_eq!(row["other_better"], serde_json::Value::Null, "no better or worse without significance");
        assert_eq!(row["reference"]["rounds"], 5);
    }
}

/// Writes an ok record on strix-1 for every cell of `directory`'s experiments, with the
/// metrics `metrics` gives it (name, mean, unit).
fn seed_ok(
    directory: &Path,
    metrics: impl Fn(&bakeoff::fingerprint::ResolvedCell) -> Vec<(&'static str, f64, &'static str)>,
) {
    let project = Project::new(&Settings { project: directory.to_path_buf(), ..Settings::default() });
    let loaded = project.load(&[]).unwrap();
    let host = bakeoff::host::HostFacts::load(&fixture("hosts/strix-1.json")).unwrap();
    for cell in project.resolve_uninspected(&loaded, &host).unwrap() {
        let mut record = CellRecord::new(&cell, &host, Status::Ok);
        record.timings.started_unix_ms = 1_795_305_600_000;
        for (name, mean, unit) in metrics(&cell) {
            record.metrics.insert(name.to_owned(), MetricValue::single(mean, unit));
        }
        project.store.write(&record).unwrap();
    }
}

const VARIANTS: &str = r#"
toolbox "host" {
    runner "host"
}
model "q4" { file "Qwen3-30B-A3B-Q4_K_M.gguf" }
experiment "fa" {
    description "Flash attention on and off at two thread counts"
    matrix {
        model "q4"
        threads 48 96
        variant "fa-off" { args "-fa" 0 }
        variant "fa-on" { args "-fa" 1 "-ctk" "q8_0" }
    }
    bench {
        args "-t" "{threads}" "{variant}" "-p" 512 "-n" 128
    }
    report {
        baseline variant="fa-off"
        table rows="threads" columns="variant" metric="tg128"
    }
}
"#;

/// A variant axis: the report says what each variant's arguments are, where the commands are.
#[test]
fn a_variant_axis_is_explained_in_the_report() {
    let directory = project(&[("experiments/fa.kdl", VARIANTS)]);
    seed_ok(directory.path(), |cell| {
        let threads: f64 = cell.cell.value("threads").unwrap().parse().unwrap();
        let on = cell.cell.value("variant") == Some("fa-on");
        vec![("tg128", threads / 4.0 * if on { 1.1 } else { 1.0 }, "t/s"), ("peak_rss_bytes", 18.5e9, "bytes")]
    });
    let outcome = Bakeoff::new(directory.path()).args(["report", "fa"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let report = std::fs::read_to_string(directory.path().join("results/fa/README.md")).unwrap();
    assert!(report.contains("  - `fa-on`: `-fa 1 -ctk q8_0`\n"), "{report}");
    insta::assert_snapshot!("variants", report);
}

const AGENT: &str = r#"
toolbox "host" {
    runner "host"
}
model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "agent-tour" {
    description "A chat, an agent's long system prompt, and a growing conversation"
    matrix {
        model "gemma"
        threads 1 2
    }
    server {
        args "-nr" "-t" "{threads}" "--ctx-size" 16384
    }
    workload "chat" {
        request api="openai-chat" max-tokens=16 prompt="Say hello in one word."
        repeat 3
    }
    workload "long-system" {
        request api="anthropic-messages" max-tokens=16 system="You are a careful agent." prompt="What does rule 3 say?"
        repeat 2
    }
    workload "session" {
        conversation api="openai-chat" max-tokens=16 {
            turn "What is a GGUF file?"
            turn "And what is quantization?"
        }
    }
}
"#;

/// A server experiment with three workloads, one a conversation: each workload leads with its
/// summary (its configurations as rows, the metrics that answer it as columns, one unit per
/// metric family), the per-metric tables are folded away, and the turns are listed.
#[test]
fn a_server_experiment_leads_with_a_summary_per_workload() {
    let directory = project(&[("experiments/agent.kdl", AGENT)]);
    seed_ok(directory.path(), |cell| {
        let threads: f64 = cell.cell.value("threads").unwrap().parse().unwrap();
        let common = [("gen_tps", 20.0 * threads, "t/s"), ("peak_rss_bytes", 4.0e8, "bytes")];
        let mut metrics = match cell.cell.workload.as_str() {
            "chat" => vec![("ttft_ms_first", 90.0 / threads, "ms"), ("ttft_ms_warm", 45.0 / threads, "ms")],
            "long-system" => vec![
                ("ttft_ms_first", 28_000.0 / threads, "ms"),
                ("ttft_ms_warm", 85.0, "ms"),
                ("cache_n_warm", 11_078.0, "tokens"),
            ],
            _ => {
                vec![("ttft_ms_turn1", 140.0, "ms"), ("ttft_ms_turn2", 120.0, "ms"), ("cache_n_turn2", 51.0, "tokens")]
            }
        };
        metrics.extend(common);
        metrics
    });
    let outcome = Bakeoff::new(directory.path()).args(["report", "agent-tour"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let report = std::fs::read_to_string(directory.path().join("results/agent-tour/README.md")).unwrap();
    let results = &report[report.find("## Results").unwrap()..report.find("<details>").unwrap()];
    for heading in ["### `chat`", "### `long-system`", "### `session`"] {
        assert!(results.contains(heading), "{results}");
    }
    assert!(results.contains("| threads=2 | 14,000 | 85.0 | 40.0 | 11,078 | 381 |"), "cold and warm in ms: {results}");
    assert!(report.contains(r#"turn 1: "What is a GGUF file?"; turn 2: "And what is quantization?""#), "{report}");
    assert!(!report.contains("Best: with"), "a best line names its configuration: {report}");
    insta::assert_snapshot!("agent_tour", report);
}
