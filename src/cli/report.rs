//! `bakeoff report`: write each experiment's research report from the store alone.

use super::outln;
use super::{ReportArgs, ReportFormat};
use crate::Error;
use crate::host::HostFacts;
use crate::project::{Project, Reporter, shown};
use crate::report::{self, ExpectedCell, REPORT_FORMAT};

pub(super) fn run(project: &Project, args: &ReportArgs) -> Result<(), Error> {
    let loaded = project.load(&args.targets.targets)?;
    // The host does not enter a report; cells are matched to results by what they run.
    let cells = project.resolve_uninspected(&loaded, &HostFacts::default())?;
    crate::project::note_unhashed(&cells);
    let records = project.records();
    let expected = cells.iter().map(ExpectedCell::of).collect();
    let mut reporter = Reporter::new(&loaded, project.lock()?, expected, records.clone());
    match args.format {
        ReportFormat::Json => {
            let reports: Vec<report::Report> =
                loaded.selected.iter().filter_map(|experiment| reporter.build(experiment)).collect();
            let json = serde_json::json!({ "format": REPORT_FORMAT, "reports": reports });
            outln!("{}", serde_json::to_string_pretty(&json).expect("a report always serialises"));
        }
        ReportFormat::Markdown => {
            if let Some(note) = crate::project::keep_reports_mergeable(&project.root, &project.store) {
                crate::console::errln!("{note}");
            }
            for experiment in &loaded.selected {
                let path = reporter.write(&project.store, experiment).map_err(|source| Error::Io {
                    what: format!("cannot write the report of `{experiment}`"),
                    source,
                })?;
                outln!("{}", shown(&path).display());
            }
            let page = project.write_page(&loaded, &records)?;
            outln!("{}", shown(&page).display());
        }
    }
    Ok(())
}
