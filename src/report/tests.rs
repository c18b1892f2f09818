//! The report built from records made here, without a store or a process: the pivot, the
//! baseline, the best configuration, which tables are chosen, and the markdown they become.

use std::collections::BTreeMap;

use super::build::{Inputs, Report, build};
use super::select::ExpectedCell;
use super::table::{ChartKind, Entry};
use crate::fingerprint::{InputDigests, ResolvedCell, resolve_cell};
use crate::host::HostFacts;
use crate::manifest::Manifests;
use crate::matrix::expand;
use crate::store::{CellRecord, Failure, MetricValue, Status};

fn host() -> HostFacts {
    HostFacts {
        name: "strix-1".to_owned(),
        id: "0123456789abcdef".to_owned(),
        cpu: "AMD RYZEN AI MAX+ 395".to_owned(),
        memory_bytes: 128 << 30,
        kernel: "6.18.3".to_owned(),
        os: "Fedora Linux 43".to_owned(),
        ..HostFacts::default()
    }
}

/// The experiment `text` declares, its cells resolved on a host, and a record per cell that
/// `outcome` gives one (status and metrics).
struct Fixture {
    manifests: Manifests,
    cells: Vec<ResolvedCell>,
    records: Vec<CellRecord>,
}

type Outcome = Option<(Status, Vec<(&'static str, f64, &'static str)>)>;

impl Fixture {
    fn new(text: &str, outcome: impl Fn(&ResolvedCell) -> Outcome) -> Self {
        let directory = tempfile::tempdir().unwrap();
        let manifests = crate::manifest::load_text(directory.path(), &directory.path().join("e.kdl"), text).unwrap();
        let experiment = &manifests.experiments[0];
        let host = host();
        let cells: Vec<ResolvedCell> = expand(experiment)
            .into_iter()
            .map(|cell| resolve_cell(&manifests, experiment, cell, &InputDigests::default(), &host))
            .collect();
        let mut records = Vec::new();
        for cell in &cells {
            let Some((status, metrics)) = outcome(cell) else { continue };
            let mut record = CellRecord::new(cell, &host, status);
            record.timings.started_unix_ms = 1_795_305_600_000;
            for (name, mean, unit) in metrics {
                record.metrics.insert(name.to_owned(), MetricValue::single(mean, unit));
            }
            if status == Status::Failed {
                record.failure = Some(Failure {
                    reason: "exit code 1: error: invalid parameter".to_owned(),
                    exit_code: Some(1),
                    signal: None,
                    log_tail: vec!["error: invalid parameter".to_owned()],
                });
            }
            records.push(record);
        }
        Self { manifests, cells, records }
    }

    fn report(&self) -> Report {
        let expected: Vec<ExpectedCell> = self.cells.iter().map(ExpectedCell::of).collect();
        build(&Inputs {
            manifests: &self.manifests,
            experiment: &self.manifests.experiments[0],
            cells: &expected,
            records: &self.records,
            lock: None,
            model_kinds: &BTreeMap::new(),
        })
    }

    fn markdown(&self) -> String {
        super::markdown::render(&self.report())
    }
}

fn value(cell: &ResolvedCell, axis: &str) -> f64 {
    cell.cell.value(axis).unwrap().parse().unwrap()
}

const THREADS: &str = r#"
model "m" { file "m.gguf" }
experiment "e" {
    matrix {
        model "m"
        threads 1 2 4
    }
    bench { args "-t" "{threads}" "-p" 64 "-n" 16 }
    report {
        baseline threads=1
        table rows="threads" columns="model" metric="tg16"
    }
}
"#;

fn threads() -> Fixture {
    Fixture::new(THREADS, |cell| Some((Status::Ok, vec![("tg16", 10.0 * value(cell, "threads"), "t/s")])))
}

