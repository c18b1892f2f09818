//! `results/index.html` in a real browser: Debian's headless Chromium (installed by
//! `scripts/test.sh`) loads the page from `file://`, and the DOM it builds is checked against
//! the records: values, Welch's verdicts, filters, the line chart, the provenance of a cell.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Bakeoff, records};

/// Headless Chromium as the machine has it.
struct Chromium {
    program: PathBuf,
}

impl Chromium {
    fn get() -> Self {
        Self { program: crate::support::installed("chromium", "scripts/test.sh (Debian: apt install chromium)") }
    }

    /// Chromium with the flags a closed, headless machine needs, and a profile of its own.
    fn command(&self, profile: &Path) -> Command {
        let mut command = Command::new(&self.program);
        command.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ]);
        command.arg(format!("--user-data-dir={}", profile.display()));
        command
    }

    /// The DOM after the page's script ran, and what Chromium said on stderr.
    fn dom(&self, url: &str) -> (String, String) {
        let profile = tempfile::tempdir().unwrap();
        let output = self.command(profile.path()).args(["--dump-dom", url]).output().unwrap();
        assert!(output.status.success(), "chromium: {}", String::from_utf8_lossy(&output.stderr));
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    fn screenshot(&self, url: &str, width: u32, height: u32, to: &Path) {
        let profile = tempfile::tempdir().unwrap();
        let output = self
            .command(profile.path())
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--screenshot={}", to.display()))
            .arg(url)
            .output()
            .unwrap();
        assert!(output.status.success(), "chromium: {}", String::from_utf8_lossy(&output.stderr));
    }
}

