//! The research report: markdown with pivot tables and SVG charts, built from the store.

mod breakdown;
mod build;
mod chart;
mod compare;
mod format;
mod grid;
mod markdown;
mod page;
mod select;
mod summary;
mod table;

pub(crate) use build::{Inputs, ModelKind, REPORT_FORMAT, Report, build, compare_hosts};
pub(crate) use compare::Comparison;
pub(crate) use page::render as render_page;
pub(crate) use select::{ExpectedCell, Hosts};

/// One host against another in markdown, as `bakeoff compare` prints it.
pub(crate) fn render_comparison(compared: &Comparison) -> String {
    let mut out = String::new();
    markdown::comparison(&mut out, compared, "##");
    out
}

/// The files of a report, relative to `results/<experiment>/`: `README.md` and its charts.
pub(crate) fn render(report: &Report) -> Vec<(String, String)> {
    let mut files = vec![(crate::store::REPORT_FILE.to_owned(), markdown::render(report))];
    for chart in report.tables.iter().filter_map(|table| table.chart.as_ref()) {
        files.push((chart.file.clone(), chart.svg.clone()));
    }
    files
}

#[cfg(test)]
mod tests;
