//! The report as GitHub-flavoured markdown: `results/<experiment>/README.md`.

use std::fmt::Write;

use super::build::{LockState, ModelKind, Report};
use super::compare::Comparison;
use super::format::{self, Scale};
use super::quality::{Place, QualityView};
use std::collections::BTreeSet;

use super::table::{Better, ChartKind, Entry, Evidence, SWEEPS, Significance, Table, p_value};
use crate::notice::Severity;
use crate::store::Status;
use crate::units::{format_bytes, format_parameters};

/// A workload's latency percentiles or per-turn time to first token, in ms.
fn render_breakdown(out: &mut String, breakdown: &super::breakdown::Breakdown) {
    let title = match breakdown.kind {
        super::breakdown::BreakdownKind::Percentiles => "latency percentiles under load",
        super::breakdown::BreakdownKind::Turns => "time to first token per turn",
    };
    let _ = writeln!(out, "### `{}`: {title} (ms)\n", breakdown.workload);
    configuration_header(out, breakdown.columns.iter().map(|column| escape(column)));
    for (label, values) in &breakdown.rows {
        let cells: Vec<String> = std::iter::once(escape(label))
            .chain(
                values
                    .iter()
                    .map(|value| value.map_or_else(|| "n/a".to_owned(), |figure| format!("{:.1}", figure.mean))),
            )
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

pub(super) fn render(report: &Report) -> String {
    let mut out = String::with_capacity(8192);
    let _ = writeln!(
        out,
        "<!-- {} (report format {}) from the result store; `bakeoff run` and `bakeoff report` rewrite \
         it, so edits here are lost. -->\n",
        crate::store::REPORT_MARKER,
        report.format
    );
    let _ = writeln!(out, "# {}\n", report.experiment);
    if let Some(description) = &report.description {
        let _ = writeln!(out, "{description}\n");
    }
    summary(&mut out, report);

    results(&mut out, report);
    for breakdown in &report.breakdowns {
        render_breakdown(&mut out, breakdown);
    }
    if !report.rounds_taken.is_empty() {
        out.push_str("### Rounds taken\n\nAdaptive rounds: each cell's rounds, and why they stopped.\n\n");
        out.push_str("| configuration | rounds | why they stopped |\n|:--|--:|:--|\n");
        for taken in &report.rounds_taken {
            let _ = writeln!(out, "| {} | {} | {} |", escape(&taken.configuration), taken.rounds, escape(&taken.stop));
        }
        out.push('\n');
    }
    for note in &report.notes {
        let _ = writeln!(out, "Note: {note}.\n");
    }

    if !report.comparisons.is_empty() {
        out.push_str("## Hosts compared\n\n");
        for compared in &report.comparisons {
            comparison(&mut out, compared, "###");
        }
    }

    if !report.problems.is_empty() {
        out.push_str("## Failed and blocked cells\n\n");
        // Cells that failed alike on one host without a log (blocked by the same firmware,
        // say) share a line.
        let mut listed = vec![false; report.problems.len()];
        for (index, problem) in report.problems.iter().enumerate() {
            if listed[index] {
                continue;
            }
            let status = problem.status.words();
            let host = if several_hosts(report) { format!(" on {}", problem.host) } else { String::new() };
            let alike: Vec<usize> = (index..report.problems.len())
                .filter(|&other| {
                    let other = &report.problems[other];
                    other.log.is_empty()
                        && other.status == problem.status
                        && other.host == problem.host
                        && other.reason == problem.reason
                })
                .collect();
            let alike = if problem.log.is_empty() { alike } else { vec![index] };
            let cells: Vec<String> =
                alike.iter().map(|&other| format!("`{}`", report.problems[other].configuration)).collect();
            for other in alike {
                listed[other] = true;
            }
            let _ = writeln!(out, "- {}{host}: **{status}**: {}", cells.join(", "), escape(&problem.reason));
            if !problem.log.is_empty() {
                out.push_str("\n  ```text\n");
                for line in &problem.log {
                    let _ = writeln!(out, "  {}", line.replace("```", "'''"));
                }
                out.push_str("  ```\n");
            }
        }
        out.push('\n');
    }

    if !report.not_run.is_empty() {
        out.push_str("## Not yet run\n\n");
        for not_run in &report.not_run {
            let cells: Vec<String> = not_run.cells.iter().map(|cell| format!("`{cell}`")).collect();
            match &not_run.host {
                Some(host) if several_hosts(report) => {
                    let _ = writeln!(out, "- on {host} ({}): {}", not_run.cells.len(), cells.join(", "));
                }
                _ => {
                    let _ = writeln!(out, "- {}", cells.join(", "));
                }
            }
        }
        out.push('\n');
    }

    measured_where(&mut out, report);
    if report.stale > 0 {
        let _ = writeln!(
            out,
            "The store also holds {} earlier result{} of this experiment whose inputs have changed since; \
             they are not shown (`bakeoff plan` says what changed).\n",
            report.stale,
            if report.stale == 1 { "" } else { "s" }
        );
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// One host against another: the facts that differ, then each metric of each cell measured on
/// both, with the ratio and whether the difference is significant.
pub(super) fn comparison(out: &mut String, compared: &Comparison, level: &str) {
    let (a, b) = (escape(&compared.reference), escape(&compared.other));
    let _ = writeln!(out, "{level} {b} against {a}\n");
    if compared.differences.is_empty() {
        out.push_str("The two hosts' facts and toolbox builds are the same.\n\n");
    } else {
        let _ = writeln!(out, "| differs | {a} | {b} |\n|---|---|---|");
        for difference in &compared.differences {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                difference.fact,
                escape(&difference.reference),
                escape(&difference.other)
            );
        }
        out.push('\n');
    }
    if compared.rows.is_empty() {
        out.push_str("No cell has a result on both hosts yet.\n\n");
    } else {
        let _ = writeln!(out, "| cell | metric | {a} | {b} | {b} / {a} | difference |\n|---|---|--:|--:|--:|---|");
        for row in &compared.rows {
            let scale = Scale::for_values(&row.unit, [row.reference.mean, row.other.mean].into_iter());
            let metric =
                if scale.unit.is_empty() { row.metric.clone() } else { format!("{} ({})", row.metric, scale.unit) };
            let ratio = row.ratio.map_or_else(|| "n/a".to_owned(), |ratio| format!("{ratio:.2}×"));
            let change = row.ratio.map(|ratio| format!("{}, ", format::change(ratio))).unwrap_or_default();
            let side = match row.other_better {
                Some(true) => ", better",
                Some(false) => ", worse",
                None => "",
            };
            let _ = writeln!(
                out,
                "| `{}` | {metric} | {} | {} | {ratio} | {change}{}{side} |",
                row.configuration,
                scale.spread(row.reference.mean, row.reference.spread),
                scale.spread(row.other.mean, row.other.spread),
                row.verdict.words()
            );
        }
        out.push('\n');
    }
    let mut counts =
        vec![format!("{} cell{} measured on both", compared.both, if compared.both == 1 { "" } else { "s" })];
    if compared.only_reference > 0 {
        counts.push(format!("{} only on {a}", compared.only_reference));
    }
    if compared.only_other > 0 {
        counts.push(format!("{} only on {b}", compared.only_other));
    }
    let _ = writeln!(
        out,
        "{}. A difference is significant when Welch's t-test over the two hosts' rounds gives p < 0.05; with \
         one round there is no spread to test against (`rounds 3` or more in the experiment).\n",
        counts.join("; ")
    );
}

/// The header of a table whose rows are configurations and whose columns are `columns`.
fn configuration_header(out: &mut String, columns: impl Iterator<Item = String>) {
    let columns: Vec<String> = columns.collect();
    let _ = writeln!(out, "| configuration | {} |", columns.join(" | "));
    let alignment: Vec<&str> = std::iter::once(":--").chain(columns.iter().map(|_| "--:")).collect();
    let _ = writeln!(out, "|{}|", alignment.join("|"));
}

/// The results section up to the breakdowns: each workload's summary, then the tables (folded
/// away under the summaries when they are the defaults).
fn results(out: &mut String, report: &Report) {
    out.push_str("## Results\n\n");
    if let Some(view) = &report.search {
        render_search(out, view);
    }
    if let Some(view) = &report.quality {
        render_quality(out, view, None);
    }
    if let Some(view) = &report.quality_figures {
        let caption = "Each quality measurement's figures (configurations that differ only in axes the quality \
                       arguments do not use share one): `kld_p99` is the 99th percentile of the per-token KL \
                       divergence, `kld_max` its largest, `dp_rms` the RMS of the change in the probability of the \
                       corpus's next token, `ppl` the perplexity over the corpus.";
        render_quality(out, view, Some(("Quality figures", caption)));
    }
    for summary in &report.summaries {
        render_summary(out, summary, report);
    }
    no_values(out, report);
    // After the summaries, the default one-table-per-metric view is there for who wants it.
    let folded = !report.summaries.is_empty() && report.default_tables;
    let shown: Vec<&Table> =
        report.tables.iter().filter(|table| table.has_values() || report.tables.len() == 1).collect();
    if folded && !shown.is_empty() {
        let _ = writeln!(out, "<details>\n<summary>Every metric, a table each ({} tables)</summary>\n", shown.len());
    }
    for table in &shown {
        render_table(out, table);
    }
    if folded && !shown.is_empty() {
        out.push_str("</details>\n\n");
    }
    // Workloads without a summary (bench and command cells): under the tables.
    let summarised = |workload: &str| report.summaries.iter().any(|summary| summary.workload == workload);
    render_warnings(out, report.warnings.iter().filter(|warning| !summarised(&warning.workload)));
}

/// A search's answer per configuration, its probes, and their chart.
fn render_search(out: &mut String, view: &super::search::SearchView) {
    let _ = writeln!(
        out,
        "### Search: where `{}` stops holding over `{}`
",
        view.condition, view.axis
    );
    for answer in &view.answers {
        let _ = writeln!(out, "- **{}**: {}", escape(&answer.configuration), escape(&answer.line));
    }
    out.push('\n');
    let scale = Scale::for_values(
        &view.unit,
        view.answers.iter().flat_map(|answer| answer.probes.iter().filter_map(|probe| probe.mean)),
    );
    let unit = if scale.unit.is_empty() { String::new() } else { format!(" ({})", scale.unit) };
    let _ = writeln!(out, "| configuration | {} | {}{unit} | holds |", view.axis, view.metric);
    out.push_str("|:--|--:|--:|:--|\n");
    for answer in &view.answers {
        for probe in &answer.probes {
            let figure = match (probe.mean, &probe.failure) {
                (Some(mean), _) => scale.spread(mean, probe.spread),
                (None, Some(reason)) => format!("failed: {}", escape(reason)),
                (None, None) => "n/a".to_owned(),
            };
            let holds = match (probe.holds, probe.within_noise) {
                (true, false) => "yes",
                (true, true) => "yes, within noise",
                (false, false) => "no",
                (false, true) => "no, within noise",
            };
            let _ = writeln!(out, "| {} | {} | {figure} | {holds} |", escape(&answer.configuration), probe.value);
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "Each probe is a cell like any other (cached, rerun only when its inputs change): the search \
         measured both ends of the range, then halved the interval around the boundary. It assumes one \
         boundary; a probe that contradicts it is said above. A failed probe counts as not holding.\n"
    );
    if let Some(file) = &view.chart {
        let _ = writeln!(
            out,
            "![{} over {}]({file})\n\nIn the chart a filled point holds, a hollow one does not, a cross failed; the \
             dashed line is the threshold.\n",
            view.metric, view.axis
        );
    }
    if let Some(reason) = &view.chart_refused {
        let _ = writeln!(out, "The probes' chart could not be drawn: {reason}.\n");
    }
}

/// The speed × quality table: each configuration's speed beside its divergence from the
/// reference, the frontier marked, then its chart; without speed, the quality figures alone.
fn render_quality(out: &mut String, view: &QualityView, words: Option<(&str, &str)>) {
    match words {
        Some((heading, caption)) => {
            let _ = writeln!(out, "### {heading}\n\n{caption}\n");
        }
        None => {
            let _ = writeln!(out, "### {}\n\n{}\n", view.heading(), view.caption());
        }
    }
    let header = view.header();
    let _ = writeln!(out, "| {} |", header.iter().map(|title| escape(title)).collect::<Vec<_>>().join(" | "));
    // Words (the configuration, the frontier) to the left, figures to the right.
    let alignment: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(column, title)| if column == 0 || title == "frontier" { ":--" } else { "--:" })
        .collect();
    let _ = writeln!(out, "|{}|", alignment.join("|"));
    for (row, cells) in view.rows.iter().zip(view.cells()) {
        let mut cells: Vec<String> = cells.iter().map(|cell| escape(cell)).collect();
        if row.place == Some(Place::Frontier)
            && let Some(last) = cells.last_mut()
        {
            *last = format!("**{last}**");
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    for sentence in view.frontier_sentences() {
        let _ = writeln!(out, "{sentence}\n");
    }
    if let Some(file) = &view.chart {
        let _ = writeln!(out, "![speed against mean KL divergence chart]({file})\n");
    }
    if let Some(reason) = &view.chart_refused {
        let _ = writeln!(out, "*No chart of speed against mean KL divergence: it could not be drawn ({reason}).*\n");
    }
}

/// A server workload's summary: a row per configuration, each column in its own unit, a value
/// over several requests with its spread and count.
fn render_summary(out: &mut String, summary: &super::summary::Summary, report: &Report) {
    let _ = writeln!(out, "### `{}`\n", summary.workload);
    // Columns of one metric family (cold and warm, the turns) share a unit.
    let family = |metric: &str| crate::metric::MetricName::parse(metric).base.to_owned();
    let scales: Vec<Scale> = summary
        .columns
        .iter()
        .map(|column| {
            let values: Vec<f64> = summary
                .columns
                .iter()
                .enumerate()
                .filter(|(_, other)| family(&other.metric) == family(&column.metric) && other.unit == column.unit)
                .flat_map(|(index, _)| {
                    summary.rows.iter().filter_map(move |(_, values)| values[index].map(|figure| figure.mean))
                })
                .collect();
            Scale::side_by_side(&column.unit, values.into_iter())
        })
        .collect();
    configuration_header(
        out,
        summary.columns.iter().zip(&scales).map(|(column, scale)| {
            if scale.unit.is_empty() { column.title.clone() } else { format!("{} ({})", column.title, scale.unit) }
        }),
    );
    for (label, values) in &summary.rows {
        let cells: Vec<String> = std::iter::once(escape(label))
            .chain(values.iter().zip(&scales).map(|(figure, scale)| {
                figure.map_or_else(|| "n/a".to_owned(), |figure| summary_figure(&figure, scale))
            }))
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    if !summary.notes.is_empty() {
        let text = summary.notes.join("; ");
        let _ = writeln!(out, "{}.\n", capitalized(&text));
    }
    render_warnings(out, report.warnings.iter().filter(|warning| warning.workload == summary.workload));
}

/// `107 ± 4 (n=3)`: a summary's value, its spread where it has one and its count where it is
/// over several requests; token counts are whole numbers.
fn summary_figure(figure: &super::figure::Figure, scale: &Scale) -> String {
    let value =
        if scale.unit == "tokens" { scale.shown(figure.mean) } else { scale.spread(figure.mean, figure.spread) };
    if figure.count > 1 { format!("{value} (n={})", figure.count) } else { value }
}

/// `text` with its first letter in upper case.
fn capitalized(text: &str) -> String {
    let mut letters = text.chars();
    letters.next().map_or_else(String::new, |first| first.to_uppercase().chain(letters).collect())
}

/// Warnings results carry, under the table they concern: each with the configurations.
fn render_warnings<'a>(out: &mut String, warnings: impl Iterator<Item = &'a super::build::Warning>) {
    for warning in warnings {
        let cells: Vec<String> =
            warning.configurations.iter().map(|configuration| format!("`{configuration}`")).collect();
        let word = match warning.severity {
            Severity::Warning => "Warning",
            Severity::Note | Severity::Info => "Note",
            Severity::Error => "Error",
        };
        let _ = writeln!(out, "**{word}** ({}): {}.\n", cells.join("; "), warning.text);
    }
}

/// What the results section says when no table has a value: nothing ran yet, or what ran
/// records none of the metrics asked for.
fn no_values(out: &mut String, report: &Report) {
    if report.tables.iter().any(Table::has_values) {
        return;
    }
    if report.progress.iter().any(|progress| progress.ok > 0) {
        out.push_str(
            "The cells that are ok record none of the metrics these tables ask for: the notes below say which are \
             missing, and `bakeoff check` which metrics the cells record.\n\n",
        );
    } else {
        out.push_str("No cell has a result yet: `bakeoff run` fills this in as cells finish.\n\n");
    }
}

fn several_hosts(report: &Report) -> bool {
    report.hosts.len() > 1
}

fn summary(out: &mut String, report: &Report) {
    for progress in &report.progress {
        let mut parts = vec![format!("{} ok", progress.ok)];
        if progress.partial > 0 {
            let _ = write!(parts[0], " ({} with fewer rounds than asked)", progress.partial);
        }
        for (count, word) in [
            (progress.failed, Status::Failed.words()),
            (progress.timed_out, Status::TimedOut.words()),
            (progress.blocked, Status::Blocked.words()),
            (progress.skipped, Status::Skipped.words()),
            (progress.not_run, "not yet run"),
        ] {
            if count > 0 {
                parts.push(format!("{count} {word}"));
            }
        }
        let cells = format!("{} cell{}", progress.cells, if progress.cells == 1 { "" } else { "s" });
        match &progress.host {
            Some(host) => {
                let _ = writeln!(out, "- **{host}**: {cells}: {}", parts.join(", "));
            }
            None => {
                let _ = writeln!(out, "- {cells}: {}", parts.join(", "));
            }
        }
    }
    if let Some((first, last)) = &report.measured {
        if first == last {
            let _ = writeln!(out, "- measured on {first}");
        } else {
            let _ = writeln!(out, "- measured from {first} to {last}");
        }
    }
    out.push('\n');
}

fn render_table(out: &mut String, table: &Table) {
    let scale = table.scale();
    let _ = writeln!(out, "### {}\n", table.heading(&scale));
    if !table.baseline.is_empty() {
        let pins: Vec<String> = table.baseline.iter().map(|(axis, value)| format!("{axis}={value}")).collect();
        let _ =
            writeln!(out, "Ratios are against the baseline `{}` with the other values the same.\n", pins.join(", "));
    }

    let header: Vec<String> = table.keys.iter().chain(&table.columns).map(|name| escape(name)).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let alignment: Vec<&str> = table.keys.iter().map(|_| ":--").chain(table.columns.iter().map(|_| "--:")).collect();
    let _ = writeln!(out, "|{}|", alignment.join("|"));
    for row in &table.rows {
        let cells: Vec<String> = row
            .key
            .iter()
            .map(|key| escape(key))
            .chain(row.entries.iter().map(|entry| entry_text(entry, &scale)))
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    table_notes(out, table);
    retention(out, table);

    verdicts(out, table, &scale);
    if let Some(chart) = &table.chart {
        let _ = writeln!(out, "![{} chart]({})\n", table.metric, chart.file);
    }
    if let Some(reason) = &table.chart_refused {
        let _ = writeln!(out, "*No chart of `{}`: it could not be drawn ({reason}).*\n", table.metric);
    }
}

/// Each group's verdict: its best, named only when the runner-up is beyond noise; otherwise
/// that the top two cannot be told apart, with their figures, so a reader sees why.
fn verdicts(out: &mut String, table: &Table, scale: &Scale) {
    for best in &table.best {
        let mut context = String::new();
        if let Some(workload) = &best.workload {
            let _ = write!(context, " for `{workload}`");
        }
        if let Some(host) = &best.host {
            let _ = write!(context, " on {host}");
        }
        if !best.at.is_empty() {
            let _ = write!(context, " at `{}`", best.at.join(", "));
        }
        let figure = |configuration: &[String], mean: f64, spread: Option<f64>| {
            format!("`{}` with {}", configuration.join(", "), scale.spread_with_unit(mean, spread))
        };
        let top = figure(&best.configuration, best.mean, best.spread);
        let second = figure(&best.runner_up.configuration, best.runner_up.mean, best.runner_up.spread);
        let line = match (best.clear, best.evidence) {
            (true, Evidence::Welch { p }) => format!(
                "Best{context}: {top}{}, ahead of {second} beyond noise (Welch's t-test over the rounds, p {})",
                baseline_ratio(best.ratio),
                p_value(p)
            ),
            (true, _) => format!(
                "Best{context}: {top}{}, ahead of {second} beyond both spreads (± {})",
                baseline_ratio(best.ratio),
                spread_words(table)
            ),
            (false, Evidence::Welch { p }) => format!(
                "No clear best{context}: {top} and {second} are within noise (Welch's t-test over the rounds, p {})",
                p_value(p)
            ),
            (false, Evidence::Spreads { .. }) => {
                format!("No clear best{context}: {top} and {second} overlap (± {})", spread_words(table))
            }
            (false, Evidence::NoSpread) => format!(
                "No clear best{context}: {top} and {second} are one sample each, with no spread to tell a \
                 difference from noise (repetitions within a run, or `rounds 3` in the experiment, give one)"
            ),
        };
        let _ = writeln!(out, "{line}.\n");
    }
}

/// Whether the table's metric is a quality figure, whose `±` is llama-perplexity's uncertainty.
fn quality_figure(table: &Table) -> bool {
    crate::metric::Family::named(table.family()).is_some_and(|family| family.kind == crate::metric::Kind::Quality)
}

/// What a verdict's `±` is.
fn spread_words(table: &Table) -> &'static str {
    if quality_figure(table) { "llama-perplexity's own uncertainty" } else { "the standard deviation of the samples" }
}

/// ` (2.40× the baseline)`, or nothing for the baseline itself.
fn baseline_ratio(ratio: Option<f64>) -> String {
    match ratio {
        Some(ratio) if (ratio - 1.0).abs() > 1e-9 => {
            let ratio = format::ratio(ratio);
            if ratio.ends_with('×') {
                format!(" ({ratio} the baseline)")
            } else {
                format!(" ({ratio} against the baseline)")
            }
        }
        _ => String::new(),
    }
}

/// For a throughput along a context sweep (depth, ctx), each value as a share of the value at
/// the axis's smallest value with the rest the same: kyuz0's "depth retention". Only there does
/// a share say something: throughput falls as the context grows, so a share above 100% is
/// suspect, and is marked and explained rather than printed as a gain. Along another numeric
/// axis (threads) a metric may rise or fall by design, and memory or latency along a sweep is
/// read off the table.
fn retention(out: &mut String, table: &Table) {
    let sweep = table.keys.first().is_some_and(|axis| SWEEPS.contains(&axis.as_str()));
    if !sweep
        || table.chart.as_ref().is_none_or(|chart| chart.kind != ChartKind::Line)
        || table.better != Some(Better::Higher)
    {
        return;
    }
    let axis = &table.keys[0];
    let x = |row: &super::table::Row| row.key[0].parse::<f64>().unwrap_or(f64::NAN);
    let measured =
        |entry: &Entry| if let Entry::Ok { mean, spread, .. } = entry { Some((*mean, *spread)) } else { None };
    let scale = table.scale();
    let mut lines = Vec::new();
    let mut suspect = Vec::new();
    for row in &table.rows {
        // The row with the same other keys at the smallest value of the axis.
        let start = table
            .rows
            .iter()
            .filter(|other| other.key[1..] == row.key[1..])
            .min_by(|a, b| x(a).total_cmp(&x(b)))
            .expect("a row is among its own kind");
        let cells: Vec<String> = row
            .entries
            .iter()
            .zip(&start.entries)
            .enumerate()
            .map(|(column, (entry, first))| match (measured(entry), measured(first)) {
                (Some((value, spread)), Some((base, base_spread))) if base != 0.0 => {
                    let share = format!("{:.0}%", value / base * 100.0);
                    if share.trim_end_matches('%').parse::<f64>().is_ok_and(|percent| percent > 100.0) {
                        let within = spread.is_some() || base_spread.is_some();
                        let overlap = (value - base).abs() <= spread.unwrap_or(0.0) + base_spread.unwrap_or(0.0);
                        suspect.push(Suspect {
                            configuration: configuration_in(table, row, column),
                            share: share.clone(),
                            figures: format!(
                                "{} against {}",
                                scale.spread(value, spread),
                                scale.spread(base, base_spread)
                            ),
                            noise: within.then_some(overlap),
                        });
                        format!("{share} (suspect)")
                    } else {
                        share
                    }
                }
                (_, _) if matches!(entry, Entry::Absent) => String::new(),
                _ => "n/a".to_owned(),
            })
            .collect();
        let keys = row.key.iter().map(|key| escape(key));
        lines.push(format!("| {} |", keys.chain(cells).collect::<Vec<_>>().join(" | ")));
    }
    let smallest = table.rows.iter().map(x).fold(f64::INFINITY, f64::min);
    let _ = writeln!(out, "Retention: {} against its value at the smallest {axis} ({smallest}).\n", table.metric);
    let header: Vec<String> = table.keys.iter().chain(&table.columns).map(|name| escape(name)).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let alignment: Vec<&str> = table.keys.iter().map(|_| ":--").chain(table.columns.iter().map(|_| "--:")).collect();
    let _ = writeln!(out, "|{}|", alignment.join("|"));
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    if !suspect.is_empty() {
        let reasons: Vec<String> = suspect.iter().map(|suspect| suspect.words(axis, smallest)).collect();
        let _ = writeln!(
            out,
            "A retention above 100% is suspect: {} should fall as {axis} grows. {}.\n",
            table.metric,
            reasons.join("; ")
        );
    }
}

/// A retention above 100%, and whether the two values' spreads overlap (`None`: no spread).
struct Suspect {
    configuration: String,
    share: String,
    figures: String,
    noise: Option<bool>,
}

impl Suspect {
    fn words(&self, axis: &str, smallest: f64) -> String {
        let why = match self.noise {
            Some(true) => "within noise: their spreads overlap",
            Some(false) => {
                "beyond the spreads: most likely a warm-up effect (the first value measured on a cold cache, \
                 clock or page cache) or a disturbed run; `rounds 3` interleaves the cells and tests it"
            }
            None => "with no spread to judge by: noise or a warm-up effect",
        };
        format!("`{}`: {} ({} at {axis} {smallest}), {why}", self.configuration, self.share, self.figures)
    }
}

/// `depth=512, model=q8, toolbox=radv`: an entry's configuration in a table.
fn configuration_in(table: &Table, row: &super::table::Row, column: usize) -> String {
    let mut parts: Vec<String> =
        table.keys.iter().zip(&row.key).map(|(name, value)| format!("{name}={value}")).collect();
    if let Some(dimension) = &table.column_dimension {
        parts.push(format!("{dimension}={}", table.columns[column]));
    }
    parts.join(", ")
}

/// What `±` and the ratios mean, and which rounds look like outliers.
fn table_notes(out: &mut String, table: &Table) {
    let oks: Vec<(&super::table::Row, usize, &Entry)> = table
        .rows
        .iter()
        .flat_map(|row| row.entries.iter().enumerate().map(move |(column, entry)| (row, column, entry)))
        .filter(|(_, _, entry)| matches!(entry, Entry::Ok { .. }))
        .collect();
    let rounds: BTreeSet<usize> = oks
        .iter()
        .filter_map(|(_, _, entry)| if let Entry::Ok { rounds, .. } = entry { Some(*rounds) } else { None })
        .collect();
    let mut notes = Vec::new();
    let several = rounds.iter().any(|&count| count > 1);
    // The ± is shown only where there is a spread; the note says what it is only then.
    let any_spread =
        oks.iter().any(|(_, _, entry)| matches!(entry, Entry::Ok { spread: Some(spread), .. } if *spread > 0.0));
    if several && any_spread {
        let counts: Vec<String> = rounds.iter().map(usize::to_string).collect();
        notes.push(format!(
            "± is the 95% confidence interval of the mean over {} interleaved rounds",
            counts.join(" or ")
        ));
    } else if any_spread && quality_figure(table) {
        notes.push("± is llama-perplexity's own uncertainty over the tokens it scored".to_owned());
    } else if any_spread {
        notes.push("± is the standard deviation of the repetitions within one run".to_owned());
    }
    let ratios = oks.iter().any(|(_, _, entry)| matches!(entry, Entry::Ok { ratio: Some(_), baseline: false, .. }));
    if ratios {
        let untested = oks
            .iter()
            .any(|(_, _, entry)| matches!(entry, Entry::Ok { significance: Some(Significance::NotEnoughRounds), .. }));
        if untested {
            notes.push(
                "not enough rounds to tell a real difference from noise: `rounds 3` or more in the experiment tests \
                 each ratio"
                    .to_owned(),
            );
        }
        if several {
            notes.push("a ratio marked n.s. is not significant (Welch's t-test over the rounds, p ≥ 0.05)".to_owned());
        }
    }
    let flagged: Vec<String> = oks
        .iter()
        .filter_map(|(row, column, entry)| {
            let Entry::Ok { outliers, .. } = entry else { return None };
            if outliers.is_empty() {
                return None;
            }
            let mut configuration: Vec<String> =
                table.keys.iter().zip(&row.key).map(|(name, value)| format!("{name}={value}")).collect();
            if let Some(dimension) = &table.column_dimension {
                configuration.push(format!("{dimension}={}", table.columns[*column]));
            }
            let numbers: Vec<String> = outliers.iter().map(usize::to_string).collect();
            Some(format!("`{}` round {}", configuration.join(", "), numbers.join(", ")))
        })
        .collect();
    if !flagged.is_empty() {
        notes.push(format!("outlier rounds (modified z-score over the MAD > 3.5): {}", flagged.join("; ")));
    }
    if !notes.is_empty() {
        let mut text = notes.join("; ");
        if let Some(first) = text.get(..1) {
            text = format!("{}{}", first.to_uppercase(), &text[1..]);
        }
        let _ = writeln!(out, "{text}.\n");
    }
}

fn entry_text(entry: &Entry, scale: &Scale) -> String {
    match entry {
        Entry::Ok { mean, spread, ratio, baseline, significance, partial, .. } => {
            let value = scale.spread(*mean, *spread);
            // A ratio Welch's test does not back is marked; one that could not be tested is not.
            let doubt = match significance {
                Some(Significance::NotSignificant { .. }) => ", n.s.",
                _ => "",
            };
            let mut marks = Vec::new();
            match (baseline, ratio) {
                (true, _) => marks.push("baseline".to_owned()),
                (false, Some(ratio)) => marks.push(format!("{}{doubt}", format::ratio(*ratio))),
                (false, None) => {}
            }
            // A cell an interrupted run left short of its rounds is not yet what the others are.
            if let Some((recorded, asked)) = partial {
                marks.push(format!("{recorded}/{asked} rounds"));
            }
            if marks.is_empty() { value } else { format!("{value} ({})", marks.join(", ")) }
        }
        Entry::Failed | Entry::TimedOut | Entry::Blocked | Entry::Skipped => {
            entry.unmeasured_status().map(Status::words).unwrap_or_default().to_owned()
        }
        Entry::NoMetric => "n/a".to_owned(),
        Entry::NotRun => "not run".to_owned(),
        Entry::Absent => String::new(),
    }
}

/// The CPU's model, and its layout and tuning where the record knows them (a thread count
/// means little without the cores and SMT behind it).
fn cpu_described(facts: &crate::host::HostFacts) -> String {
    match facts.cpu_layout() {
        Some(layout) => format!("{} ({layout})", facts.cpu),
        None => facts.cpu.clone(),
    }
}

fn measured_where(out: &mut String, report: &Report) {
    out.push_str("## What was measured and where\n\n### Workloads\n\n");
    for workload in &report.workloads {
        let _ = writeln!(out, "- `{}`: `{}`", workload.name, workload.command);
        for request in &workload.requests {
            let _ = writeln!(out, "  - `{}`", request.replace('`', "'"));
        }
    }
    variants(out, report);
    out.push('\n');

    if !report.hosts.is_empty() {
        out.push_str("### Hosts\n\n| host | CPU | GPUs | memory | kernel | OS | linux-firmware |\n");
        out.push_str("|:--|:--|:--|--:|:--|:--|:--|\n");
        for host in &report.hosts {
            for facts in &host.facts {
                let gpus = facts.gpus_shown();
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    escape(&host.label),
                    escape(&cpu_described(facts)),
                    escape(&gpus),
                    format_bytes(facts.memory_bytes),
                    escape(&facts.kernel),
                    escape(&facts.os),
                    facts.firmware.as_deref().map_or_else(|| "unknown".to_owned(), escape),
                );
            }
        }
        out.push('\n');
    }

    toolbox_table(out, report);
    time_table(out, report);

    if !report.models.is_empty() {
        out.push_str(
            "### Models\n\n| model | file | sha256 | size | type | bakeoff.lock |\n|:--|:--|:--|--:|:--|:--|\n",
        );
        for model in &report.models {
            let sha256 = if model.sha256.is_empty() {
                "not measured".to_owned()
            } else {
                model
                    .sha256
                    .iter()
                    .map(|hash| format!("`{}`", crate::digest::short(hash)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let kind = match &model.kind {
                Some(ModelKind { kind, parameters: Some(parameters) }) => {
                    format!("{} ({} parameters)", escape(kind), format_parameters(*parameters))
                }
                Some(ModelKind { kind, parameters: None }) => escape(kind),
                None => "unknown".to_owned(),
            };
            let lock = match model.lock {
                LockState::Matches => "matches",
                LockState::Differs => "**differs**",
                LockState::NotLocked => "not locked",
                LockState::Unmeasured => "",
            };
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {sha256} | {} | {kind} | {lock} |",
                model.name,
                model.file,
                model.size.map_or_else(|| "unknown".to_owned(), format_bytes),
            );
        }
        out.push('\n');
    }
}

/// Where each host's shown results spent their time: what the tools measured, against loading
/// around it and cells that failed.
fn time_table(out: &mut String, report: &Report) {
    if report.time.is_empty() {
        return;
    }
    out.push_str(
        "### Where the time went

",
    );
    out.push_str("| host | cells' time | measuring | loading models, servers, containers | failing cells |\n");
    out.push_str("|:--|--:|--:|--:|--:|\n");
    for time in &report.time {
        let total = time.measuring_ms + time.loading_ms + time.failing_ms;
        #[expect(clippy::cast_precision_loss, reason = "milliseconds of a campaign are far below 2^52")]
        let part = |ms: u64| {
            let shown = crate::units::format_duration(std::time::Duration::from_millis(ms));
            if total == 0 { shown } else { format!("{shown} ({:.0}%)", 100.0 * ms as f64 / total as f64) }
        };
        let host = if time.host.is_empty() { "this host".to_owned() } else { escape(&time.host) };
        let _ = writeln!(
            out,
            "| {host} | {} | {} | {} | {} |",
            crate::units::format_duration(std::time::Duration::from_millis(total)),
            part(time.measuring_ms),
            part(time.loading_ms),
            part(time.failing_ms)
        );
    }
    out.push_str(
        "\nMeasuring is what the tools timed (llama-bench's repetitions, a server workload's requests, a command \
         cell's run); loading is the rest of those processes (model loads, warm-up, container starts) and each \
         server's start; a failing cell counts its last attempt.\n\n",
    );
}

/// Each toolbox's runner, image and build, and what its cells ran on.
fn toolbox_table(out: &mut String, report: &Report) {
    if !report.toolboxes.is_empty() {
        let several = several_hosts(report);
        out.push_str("### Toolboxes\n\n");
        out.push_str(if several {
            "| toolbox | runner | image | image digest | llama.cpp | backend | device | driver | hosts |\n\
             |:--|:--|:--|:--|:--|:--|:--|:--|:--|\n"
        } else {
            "| toolbox | runner | image | image digest | llama.cpp | backend | device | driver |\n\
             |:--|:--|:--|:--|:--|:--|:--|:--|\n"
        });
        for toolbox in &report.toolboxes {
            let mut cells = vec![
                format!("`{}`", toolbox.name),
                toolbox.runner.clone(),
                toolbox.image.as_deref().map_or_else(|| "none".to_owned(), |image| format!("`{image}`")),
                toolbox
                    .digest
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), |digest| format!("`{}`", crate::digest::short_id(digest))),
                toolbox.llama_cpp.as_deref().map_or_else(|| "unknown".to_owned(), escape),
                // Command cells, and records from before bakeoff read it, do not say.
                toolbox.backend.as_deref().map_or_else(|| "not recorded".to_owned(), escape),
                match (toolbox.backend.as_deref(), toolbox.devices.is_empty()) {
                    (_, false) => escape(&toolbox.devices.join(", ")),
                    (Some("CPU"), true) => "the CPU".to_owned(),
                    (None, true) => "not recorded".to_owned(),
                    (Some(_), true) => "none named".to_owned(),
                },
                match (toolbox.backend.as_deref(), &toolbox.driver) {
                    (_, Some(driver)) => escape(driver),
                    (Some("CPU"), None) => "none".to_owned(),
                    (None, None) => "not recorded".to_owned(),
                    (Some(_), None) => "unknown".to_owned(),
                },
            ];
            if several {
                cells.push(toolbox.hosts.join(", "));
            }
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out.push('\n');
    }
}

/// What `{variant}` stands for in each workload's command, per variant.
fn variants(out: &mut String, report: &Report) {
    if report.variants.is_empty() {
        return;
    }
    out.push_str("- `{variant}` stands for each variant's arguments:\n");
    for variant in &report.variants {
        let args =
            if variant.args.is_empty() { "(none)".to_owned() } else { format!("`{}`", variant.args.replace('`', "'")) };
        let _ = writeln!(out, "  - `{}`: {args}", variant.name);
    }
}

/// Text safe inside a markdown table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
