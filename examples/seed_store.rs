//! Writes an `ok` record for every runnable cell of a project, as a finished run would, so
//! that planning and reporting can be benchmarked before cells run. Used by
//! `scripts/bench-plan.sh` and `scripts/bench-report.sh`.
//!
//! Usage: `seed_store PROJECT_DIR HOST_FACTS.json [MODEL_ROOT]`

use std::path::PathBuf;

use bakeoff::project::{Project, Settings};
use bakeoff::store::{CellRecord, MetricValue, Status};

fn main() -> miette::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(project), Some(facts)) = (args.next(), args.next()) else {
        eprintln!("usage: seed_store PROJECT_DIR HOST_FACTS.json [MODEL_ROOT]");
        std::process::exit(2);
    };
    let project = Project::new(&Settings {
        project: PathBuf::from(project),
        results: None,
        models: args.next().map(PathBuf::from).into_iter().collect(),
        host_facts: Some(PathBuf::from(facts)),
        host_name: None,
        no_cache: false,
        storage: None,
    });
    let loaded = project.load(&[])?;
    let host = project.host()?;
    let mut written = 0;
    for cell in project.resolve(&loaded, &host)?.iter().filter(|cell| cell.blocked.is_empty()) {
        let mut record = CellRecord::new(cell, &host, Status::Ok);
        // Typical size: a few metrics with their samples, as llama-bench gives; values differ
        // from cell to cell so that reports have something to rank.
        let spread = f64::from(u8::from_str_radix(&cell.hash[..2], 16).unwrap_or(0));
        for (metric, base) in [("pp512", 900.0), ("tg128", 40.0)] {
            let mean = base * (1.0 + spread / 512.0);
            record.metrics.insert(
                metric.to_owned(),
                MetricValue {
                    mean,
                    stddev: Some(mean / 100.0),
                    unit: "t/s".to_owned(),
                    samples: vec![mean * 0.99, mean, mean * 1.01],
                    rounds: None,
                },
            );
        }
        project.store.write(&record)?;
        written += 1;
    }
    println!("seeded {written} records");
    Ok(())
}
