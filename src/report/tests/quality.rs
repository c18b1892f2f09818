//! The speed × quality view from records made here: a reference and three quantizations, each
//! with llama-bench's speeds and llama-perplexity's divergence from the reference.

use super::{Fixture, Measured};
use crate::fingerprint::ResolvedCell;
use crate::matrix::Block;
use crate::report::ExpectedCell;
use crate::report::quality::Place;
use crate::store::Status;

const QUANTS: &str = r#"
model "f16" { file "f16.gguf" }
model "q8_0" { file "q8_0.gguf" }
model "q4_0" { file "q4_0.gguf" }
model "q2_k" { file "q2_k.gguf" }
experiment "quants" {
    matrix {
        model "f16" "q8_0" "q4_0" "q2_k"
    }
    bench { args "-p" 512 "-n" 128 }
    quality {
        corpus "wiki.test.raw"
        reference model="f16"
        args "-c" 128 "--chunks" 8
    }
}
"#;

/// A figure and llama-perplexity's ± for it.
type Quality = [(&'static str, f64, Option<f64>, &'static str); 7];

/// What llama-perplexity printed for each candidate (the reference prints its perplexity only).
fn quality(model: &str) -> Option<Quality> {
    let figures = |ppl, ratio, kld, kld_spread, p99, max, same, same_spread, rms| {
        [
            ("ppl", ppl, Some(ppl * 0.009), ""),
            ("ppl_ratio", ratio, None, ""),
            ("kld_mean", kld, Some(kld_spread), ""),
            ("kld_p99", p99, None, ""),
            ("kld_max", max, None, ""),
            ("same_top_p", same, Some(same_spread), "%"),
            ("dp_rms", rms, Some(0.12), "%"),
        ]
    };
    match model {
        "q8_0" => Some(figures(286.2, 1.007, 0.0068, 0.0002, 0.081, 1.92, 96.0, 0.8, 1.62)),
        "q4_0" => Some(figures(331.1, 1.165, 0.334, 0.006, 2.91, 9.84, 70.6, 1.9, 14.8)),
        "q2_k" => Some(figures(402.0, 1.414, 0.501, 0.008, 3.88, 12.4, 65.5, 2.0, 18.2)),
        _ => None,
    }
}

/// Generation and prompt speed: `q2_k` fastest, then `q4_0`; `q8_0` is slower than the reference
/// itself, so the reference beats it on both counts.
fn speeds(model: &str) -> (f64, f64) {
    match model {
        "f16" => (30.1, 912.0),
        "q8_0" => (28.4, 861.0),
        "q4_0" => (52.3, 780.0),
        _ => (60.2, 701.0),
    }
}

/// Each cell's record: `quality` says what the quality cell of a model gives (`None`: not run).
fn quants(text: &str, status: impl Fn(&ResolvedCell) -> Option<Status>) -> Fixture {
    let mut fixture = Fixture::with_files(text, &["wiki.test.raw"], |cell| {
        let model = cell.cell.value("model").unwrap();
        let status = status(cell)?;
        let outcome: Measured = match cell.cell.block {
            Block::Bench => {
                let (tg, pp) = speeds(model);
                let steady = |mean: f64| vec![vec![mean * 0.99, mean, mean * 1.01]];
                Some((status, vec![("tg128", steady(tg), "t/s"), ("pp512", steady(pp), "t/s")]))
            }
            _ => match quality(model) {
                Some(figures) => Some((
                    status,
                    figures.iter().map(|(name, mean, _, unit)| (*name, vec![vec![*mean]], *unit)).collect(),
                )),
                None => Some((status, vec![("ppl", vec![vec![284.2]], "")])),
            },
        };
        if status == Status::Ok { outcome } else { Some((status, Vec::new())) }
    });
    // llama-perplexity's ± is its own uncertainty, not a spread of samples: set as it records it.
    for record in &mut fixture.records {
        let model = record.axes.get("model").cloned().unwrap_or_default();
        if record.block() != Block::Quality {
            continue;
        }
        let figures = quality(&model);
        for (name, value) in &mut record.metrics {
            value.stddev = match &figures {
                Some(figures) => figures.iter().find(|figure| figure.0 == name).and_then(|figure| figure.2),
                None => Some(2.6),
            };
        }
    }
    fixture
}

fn measured() -> Fixture {
    quants(QUANTS, |_| Some(Status::Ok))
}

#[test]
fn the_speed_and_quality_table_leads_the_results() {
    let markdown = measured().markdown();
    let results = markdown.find("## Results").unwrap();
    let quality = markdown.find("### Speed and quality").expect(&markdown);
    let first_table = markdown.find("### pp512").expect(&markdown);
    assert!(results < quality && quality < first_table, "{markdown}");
}