/// No error of the page's script: none reported on the page, none on Chromium's console.
fn assert_no_script_error(dom: &str, stderr: &str) {
    assert!(dom.contains(r#"<p id="errors" role="alert" hidden="">"#), "the page reported an error: {dom}");
    let console: Vec<&str> = stderr.lines().filter(|line| line.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
}

/// The `data-value` of each table cell with a value, by the hash of its record.
fn table_values(dom: &str) -> Vec<(String, f64)> {
    let table =
        dom.split(r#"<table id="results">"#).nth(1).and_then(|rest| rest.split("</table>").next()).unwrap_or("");
    let cell =
        regex::Regex::new(r#"<td class="value" data-value="([^"]+)"><button type="button" data-cell="([0-9a-f]{64})""#)
            .unwrap();
    cell.captures_iter(table).map(|found| (found[2].to_owned(), found[1].parse().unwrap())).collect()
}

/// The GLM store of two hosts in five rounds: the page built by `bakeoff report` shows, in
/// Chromium, every value of the chosen metric and filter as the records hold it, Welch's
/// verdicts where Rust's report finds them, a line chart over the context axis, and a cell's
/// provenance; it fetches nothing, and two reports of one store are the same bytes.
#[test]
fn the_page_explores_the_store_in_a_real_browser() {
    let chromium = Chromium::get();
    let directory = crate::report::glm_project_in_rounds();
    let report = Bakeoff::new(directory.path()).args(["report"]).run();
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(report.stdout.lines().any(|line| line == "results/index.html"), "{}", report.stdout);
    let page_path = directory.path().join("results/index.html");
    let page = std::fs::read(&page_path).unwrap();
    let again = Bakeoff::new(directory.path()).args(["report"]).run();
    assert_eq!(again.code, 0);
    assert_eq!(std::fs::read(&page_path).unwrap(), page, "the same store gives the same bytes");
    let text = String::from_utf8(page).unwrap();
    // Self-contained: the only address in it is the SVG namespace, and nothing is loaded.
    assert!(!text.contains("https://"));
    assert_eq!(text.matches("http://").count(), 1, "only the SVG namespace");
    assert!(text.contains(r#""http://www.w3.org/2000/svg""#));
    for loader in ["fetch(", "XMLHttpRequest", "<link", " src=", "@import", "import("] {
        assert!(!text.contains(loader), "the page loads something: {loader}");
    }

    let stored = records(directory.path());
    let by_hash = |hash: &str| stored.iter().find(|record| record.hash == hash).unwrap();
    let url = format!("file://{}", page_path.display());

    // tg128 of strix-1 only, a column per toolbox.
    let (dom, stderr) = chromium.dom(&format!("{url}#e=glm&m=tg128&c=toolbox&hide=host:strix-2"));
    assert_no_script_error(&dom, &stderr);
    let values = table_values(&dom);
    let expected =
        stored.iter().filter(|record| record.host.name == "strix-1" && record.metrics.contains_key("tg128")).count();
    assert!(expected > 0);
    assert_eq!(values.len(), expected, "a value for each of strix-1's tg128 records: {values:?}");
    for (hash, value) in &values {
        let record = by_hash(hash);
        assert_eq!(record.host.name, "strix-1");
        assert!((record.metrics["tg128"].mean - value).abs() < 1e-9, "{}: {value}", record.cell);
    }
    assert!(dom.contains(">failed<"), "the failed cell is shown as failed");
    assert!(dom.contains("killed by SIGABRT (core dumped)"), "with its reason");

    // q8 against the bf16 baseline: 2.4×, significant over the rounds, as the report says.
    let (dom, stderr) = chromium.dom(&format!("{url}#e=glm&m=tg128&c=model&b=bf16&hide=host:strix-2"));
    assert_no_script_error(&dom, &stderr);
    assert!(dom.contains(r#"class="ratio baseline">baseline<"#), "{dom}");
    let ratios = regex::Regex::new(r#"class="ratio">([0-9.]+)×, ([^<]+)<"#).unwrap();
    let found: Vec<(f64, String)> =
        ratios.captures_iter(&dom).map(|found| (found[1].parse().unwrap(), found[2].to_owned())).collect();
    assert!(!found.is_empty(), "{dom}");
    for (ratio, verdict) in &found {
        assert!((2.0..3.0).contains(ratio), "{ratio}");
        assert!(verdict.starts_with("significant (Welch p"), "{verdict}");
    }
    // strix-2 against strix-1: 3% apart with a 30% outlier round: not significant.
    let (dom, _) = chromium.dom(&format!("{url}#e=glm&m=tg128&c=host&b=strix-1&hide=toolbox:rocm"));
    let found: Vec<String> = ratios.captures_iter(&dom).map(|found| found[2].to_owned()).collect();
    assert!(!found.is_empty() && found.iter().all(|verdict| verdict.starts_with("n.s. (Welch p")), "{found:?}");

    // A line chart of tg128 over the context, a line per configuration.
    let (dom, stderr) = chromium.dom(&format!("{url}#e=glm&m=tg128&x=ctx&hide=host:strix-2"));
    assert_no_script_error(&dom, &stderr);
    assert!(dom.contains(r#"class="line-chart""#), "{dom}");
    assert!(dom.matches("<polyline").count() >= 3, "a line per configuration");
    assert!(dom.contains(">ctx (log scale)</text>"), "the x axis is named, on a log scale from 4096 to 65536");
    // A throughput along a context sweep keeps its retention, as the report has it; none rises.
    let retention = regex::Regex::new(r"<title>[^<]* at 65536: [^<]*\((\d+)% of the first([^<]*)\)</title>").unwrap();
    let shares: Vec<(u32, String)> =
        retention.captures_iter(&dom).map(|found| (found[1].parse().unwrap(), found[2].to_owned())).collect();
    assert!(!shares.is_empty(), "{dom}");
    assert!(
        shares.iter().all(|(share, rest)| *share < 100 && rest.is_empty()),
        "tg128 falls with the context: {shares:?}"
    );

    // A cell's provenance: its toolbox, image digest, llama.cpp build, driver and record file.
    let record = stored.iter().find(|record| record.host.name == "strix-1" && record.ran_on.is_some()).unwrap();
    let (dom, stderr) = chromium.dom(&format!("{url}#e=glm&m=tg128&cell={}", record.hash));
    assert_no_script_error(&dom, &stderr);
    let panel = dom.split(r#"<section id="provenance""#).nth(1).expect("the provenance panel");
    for fact in [
        record.fingerprint.toolbox.digest.clone().unwrap(),
        record.fingerprint.toolbox.llama_cpp.clone().unwrap(),
        record.ran_on.clone().unwrap().driver.unwrap(),
        format!("cells/{}/{}.json", &record.hash[..2], record.hash),
    ] {
        assert!(panel.contains(&fact), "{fact}: {panel}");
    }

    // What a person sees, at a laptop's size and a phone's.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (name, width, height) in [("page-1280x800.png", 1280, 800), ("page-390x844.png", 390, 844)] {
        let shot = shots.join(name);
        let _ = std::fs::remove_file(&shot);
        chromium.screenshot(
            &format!("{url}#e=glm&m=tg128&c=model&b=bf16&x=ctx&hide=host:strix-2"),
            width,
            height,
            &shot,
        );
        let bytes = std::fs::read(&shot).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{}: {} bytes", shot.display(), bytes.len());
    }
}

/// The page once opened the example store's prompt-cache experiment on `ttft_ms` over all its
/// requests: a cold minute averaged with warm tenths of a second, `30.6 s ± 52.8`. It leads, as
/// the report's summary does, with the cold time to first token.
#[test]
fn a_server_experiment_opens_on_its_cold_time_to_first_token() {
    let chromium = Chromium::get();
    let directory = checkout(&["experiments", "toolboxes", "results"]);
    let report = Bakeoff::new(directory.path()).args(["report", "gemma-prompt-cache"]).run();
    assert_eq!(report.code, 0, "{}", report.stderr);
    let page = directory.path().join("results/index.html");
    let (dom, stderr) = chromium.dom(&format!("file://{}#e=gemma-prompt-cache", page.display()));
    assert_no_script_error(&dom, &stderr);
    assert!(dom.contains("<h2>gemma-prompt-cache: ttft_ms_first</h2>"), "{dom}");
    let stored = records(directory.path());
    let values = table_values(&dom);
    assert!(!values.is_empty(), "{dom}");
    for (hash, value) in values {
        let record = stored.iter().find(|record| record.hash == hash).unwrap();
        assert!((record.metrics["ttft_ms_first"].mean - value).abs() < 1e-9, "{}: {value}", record.cell);
    }
}

/// A conversation with `repeat 2` on the page: it opens, as the report's summary leads, on the
/// first session's turn 1 (cold) with time to first token drawn over the turns, the first session
/// and the later one as lines of their own, never their mean.
#[test]
fn a_conversation_opens_on_its_turns_with_each_session_apart() {
    let chromium = Chromium::get();
    let llama = crate::support::Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "talk" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 1024 "-np" 1 "--temp" 0.0 }
    workload "chat" {
        conversation api="completion" max-tokens=2 system="You are terse." {
            turn "Name a colour."
            turn "Name another."
        }
        repeat 2
    }
}
"#;
    let directory = crate::support::project(&[("experiments/talk.kdl", manifest)]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let page = directory.path().join("results/index.html");
    let (dom, stderr) = chromium.dom(&format!("file://{}#e=talk", page.display()));
    assert_no_script_error(&dom, &stderr);
    assert!(dom.contains("<h2>talk: ttft_ms_turn1_first</h2>"), "{dom}");
    assert!(dom.contains(r#"aria-label="ttft_ms_turn1_first against conversation turn""#), "{dom}");
    // One configuration: a line per session, named by it.
    assert!(dom.contains(">first session</text>") && dom.contains(">later sessions</text>"), "{dom}");
    let stored = records(directory.path());
    for (hash, value) in table_values(&dom) {
        let record = stored.iter().find(|record| record.hash == hash).unwrap();
        assert!((record.metrics["ttft_ms_turn1_first"].mean - value).abs() < 1e-9, "{}: {value}", record.cell);
    }
}

/// A replayed trace on two configurations opens on its requests: a line over the request
/// number per configuration (not per session), each point the record's `ttft_ms_reqK`.
#[test]
fn a_replayed_trace_opens_on_its_requests_a_line_per_configuration() {
    let chromium = Chromium::get();
    let llama = crate::support::Llama::get();
    let trace =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/traces/chat.jsonl"))
            .unwrap();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "replayed" {
    matrix {
        model "gemma"
        ctx 1024 2048
    }
    server { args "-nr" "-t" 2 "--ctx-size" "{ctx}" "-np" 1 "--temp" 0.0 }
    workload "chat" { replay "traces/chat.jsonl" }
}
"#;
    let directory =
        crate::support::project(&[("experiments/replayed.kdl", manifest), ("experiments/traces/chat.jsonl", &trace)]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let page = directory.path().join("results/index.html");
    let (dom, stderr) = chromium.dom(&format!("file://{}#e=replayed", page.display()));
    assert_no_script_error(&dom, &stderr);
    assert!(dom.contains("<h2>replayed: ttft_ms_req1</h2>"), "{dom}");
    assert!(dom.contains(r#"aria-label="ttft_ms_req1 against request""#), "{dom}");
    assert!(dom.contains(">line over requests</option>"), "{dom}");
    // A line per configuration, named by it alone, with a point per request of the trace.
    let chart = dom.split(r#"class="line-chart""#).nth(1).unwrap().split("</svg>").next().unwrap();
    for ctx in ["1024", "2048"] {
        assert!(chart.contains(&format!(">ctx={ctx}</text>")), "ctx={ctx}: {chart}");
    }
    assert!(!chart.contains("requests: "), "{chart}");
    let stored = records(directory.path());
    assert_eq!(stored.len(), 2);
    for record in &stored {
        for k in 1..=trace.lines().count() {
            let value = record.metrics[&format!("ttft_ms_req{k}")].mean;
            let point = format!("ctx={} at {k}: ", record.axes["ctx"]);
            let title = chart.split(&point).nth(1).unwrap_or_else(|| panic!("no point {point}: {chart}"));
            assert!(title.starts_with(&format_ms(value)), "{point}{title} against {value}");
        }
    }
}

/// A search experiment on the page: its answer as the report words it, its probes' chart, and
/// the line over the searched axis it opens on, with only the probed values.
#[test]
fn a_search_shows_its_answer_and_opens_on_the_searched_axis() {
    let chromium = Chromium::get();
    let manifest = r#"experiment "limit" {
    command {
        args "sh" "-c" "echo cost=$(( {n} * 3 ))"
        metric "cost" regex="cost=([0-9]+)"
    }
    search "n" from=0 to=1000 step=10 {
        keep "cost <= 1500"
        want "largest"
    }
}
"#;
    let directory = crate::support::project(&[("experiments/limit.kdl", manifest)]);
    let run = Bakeoff::new(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = directory.path().join("results/index.html");
    let (dom, stderr) = chromium.dom(&format!("file://{}#e=limit&m=cost", page.display()));
    assert_no_script_error(&dom, &stderr);
    assert!(dom.contains("<h2>Search: where cost ≤ 1500 stops holding over n</h2>"), "{dom}");
    assert!(
        dom.contains(
            "<li>every configuration: largest n with cost ≤ 1500: 500 (not at 510) (1500 at 500; 1530 at 510)</li>"
        ),
        "{dom}"
    );
    assert!(dom.contains(r#"id="search-chart""#), "{dom}");
    assert!(dom.contains(r#"aria-label="cost against n""#), "{dom}");
    // The table has the probes, each the record's value, and no other grid value.
    let values = table_values(&dom);
    assert_eq!(values.len(), records(directory.path()).len());
    assert!(values.len() <= 9, "{values:?}");
}

/// How the page writes a duration in milliseconds, as `formatValue` does.
fn format_ms(value: f64) -> String {
    if value >= 10_000.0 { format!("{:.1} s", value / 1000.0) } else { format!("{value:.0} ms") }
}

/// The example store's quality experiment on the page: the speed × quality section as the
/// report has it (its table with the frontier marked and each other configuration's better one,
/// the chart with a label per configuration), each divergence the record's, drawn by Chromium.
#[test]
fn a_quality_experiment_shows_speed_beside_quality() {
    let chromium = Chromium::get();
    // With the lock, which pins the requantized models the records were measured with.
    let directory = checkout(&["experiments", "toolboxes", "results", "bakeoff.lock"]);
    let report = Bakeoff::new(directory.path()).args(["report", "gemma-quality"]).run();
    assert_eq!(report.code, 0, "{}", report.stderr);
    let markdown = std::fs::read_to_string(directory.path().join("results/gemma-quality/README.md")).unwrap();
    let page = directory.path().join("results/index.html");
    let (dom, stderr) = chromium.dom(&format!("file://{}#e=gemma-quality", page.display()));
    assert_no_script_error(&dom, &stderr);

    let table = dom.split(r#"<table id="quality-table">"#).nth(1).and_then(|rest| rest.split("</table>").next());
    let table = table.unwrap_or_else(|| panic!("no quality table: {dom}"));
    let stored = records(directory.path());
    let quality: Vec<_> = stored.iter().filter(|record| record.workload == "quality").collect();
    assert_eq!(quality.len(), 5, "the example measures five configurations");
    // Each row's divergence, as the report writes it, is the page's; and the record's.
    let section = markdown.split("### Speed and quality").nth(1).unwrap().split("###").next().unwrap();
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter(|line| line.starts_with("| model="))
        .map(|line| line.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), quality.len(), "{section}");
    for record in &quality {
        let configuration = format!("model={}, ctk={}", record.axes["model"], record.axes["ctk"]);
        let row = rows.iter().find(|row| row[0] == configuration).unwrap_or_else(|| panic!("{configuration}"));
        // The columns: configuration, tg16, pp64, kld_mean, …
        let kld = row[3];
        assert!(table.contains(&format!(r#"<td class="value">{kld}</td>"#)) || kld == "reference", "{kld}: {table}");
        match record.metrics.get("kld_mean") {
            Some(value) => {
                let mean: f64 = kld.split(" ± ").next().unwrap().parse().unwrap();
                assert!(
                    (mean - value.mean).abs() <= value.mean * 0.01,
                    "{configuration}: {kld} against {}",
                    value.mean
                );
            }
            None => assert_eq!(kld, "reference"),
        }
    }
    // As many on the frontier as the report marks, and a "beaten by" for each other row.
    let frontier = markdown.matches("**frontier**").count();
    assert!(frontier >= 1, "{markdown}");
    assert_eq!(table.matches(r#"class="frontier""#).count(), frontier, "{table}");
    assert_eq!(table.matches("beaten by ").count(), quality.len() - frontier, "{table}");
    let chart = dom.split(r#"<figure id="quality-chart">"#).nth(1).and_then(|rest| rest.split("</figure>").next());
    let chart = chart.unwrap_or_else(|| panic!("no quality chart: {dom}"));
    for model in ["gemma-3-270m-q8_0", "gemma-3-270m-q4_0", "gemma-3-270m-q2_k"] {
        assert!(chart.contains(&format!("model={model}, ctk=f16")), "{model} has no label: {chart}");
    }
    // What a person sees: kept beside the test binary, to look at.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("page-quality-1400x1800.png");
    let _ = std::fs::remove_file(&shot);
    chromium.screenshot(&format!("file://{}#e=gemma-quality", page.display()), 1400, 1800, &shot);
    let bytes = std::fs::read(&shot).unwrap();
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{}: {} bytes", shot.display(), bytes.len());
}

/// A scratch copy of the repository's `entries` (folders and files).
fn checkout(entries: &[&str]) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let repo = crate::support::repo();
    for entry in entries {
        let copied = Command::new("cp")
            .args(["-r", &repo.join(entry).display().to_string(), &directory.path().display().to_string()])
            .status()
            .unwrap();
        assert!(copied.success());
    }
    directory
}

/// The page is current after every cell: read between the cells of a running campaign, it
/// holds each finished cell before the next one finishes; a SIGKILL while a cell is in flight
/// leaves the page and the report equal to what `bakeoff report` then writes from the store.
#[test]
fn the_page_is_current_after_every_cell_and_a_killed_run_leaves_it_matching_the_store() {
    use std::time::{Duration, Instant};
    let directory = crate::support::project(&[(
        "experiments/slow.kdl",
        r#"experiment "slow" {
    matrix { n 1 2 3 4 }
    command {
        args "sh" "-c" "sleep 1.2; echo value={n}"
        metric "value" regex="value=([0-9]+)"
    }
}
"#,
    )]);
    let root = directory.path();
    let page = root.join("results/index.html");
    let report = root.join("results/slow/README.md");
    let mut child = Bakeoff::new(root).args(["run", "--no-progress"]).spawn();
    let wait = |what: &str, condition: &dyn Fn() -> bool| {
        let started = Instant::now();
        while !condition() {
            assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    for finished in 1..=2 {
        wait(&format!("cell {finished}"), &|| records(root).len() >= finished);
        let hashes: Vec<String> = records(root).into_iter().map(|record| record.hash).collect();
        assert_eq!(hashes.len(), finished, "two cells finished at once");
        wait(&format!("the page with cell {finished}"), &|| {
            std::fs::read_to_string(&page).is_ok_and(|text| hashes.iter().all(|hash| text.contains(hash.as_str())))
        });
        // Before the next cell finished: the page followed the cell, not the run's end.
        assert_eq!(records(root).len(), finished, "the page lagged a whole cell behind");
    }
    // The third cell is in flight.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(records(root).len(), 2);
    let (killed_page, killed_report) = (std::fs::read(&page).unwrap(), std::fs::read(&report).unwrap());
    let written = Bakeoff::new(root).args(["report"]).run();
    assert_eq!(written.code, 0, "{}", written.stderr);
    assert!(std::fs::read(&page).unwrap() == killed_page, "the page a killed run left is not the store's");
    assert_eq!(String::from_utf8(killed_report).unwrap(), std::fs::read_to_string(&report).unwrap());
}