#[test]
fn a_table_pivots_rows_by_the_axis_asked_for() {
    let report = threads().report();
    let table = &report.tables[0];
    assert_eq!(table.keys, ["threads"]);
    assert_eq!(table.columns, ["m"]);
    let rows: Vec<&str> = table.rows.iter().map(|row| row.key[0].as_str()).collect();
    assert_eq!(rows, ["1", "2", "4"]);
}

#[test]
fn ratios_are_against_the_baseline_with_the_rest_the_same() {
    let report = threads().report();
    let ratio = |row: usize| match &report.tables[0].rows[row].entries[0] {
        Entry::Ok { ratio, baseline, .. } => (*ratio, *baseline),
        other => panic!("{other:?}"),
    };
    assert!(ratio(0).1, "threads=1 is the baseline");
    assert!((ratio(2).0.unwrap() - 4.0).abs() < 1e-9);
    assert!(threads().markdown().contains("| 4 | 40.0 (4.00×) |"));
}

#[test]
fn the_best_configuration_is_named() {
    let markdown = threads().markdown();
    assert!(markdown.contains("Best: `threads=4` with 40.0 t/s (4.00× the baseline)."), "{markdown}");
}

#[test]
fn a_tie_names_no_best() {
    let fixture = Fixture::new(THREADS, |_| Some((Status::Ok, vec![("tg16", 25.0, "t/s")])));
    assert!(fixture.report().tables[0].best.is_empty());
    assert!(!fixture.markdown().contains("Best"));
}

#[test]
fn lower_is_better_for_latencies_and_sizes() {
    let fixture = Fixture::new(&THREADS.replace("tg16\"", "peak_rss_bytes\""), |cell| {
        Some((Status::Ok, vec![("peak_rss_bytes", 1e8 * value(cell, "threads"), "bytes")]))
    });
    let markdown = fixture.markdown();
    assert!(markdown.contains("### peak_rss_bytes (MiB, lower is better) by threads × model"), "{markdown}");
    assert!(markdown.contains("Best: `threads=1` with 95.4 MiB"), "{markdown}");
}

#[test]
fn a_failed_cell_is_a_failure_in_the_table_and_listed_with_its_log() {
    let fixture = Fixture::new(THREADS, |cell| {
        if cell.cell.value("threads") == Some("4") {
            Some((Status::Failed, Vec::new()))
        } else {
            Some((Status::Ok, vec![("tg16", 10.0, "t/s")]))
        }
    });
    let markdown = fixture.markdown();
    assert!(markdown.contains("| 4 | failed |"), "{markdown}");
    assert!(markdown.contains("## Failed and blocked cells"), "{markdown}");
    assert!(markdown.contains("**failed**: exit code 1: error: invalid parameter"), "{markdown}");
    assert!(markdown.contains("  error: invalid parameter\n"), "the log tail: {markdown}");
}

#[test]
fn cells_not_run_yet_are_listed() {
    let fixture =
        Fixture::new(THREADS, |cell| (value(cell, "threads") < 4.0).then(|| (Status::Ok, vec![("tg16", 10.0, "t/s")])));
    let markdown = fixture.markdown();
    assert!(markdown.contains("| 4 | not run |"), "{markdown}");
    assert!(markdown.contains("## Not yet run\n\n- `threads=4`\n"), "{markdown}");
}

#[test]
fn nothing_run_says_so() {
    let markdown = Fixture::new(THREADS, |_| None).markdown();
    assert!(markdown.contains("No cell has a result yet"), "{markdown}");
}

/// Regression: with every cell ok but the table's metric missing, the report said "No cell has
/// a result yet".
#[test]
fn ok_cells_without_the_asked_metric_are_not_called_unrun() {
    let markdown = Fixture::new(THREADS, |_| Some((Status::Ok, vec![("tg8", 10.0, "t/s")]))).markdown();
    assert!(!markdown.contains("No cell has a result yet"), "{markdown}");
    assert!(markdown.contains("The cells that are ok record none of the metrics these tables ask for"), "{markdown}");
}