#[test]
fn the_frontier_is_marked_and_each_configuration_off_it_names_what_beats_it() {
    let report = measured().report();
    let view = report.quality.as_ref().expect("a quality view");
    let places: Vec<(&str, Option<&Place>)> =
        view.rows.iter().map(|row| (row.configuration.as_str(), row.place.as_ref())).collect();
    let beaten = Place::BeatenBy { configuration: "model=f16".to_owned() };
    assert_eq!(
        places,
        [
            ("model=f16", Some(&Place::Frontier)),
            ("model=q8_0", Some(&beaten)),
            ("model=q4_0", Some(&Place::Frontier)),
            ("model=q2_k", Some(&Place::Frontier)),
        ]
    );
    assert_eq!(view.speed[view.primary.unwrap()].metric, "tg128", "generation, whatever the column order");
    let markdown = super::super::markdown::render(&report);
    assert!(markdown.contains("The frontier is drawn along tg128 (t/s)"), "{markdown}");
    assert!(markdown.contains("| beaten by model=f16 |"), "{markdown}");
    assert!(
        markdown.contains(
            "On the frontier: `model=f16` (tg128 30.1 t/s, the reference); `model=q4_0` (tg128 52.3 t/s, mean KLD \
             0.334, same top token 70.6 %); `model=q2_k` (tg128 60.2 t/s, mean KLD 0.501, same top token 65.5 %)."
        ),
        "{markdown}"
    );
}

#[test]
fn the_reference_row_says_reference_and_no_divergence_figure() {
    let markdown = measured().markdown();
    let row = markdown.lines().find(|line| line.starts_with("| model=f16 |")).expect(&markdown);
    assert_eq!(row, "| model=f16 | 30.1 ± 0.3 | 912 ± 9 | reference | reference | reference | **frontier** |");
    assert!(markdown.contains("its perplexity over the reference's (284.2)"), "{markdown}");
    let q8 = markdown.lines().find(|line| line.starts_with("| model=q8_0 |")).expect(&markdown);
    assert!(q8.contains("| 0.00680 ± 0.00020 | 96.0 ± 0.8 | 1.007 |"), "{q8}");
}

#[test]
fn the_speed_and_quality_section_reads_so() {
    let markdown = measured().markdown();
    let start = markdown.find("### Speed and quality").unwrap();
    let end = start + markdown[start..].find("\n### ").unwrap();
    insta::assert_snapshot!(&markdown[start..end]);
}

#[test]
fn an_experiment_without_speed_gets_the_quality_figures_and_no_frontier() {
    let text = QUANTS.replace("    bench { args \"-p\" 512 \"-n\" 128 }\n", "");
    let fixture = quants(&text, |_| Some(Status::Ok));
    let report = fixture.report();
    let view = report.quality.as_ref().unwrap();
    assert!(view.speed.is_empty() && view.primary.is_none());
    assert!(view.rows.iter().all(|row| row.place.is_none()));
    let markdown = super::super::markdown::render(&report);
    assert!(markdown.contains("### Quality\n"), "{markdown}");
    assert!(!markdown.contains("frontier"), "{markdown}");
    assert!(
        markdown.contains(
            "| configuration | ppl | ppl_ratio | kld_mean | kld_p99 | kld_max | same_top_p (%) | dp_rms (%) |"
        ),
        "{markdown}"
    );
    assert!(
        markdown.contains(
            "| model=f16 | 284.2 ± 2.6 | reference | reference | reference | reference | reference | reference |"
        ),
        "{markdown}"
    );
    assert!(
        markdown
            .contains("| model=q4_0 | 331.1 ± 3.0 | 1.165 | 0.334 ± 0.006 | 2.910 | 9.840 | 70.6 ± 1.9 | 14.8 ± 0.1 |"),
        "{markdown}"
    );
    // Nothing to draw speed against.
    let files = super::super::render(report);
    assert!(files.iter().all(|(name, _)| !name.starts_with("speed-quality")), "{files:?}");
}

/// A quality cell that failed or has not run shows its status, never a number, and is not
/// placed on the frontier.
#[test]
fn unmeasured_quality_cells_show_their_status() {
    let fixture = quants(QUANTS, |cell| match (cell.cell.block, cell.cell.value("model")) {
        (Block::Quality, Some("q4_0")) => Some(Status::Failed),
        (Block::Quality, Some("q2_k")) => None,
        _ => Some(Status::Ok),
    });
    let report = fixture.report();
    let markdown = super::super::markdown::render(&report);
    let row = |model: &str| {
        markdown.lines().find(|line| line.starts_with(&format!("| model={model} |"))).expect(&markdown).to_owned()
    };
    assert_eq!(row("q4_0"), "| model=q4_0 | 52.3 ± 0.5 | 780 ± 8 | failed | failed | failed |  |");
    assert_eq!(row("q2_k"), "| model=q2_k | 60.2 ± 0.6 | 701 ± 7 | not run | not run | not run |  |");
    let view = report.quality.as_ref().unwrap();
    assert_eq!(view.rows[2].place, None);
    assert_eq!(view.rows[1].place, Some(Place::BeatenBy { configuration: "model=f16".to_owned() }));
}

