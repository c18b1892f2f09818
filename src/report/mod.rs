//! The research report: markdown with pivot tables and SVG charts, built from the store.

mod breakdown;
mod build;
mod chart;
mod compare;
mod figure;
mod format;
mod grid;
mod markdown;
mod page;
mod quality;
mod scatter;
mod search;
mod select;
mod summary;
mod table;

pub(crate) use build::{HostPairs, Inputs, ModelKind, REPORT_FORMAT, Report, build, compare_hosts};
pub(crate) use compare::Comparison;
pub(crate) use page::render as render_page;
pub(crate) use select::{ExpectedCell, Hosts};

/// One host against another in markdown, as `bakeoff compare` prints it.
pub(crate) fn render_comparison(compared: &Comparison) -> String {
    let mut out = String::new();
    markdown::comparison(&mut out, compared, "##");
    out
}

/// The files of a report, relative to `results/<experiment>/`: `README.md` and its charts. A
/// chart that cannot be drawn is said in the markdown where it would have been.
pub(crate) fn render(mut report: Report) -> Vec<(String, String)> {
    let mut charts = Vec::new();
    for table in &mut report.tables {
        match chart::render(table) {
            Ok(Some(svg)) => charts.extend(table.chart.as_ref().map(|chart| (chart.file.clone(), svg))),
            Ok(None) => table.chart = None,
            Err(error) => {
                table.chart = None;
                table.chart_refused = Some(error.to_string());
            }
        }
    }
    if let Some(view) = &mut report.quality {
        match scatter::render(view) {
            Ok(Some(svg)) => charts.extend(view.chart.clone().map(|file| (file, svg))),
            Ok(None) => view.chart = None,
            Err(error) => {
                view.chart = None;
                view.chart_refused = Some(error.to_string());
            }
        }
    }
    if let Some(view) = &mut report.search {
        match search::chart(view) {
            Ok(Some(svg)) => {
                view.chart = Some(search::CHART.to_owned());
                charts.push((search::CHART.to_owned(), svg));
            }
            Ok(None) => {}
            Err(error) => view.chart_refused = Some(error.to_string()),
        }
    }
    let mut files = vec![(crate::store::REPORT_FILE.to_owned(), markdown::render(&report))];
    files.extend(charts);
    files
}

#[cfg(test)]
mod tests;