#[test]
fn a_numeric_axis_of_three_values_is_drawn_as_lines_with_retention() {
    let text = THREADS.replace("threads 1 2 4", "threads 1\n        depth 0 4096 16384").replace(
        "table rows=\"threads\" columns=\"model\" metric=\"tg16\"",
        "table rows=\"depth\" columns=\"model\" metric=\"tg16\"",
    );
    let text = text
        .replace("\"-t\" \"{threads}\"", "\"-t\" \"{threads}\" \"-d\" \"{depth}\"")
        .replace("baseline threads=1", "");
    let fixture =
        Fixture::new(&text, |cell| Some((Status::Ok, vec![("tg16", 40.0 - value(cell, "depth") / 1000.0, "t/s")])));
    let report = fixture.report();
    assert_eq!(report.tables[0].chart.as_ref().unwrap().kind, ChartKind::Line);
    let markdown = super::markdown::render(&report);
    assert!(markdown.contains("Retention: tg16 against its value at the smallest depth (0)."), "{markdown}");
    assert!(markdown.contains("| 16384 | 59% |"), "{markdown}");
}

#[test]
fn two_values_of_a_numeric_axis_are_bars() {
    let fixture = Fixture::new(&THREADS.replace("threads 1 2 4", "threads 1 2"), |_| {
        Some((Status::Ok, vec![("tg16", 10.0, "t/s")]))
    });
    assert_eq!(fixture.report().tables[0].chart.as_ref().unwrap().kind, ChartKind::Bar);
}

#[test]
fn without_a_report_block_every_metric_gets_a_table() {
    let text = THREADS.replace(
        "    report {\n        baseline threads=1\n        table rows=\"threads\" columns=\"model\" metric=\"tg16\"\n    }\n",
        "",
    );
    let fixture = Fixture::new(&text, |_| Some((Status::Ok, vec![("tg16", 10.0, "t/s"), ("pp64", 100.0, "t/s")])));
    let metrics: Vec<String> = fixture.report().tables.iter().map(|table| table.metric.clone()).collect();
    assert_eq!(metrics, ["pp64", "tg16"]);
}

#[test]
fn the_same_records_give_the_same_bytes() {
    assert_eq!(threads().markdown(), threads().markdown());
}

const SERVED: &str = r#"
model "m" { file "m.gguf" }
experiment "s" {
    matrix {
        model "m"
        threads 1 2
        variant "plain"
        variant "fast" { args "-fa" 1 }
    }
    server { args "-t" "{threads}" "{variant}" }
    workload "chat" {
        request api="openai-chat" prompt="hi"
        repeat 2
    }
    workload "talk" {
        conversation api="openai-chat" {
            turn "one"
            turn "two"
        }
    }
}
"#;

fn served() -> Fixture {
    Fixture::new(SERVED, |cell| {
        let threads = value(cell, "threads");
        Some((
            Status::Ok,
            match cell.cell.workload.as_str() {
                "chat" => vec![("ttft_ms_first", 20_000.0 / threads, "ms"), ("ttft_ms_warm", 40.0, "ms")],
                _ => vec![("ttft_ms_turn1", 90.0, "ms"), ("ttft_ms_turn2", 60.0 * threads, "ms")],
            },
        ))
    })
}

#[test]
fn a_server_experiment_leads_with_a_summary_per_workload_and_folds_the_rest() {
    let markdown = served().markdown();
    let chat = markdown.find("### `chat`").unwrap();
    let talk = markdown.find("### `talk`").unwrap();
    let details = markdown.find("<details>").unwrap();
    assert!(chat < talk && talk < details, "{markdown}");
    assert!(
        markdown.contains("| configuration | time to first token, turn 1 (ms) | time to first token, turn 2 (ms) |"),
        "{markdown}"
    );
}

#[test]
fn a_metric_family_keeps_one_unit_across_tables() {
    let markdown = served().markdown();
    assert!(markdown.contains("### ttft_ms_first (ms, lower is better)"), "{markdown}");
    assert!(markdown.contains("### ttft_ms_warm (ms, lower is better)"), "{markdown}");
}