#[test]
fn the_chart_draws_every_configuration_with_its_label() {
    let files = super::super::render(measured().report());
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert!(names.contains(&"speed-quality.svg"), "{names:?}");
    assert!(files[0].1.contains("![speed against mean KL divergence chart](speed-quality.svg)"), "{}", files[0].1);
    let svg = &files.iter().find(|(name, _)| name == "speed-quality.svg").unwrap().1;
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    for label in ["model=f16 (reference)", "model=q8_0", "model=q4_0", "model=q2_k"] {
        assert!(svg.contains(&format!("\n{label}\n")), "{label}: {svg}");
    }
    assert!(svg.contains("tg128 (t/s)"), "the speed axis is titled with its unit");
    assert!(svg.contains("mean KL divergence from the reference"), "the divergence axis is titled");
}

/// The page shows the report's view: its words, its frontier and its chart.
#[test]
fn the_page_shows_the_reports_view() {
    let fixture = measured();
    // As `bakeoff report` matches the page's records: by what each cell runs.
    let current: Vec<ExpectedCell> = fixture
        .cells
        .iter()
        .map(|cell| ExpectedCell { key: Some(cell.fingerprint.portable_key()), ..ExpectedCell::of(cell) })
        .collect();
    let page = super::super::page::render(&fixture.records, &fixture.manifests, &current);
    assert!(page.contains(r#""heading":"Speed and quality""#), "{page}");
    assert!(
        page.contains(
            r#"["model=q8_0","28.4 ± 0.3","861 ± 9","0.00680 ± 0.00020","96.0 ± 0.8","1.007","beaten by model=f16"]"#
        ),
        "{page}"
    );
    assert_eq!(page.matches(r#""frontier":true"#).count(), 3, "{page}");
    assert!(page.contains("On the frontier: `model=f16` (tg128 30.1 t/s, the reference)"), "{page}");
    assert!(page.contains(r#""chart":"<svg"#), "the report's chart, drawn once for both");
    assert_eq!(page.matches("http://").count(), 1, "the page names one address, the SVG namespace");
}

/// A model's size is the lock's, shown where the results were measured with the locked file;
/// without a lock the column is left out rather than guessed.
#[test]
fn the_model_size_is_the_locked_files() {
    let fixture = measured();
    assert!(!fixture.markdown().contains("model size"), "no lock, no size");
    let sizes = [("f16", 1_610_612_736), ("q8_0", 855_638_016), ("q4_0", 453_115_904), ("q2_k", 301_989_888)];
    let lock = crate::lock::LockFile {
        models: sizes
            .iter()
            .map(|(name, size)| {
                // The records here name each model by its stand-in hash, which the lock pins.
                let locked = crate::lock::LockedModel {
                    file: format!("{name}.gguf"),
                    sha256: format!("unknown({name})"),
                    size: *size,
                };
                ((*name).to_owned(), locked)
            })
            .collect(),
        ..crate::lock::LockFile::default()
    };
    let expected: Vec<ExpectedCell> = fixture.cells.iter().map(ExpectedCell::of).collect();
    let report = super::super::build::build(&super::super::build::Inputs {
        manifests: &fixture.manifests,
        experiment: &fixture.manifests.experiments[0],
        cells: &expected,
        records: &fixture.records,
        lock: Some(&lock),
        model_kinds: &std::collections::BTreeMap::new(),
    });
    let markdown = super::super::markdown::render(&report);
    assert!(markdown.contains("| ppl_ratio | model size | frontier |"), "{markdown}");
    assert!(markdown.contains("| 1.007 | 816.0 MiB | beaten by model=f16 |"), "{markdown}");
}

/// A server experiment's speed is its generation speed and cold time to first token; the
/// frontier is drawn along generation.
#[test]
fn a_server_experiment_is_read_by_generation_speed_and_first_token() {
    let text = QUANTS.replace(
        "    bench { args \"-p\" 512 \"-n\" 128 }\n",
        "    server { args \"-c\" 4096 }\n    workload \"chat\" {\n        request api=\"openai-chat\" prompt=\"hi\"\n    }\n",
    );
    let fixture = Fixture::with_files(&text, &["wiki.test.raw"], |cell| {
        let model = cell.cell.value("model").unwrap();
        let (tg, _) = speeds(model);
        Some(match cell.cell.block {
            Block::Server => (
                Status::Ok,
                vec![
                    ("gen_tps", vec![vec![tg]], "t/s"),
                    ("ttft_ms_first", vec![vec![9000.0 / tg]], "ms"),
                    ("ttft_ms_warm", vec![vec![20.0]], "ms"),
                ],
            ),
            _ => match quality(model) {
                Some(figures) => (
                    Status::Ok,
                    figures.iter().map(|(name, mean, _, unit)| (*name, vec![vec![*mean]], *unit)).collect(),
                ),
                None => (Status::Ok, vec![("ppl", vec![vec![284.2]], "")]),
            },
        })
    });
    let markdown = fixture.markdown();
    assert!(
        markdown.contains(
            "| configuration | gen_tps (t/s) | ttft_ms_first (ms) | kld_mean | same_top_p (%) | ppl_ratio | frontier |"
        ),
        "{markdown}"
    );
    assert!(markdown.contains("The frontier is drawn along gen_tps (t/s)"), "{markdown}");
    assert!(
        markdown.contains("| model=q8_0 | 28.4 | 317 | 0.00680 | 96.0 | 1.007 | beaten by model=f16 |"),
        "{markdown}"
    );
}
