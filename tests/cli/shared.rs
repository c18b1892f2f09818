//! A record is a measurement of its inputs, not of the experiment that asked for it: two
//! experiments (one by `extends`) whose cells have the same inputs share its record, with the
//! real llama-bench on the Gemma model.

use std::path::Path;

use crate::support::{Llama, project, records};

const MODELS: &str = "model \"gemma\" { file \"gemma-3-270m-q4_k_m.gguf\" }\n";

/// `tour` measures threads 1 and 2; `both` has the threads=1 cell and `deep` (extending `tour`)
/// the threads=2 one, with the same inputs.
const TOUR: &str = r#"import "models.kdl"
experiment "tour" {
    matrix {
        model "gemma"
        toolbox "host"
        threads 1 2
    }
    bench { args "-t" "{threads}" "-p" 16 "-n" 4 "-r" 1 "--repack" 0 }
    timeout 300
}
experiment "deep" extends="tour" {
    matrix { threads 2 }
}
"#;

const BOTH: &str = r#"import "models.kdl"
experiment "both" {
    matrix {
        model "gemma"
        toolbox "host"
        threads 1
    }
    bench { args "-t" "{threads}" "-p" 16 "-n" 4 "-r" 1 "--repack" 0 }
    timeout 300
}
"#;

const BOTH_CELL: &str = "both/model=gemma,toolbox=host,threads=1/bench";

/// The data `results/index.html` shows.
fn page_data(directory: &Path) -> serde_json::Value {
    let page = std::fs::read_to_string(directory.join("results/index.html")).unwrap();
    let start = page.find("<script type=\"application/json\" id=\"data\">").unwrap();
    let data = &page[start..];
    let data = &data[data.find('>').unwrap() + 1..data.find("</script>").unwrap()];
    serde_json::from_str(data).unwrap()
}

/// The page's cells of `experiment`, as `(id, tg4)`.
fn page_cells(data: &serde_json::Value, experiment: &str) -> Vec<(String, f64)> {
    let cells = data["cells"].as_array().unwrap();
    let mut found: Vec<(String, f64)> = cells
        .iter()
        .filter(|cell| cell["experiment"] == experiment)
        .map(|cell| (cell["id"].as_str().unwrap().to_owned(), cell["metrics"]["tg4"]["mean"].as_f64().unwrap()))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// `1 cell`, `2 cells`.
fn cells(count: usize) -> String {
    format!("{count} cell{}", if count == 1 { "" } else { "s" })
}

fn report(directory: &Path, experiment: &str) -> String {
    std::fs::read_to_string(directory.join(format!("results/{experiment}/README.md"))).unwrap()
}

/// Regression (issue 30): the second experiment's report said "Not yet run" while `plan` said
/// cached, `why` said "no earlier result", and `run B --force` rewrote the shared record as
/// B's, so A's report lost its row while `plan A` still said cached.
#[test]
fn experiments_with_a_cell_of_the_same_inputs_share_its_record() {
    let llama = Llama::get();
    let directory =
        project(&[("experiments/models.kdl", MODELS), ("experiments/tour.kdl", TOUR), ("experiments/both.kdl", BOTH)]);
    let root = directory.path();
    let bakeoff = || llama.bakeoff(root);

    let ran = bakeoff().args(["run", "tour", "--no-progress"]).run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(records(root).len(), 2);

    for (experiment, count) in [("both", 1), ("deep", 1), ("tour", 2)] {
        let plan = bakeoff().args(["plan", experiment]).run();
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        let summary = format!("{}: {count} cached, 0 to run, 0 blocked\n", cells(count));
        assert!(plan.stdout.ends_with(&summary), "{experiment}: {}", plan.stdout);
    }
    let reported = bakeoff().args(["report"]).run();
    assert_eq!(reported.code, 0, "{}", reported.stderr);
    for experiment in ["both", "deep"] {
        let text = report(root, experiment);
        assert!(text.contains(" 1 cell: 1 ok\n"), "{experiment}: {text}");
        assert!(!text.contains("Not yet run") && !text.contains("No cell has a result yet"), "{text}");
    }
    let data = page_data(root);
    let measured: Vec<(String, f64)> = records(root)
        .iter()
        .map(|record| (record.cell.replace("tour/", "both/"), record.metrics["tg4"].mean))
        .filter(|(cell, _)| cell == BOTH_CELL)
        .collect();
    assert_eq!(page_cells(&data, "both"), measured, "the page shows tour's record under both");
    assert_eq!(page_cells(&data, "deep").len(), 1);
    assert_eq!(page_cells(&data, "tour").len(), 2);

    let why = bakeoff().args(["why", BOTH_CELL]).run();
    assert_eq!(why.code, 0, "{}", why.stderr);
    assert!(why.stdout.contains("status   cached\n"), "{}", why.stdout);
    assert!(
        why.stdout.contains("result   ok, last measured as tour/model=gemma,toolbox=host,threads=1/bench\n"),
        "{}",
        why.stdout
    );
    assert!(!why.stdout.contains("no earlier result"), "{}", why.stdout);

    // `both` measures the cell again: the record is replaced for every experiment that has it.
    let before = records(root);
    let forced = bakeoff().args(["run", "both", "--force", "--no-progress"]).run();
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let after = records(root);
    assert_eq!(after.len(), 2, "one record per set of inputs");
    let shared = after.iter().find(|record| record.axes["threads"] == "1").unwrap();
    assert_eq!(shared.experiment, "both", "the experiment that last measured it");
    let earlier = before.iter().find(|record| record.hash == shared.hash).unwrap();
    assert!(shared.timings.started_unix_ms > earlier.timings.started_unix_ms, "measured again");
    let reported = bakeoff().args(["report"]).run();
    assert_eq!(reported.code, 0, "{}", reported.stderr);
    let tour = report(root, "tour");
    assert!(tour.contains(" 2 cells: 2 ok\n"), "{tour}");
    assert!(!tour.contains("not run") && !tour.contains("Not yet run"), "{tour}");
    let both = report(root, "both");
    assert!(both.contains(" 1 cell: 1 ok\n"), "{both}");
    let data = page_data(root);
    let tour_cells = page_cells(&data, "tour");
    let both_cells = page_cells(&data, "both");
    assert_eq!(tour_cells.len(), 2);
    assert_eq!(both_cells.len(), 1);
    assert!(tour_cells.contains(&(BOTH_CELL.replace("both/", "tour/"), shared.metrics["tg4"].mean)), "{tour_cells:?}");
    for (experiment, count) in [("both", 1), ("tour", 2)] {
        let plan = bakeoff().args(["plan", experiment]).run();
        let summary = format!("{}: {count} cached, 0 to run, 0 blocked\n", cells(count));
        assert!(plan.stdout.ends_with(&summary), "{experiment}: {}", plan.stdout);
    }

    // Asked for together, the shared inputs are measured once.
    let all = bakeoff().args(["run", "tour", "both", "deep", "--force", "--no-progress"]).run();
    assert_eq!(all.code, 0, "{}", all.stderr);
    let measured: Vec<u64> = records(root).iter().map(|record| record.timings.started_unix_ms).collect();
    assert_eq!(measured.len(), 2);
    assert!(all.stdout.starts_with("2 cells: 2 ran (2 ok, 0 failed)"), "{}", all.stdout);
}