#[test]
fn variants_and_turns_are_spelled_out() {
    let markdown = served().markdown();
    assert!(
        markdown
            .contains("- `{variant}` stands for each variant's arguments:\n  - `plain`: (none)\n  - `fast`: `-fa 1`"),
        "{markdown}"
    );
    assert!(markdown.contains("conversation openai-chat; turn 1: one; turn 2: two"), "{markdown}");
}

#[test]
fn summary_rows_name_only_the_axes_that_vary() {
    let report = served().report();
    let labels: Vec<&str> = report.summaries[0].rows.iter().map(|(label, _)| label.as_str()).collect();
    assert_eq!(
        labels,
        ["threads=1, variant=plain", "threads=1, variant=fast", "threads=2, variant=plain", "threads=2, variant=fast"]
    );
}

#[test]
fn one_configuration_is_named_by_its_axes_not_its_cell_id() {
    let text = SERVED.replace("threads 1 2", "threads 1").replace("        variant \"fast\" { args \"-fa\" 1 }\n", "");
    let fixture =
        Fixture::new(&text, |_| Some((Status::Ok, vec![("ttft_ms_turn1", 90.0, "ms"), ("ttft_ms_turn2", 60.0, "ms")])));
    let report = fixture.report();
    let (label, _) = &report.summaries[0].rows[0];
    assert_eq!(label, "model=m,threads=1,variant=plain,toolbox=host");
}

#[test]
fn turns_become_a_table_with_a_turn_per_row() {
    let report = served().report();
    let turns = report.tables.iter().find(|table| table.metric == "ttft_ms_per_turn_talk").unwrap();
    assert_eq!(turns.keys, ["turn"]);
    assert_eq!(turns.rows.len(), 2);
}

/// A chart that cannot be drawn was once dropped silently while the markdown still linked its
/// file: a broken image with no word of why.
#[test]
fn a_chart_that_cannot_be_drawn_is_said_where_it_would_be_and_no_file_is_linked() {
    let fixture = Fixture::new(THREADS, |cell| {
        let tg = if cell.cell.value("threads") == Some("4") { f64::INFINITY } else { 10.0 * value(cell, "threads") };
        Some((Status::Ok, vec![("tg16", tg, "t/s")]))
    });
    let files = super::render(fixture.report());
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["README.md"]);
    let markdown = &files[0].1;
    assert!(!markdown.contains(".svg"), "{markdown}");
    assert!(
        markdown.contains("*No chart of `tg16`: it could not be drawn (a value is `inf`, which no axis can hold).*"),
        "{markdown}"
    );

    // The same table with finite values is drawn, linked, and its file is among the report's.
    let files = super::render(threads().report());
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["README.md", "tg16.svg"]);
    assert!(files[0].1.contains("![tg16 chart](tg16.svg)"), "{}", files[0].1);
    assert!(files[1].1.starts_with("<svg"), "{}", &files[1].1[..80]);
}

/// Reports once led with peak memory when a declared metric sorted after it by name: what the
/// cells measured comes first, what their runs used after it.
#[test]
fn declared_metrics_lead_and_usage_follows() {
    const COMMAND: &str = r#"
experiment "e" {
    matrix { n 1 2 }
    command {
        args "sh" "-c" "echo {n}"
        metric "tps" regex="(\\d+)"
    }
}
"#;
    let fixture = Fixture::new(COMMAND, |cell| {
        let n = value(cell, "n");
        Some((Status::Ok, vec![("tps", n, "t/s"), ("peak_rss_bytes", 4096.0 * n, "bytes"), ("energy_j", n, "J")]))
    });
    let metrics: Vec<String> = fixture.report().tables.iter().map(|table| table.metric.clone()).collect();
    assert_eq!(metrics, ["tps", "peak_rss_bytes", "energy_j"]);
}
