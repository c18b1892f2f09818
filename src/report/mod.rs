//! The research report: markdown with pivot tables and SVG charts, built from the store.

mod breakdown;
mod build;
mod chart;
mod compare;
mod format;
mod grid;
mod markdown;
mod select;
mod summary;
mod table;

pub use breakdown::{Breakdown, BreakdownKind};
pub use build::{HostPairs, Inputs, LockState, ModelKind, ModelSummary, REPORT_FORMAT, Report, build, compare_hosts};
pub use compare::{CompareRow, Comparison, FactDifference, Measured};
pub use select::{Chosen, ExpectedCell, Hosts, choose};
pub use summary::{Column, Summary};
pub use table::{Best, Better, Chart, ChartKind, Entry, Row, Significance, Table};

/// One host against another in markdown, as `bakeoff compare` prints it.
pub fn render_comparison(compared: &Comparison) -> String {
    let mut out = String::new();
    markdown::comparison(&mut out, compared, "##");
    out
}

/// The files of a report, relative to `results/<experiment>/`: `README.md` and its charts.
pub fn render(report: &Report) -> Vec<(String, String)> {
    let mut files = vec![("README.md".to_owned(), markdown::render(report))];
    for table in &report.tables {
        if let (Some(chart), Some(svg)) = (&table.chart, chart::render(table)) {
            files.push((chart.file.clone(), svg));
        }
    }
    files
}

#[cfg(test)]
mod tests;
