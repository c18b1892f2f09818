//! Charts of a table as SVG (plotters): grouped horizontal bars, or lines where the rows run
//! along a numeric axis. Text stays text, so GitHub renders it with its own fonts.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{self, Scale};
use super::table::{ChartKind, Entry, Table};

pub(super) const WIDTH: u32 = 860;
pub(super) const FONT: &str = "sans-serif";
/// Okabe and Ito's palette (distinguishable with every common colour-vision deficiency),
/// then four of Paul Tol's darker tones; a chart has at most this many series.
pub(super) const PALETTE: [RGBColor; 12] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x99, 0x99, 0x99),
    RGBColor(0xF0, 0xE4, 0x42),
    RGBColor(0x88, 0x22, 0x55),
    RGBColor(0x11, 0x77, 0x33),
    RGBColor(0x33, 0x22, 0x88),
    RGBColor(0x44, 0xAA, 0x99),
];
pub(super) const GREY: RGBColor = RGBColor(0x66, 0x66, 0x66);
const LABEL_CHARACTERS: usize = 48;

/// Why a table's chart cannot be drawn; the report says so where the chart would be.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(super) enum ChartError {
    /// No axis reaches infinity: plotters would lay out a range it cannot divide into ticks.
    #[error("a value is `{0}`, which no axis can hold")]
    NotFinite(f64),
    /// plotters refused to draw it (its error is not `Clone`: kept as it reads).
    #[error("plotters: {0}")]
    Plotters(String),
}

/// The table's chart: `None` when it has no value to draw, why not when it cannot be drawn.
pub(super) fn render(table: &Table) -> Result<Option<String>, ChartError> {
    let Some(chart) = table.chart.as_ref() else { return Ok(None) };
    if !table.has_values() {
        return Ok(None);
    }
    if let Some(value) = table.values().find(|value| !value.is_finite()) {
        return Err(ChartError::NotFinite(value));
    }
    let scale = table.scale();
    let mut svg = String::with_capacity(16 * 1024);
    let drawn = match chart.kind {
        ChartKind::Bar => bars(table, &scale, &mut svg),
        ChartKind::Line => lines(table, &scale, &mut svg),
    };
    drawn.map_err(|error| ChartError::Plotters(error.to_string()))?;
    // plotters writes `<svg …>` first; the version comment follows it so the file stays valid.
    let comment = format!("\n<!-- {}; rewritten with the report. -->", crate::store::REPORT_MARKER);
    if let Some(end) = svg.find('>') {
        svg.insert_str(end + 1, &comment);
    }
    Ok(Some(svg))
}

pub(super) type Drawn = Result<(), Box<dyn std::error::Error>>;

/// A chart of two numeric axes, as the search and quality charts draw it on SVG.
pub(super) type Plane<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The mesh of a [`Plane`] as every chart here draws it: eight labels a side, light grid
/// lines, the house fonts, each axis described.
pub(super) fn draw_mesh(chart: &mut Plane<'_, '_>, x: &str, y: &str) -> Drawn {
    chart
        .configure_mesh()
        .x_desc(x)
        .y_desc(y)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|value| tick(*value))
        .y_label_formatter(&|value| tick(*value))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 15))
        .draw()?;
    Ok(())
}

/// The word a bar chart shows where a cell has no value.
fn unmeasured(entry: &Entry) -> &'static str {
    entry.unmeasured_status().map_or("not run", crate::store::Status::words)
}

fn bars(table: &Table, scale: &Scale, svg: &mut String) -> Drawn {
    let series = table.columns.len();
    let bar = if series == 1 { 22 } else { 16 };
    let gap = 12;
    let group = series * bar + gap;
    let plot_height = table.rows.len() * group;
    let labels: Vec<String> = table
        .rows
        .iter()
        .map(|row| {
            let parts: Vec<String> =
                table.keys.iter().zip(&row.key).map(|(name, value)| format!("{name}={value}")).collect();
            shorten(&parts.join(" · "))
        })
        .collect();
    let label_width = labels.iter().map(|label| text_width(label, 13)).max().unwrap_or(0).clamp(40, 360) + 16;
    let legend = match &table.column_dimension {
        Some(dimension) => {
            legend_entries(&table.columns.iter().map(|column| format!("{dimension}={column}")).collect::<Vec<_>>())
        }
        None => Vec::new(),
    };
    let legend_height = legend_height(&legend);
    let height = 44 + legend_height + plot_height + 56;

    let base = SVGBackend::with_string(svg, (WIDTH, to_u32(height))).into_drawing_area();
    base.fill(&WHITE)?;
    let titled = base.titled(&table.heading(scale), (FONT, 22))?;
    let (legend_area, plot_area) = titled.split_vertically(to_u32(legend_height));
    draw_legend(&legend_area, &legend)?;

    let largest = table.values().map(|value| value / scale.divisor).fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_right(48)
        .margin_top(4)
        .x_label_area_size(44)
        .y_label_area_size(to_u32(label_width))
        .build_cartesian_2d(0.0..largest * 1.15, 0.0..to_f64(plot_height))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(8)
        .x_desc(axis_label(table, scale))
        .x_label_formatter(&|value| tick(*value))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 15))
        .draw()?;

    let value_style = TextStyle::from((FONT, 15)).pos(Pos::new(HPos::Left, VPos::Center));
    let label_style = TextStyle::from((FONT, 16)).pos(Pos::new(HPos::Right, VPos::Center));
    for (index, row) in table.rows.iter().enumerate() {
        let top = to_f64(plot_height - index * group) - to_f64(gap) / 2.0;
        for (slot, entry) in row.entries.iter().enumerate() {
            let upper = top - to_f64(slot * bar);
            let lower = upper - to_f64(bar) + 2.0;
            let middle = f64::midpoint(upper, lower);
            match entry {
                Entry::Ok { mean, spread, .. } => {
                    let mean = mean / scale.divisor;
                    let spread = spread.unwrap_or(0.0) / scale.divisor;
                    let color = PALETTE[slot % PALETTE.len()];
                    chart
                        .draw_series(std::iter::once(Rectangle::new([(0.0, lower), (mean, upper)], color.filled())))?;
                    if spread > 0.0 {
                        let whisker = [(mean - spread).max(0.0), mean + spread];
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(whisker[0], middle), (whisker[1], middle)],
                            BLACK.stroke_width(1),
                        )))?;
                        for end in whisker {
                            chart.draw_series(std::iter::once(PathElement::new(
                                vec![(end, middle - 3.0), (end, middle + 3.0)],
                                BLACK.stroke_width(1),
                            )))?;
                        }
                    }
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((mean + spread, middle))
                            + Text::new(scale.number(mean * scale.divisor), (4, 0), value_style.clone()),
                    ))?;
                }
                Entry::Failed | Entry::TimedOut | Entry::Blocked | Entry::Skipped | Entry::NotRun => {
                    let word = unmeasured(entry);
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((0.0, middle)) + Text::new(word, (4, 0), value_style.color(&GREY)),
                    ))?;
                }
                Entry::NoMetric | Entry::Absent => {}
            }
        }
        let centre = top - to_f64(series * bar) / 2.0;
        let (x, y) = chart.backend_coord(&(0.0, centre));
        base.draw(&Text::new(labels[index].clone(), (x - 8, y), label_style.clone()))?;
    }
    base.present()?;
    Ok(())
}

fn lines(table: &Table, scale: &Scale, svg: &mut String) -> Drawn {
    // One line per column and per value of the other row keys; x is the first row key.
    let mut names: Vec<String> = Vec::new();
    let mut points: Vec<Vec<(f64, f64, f64)>> = Vec::new();
    for row in &table.rows {
        let Some(x) = row.key.first().and_then(|value| value.parse::<f64>().ok()) else {
            continue;
        };
        for (column, entry) in table.columns.iter().zip(&row.entries) {
            let Entry::Ok { mean, spread, .. } = entry else {
                continue;
            };
            let mut parts: Vec<String> =
                table.keys[1..].iter().zip(&row.key[1..]).map(|(name, value)| format!("{name}={value}")).collect();
            if let Some(dimension) = &table.column_dimension {
                // A column that names a configuration (`threads=2`) says it already.
                parts.push(if column.contains('=') { column.clone() } else { format!("{dimension}={column}") });
            }
            let name = if parts.is_empty() { table.metric.clone() } else { parts.join(" · ") };
            let series = names.iter().position(|known| *known == name).unwrap_or_else(|| {
                names.push(name);
                points.push(Vec::new());
                names.len() - 1
            });
            points[series].push((x, mean / scale.divisor, spread.unwrap_or(0.0) / scale.divisor));
        }
    }
    let legend = if names.len() > 1 || table.column_dimension.is_some() { legend_entries(&names) } else { Vec::new() };
    let legend_height = legend_height(&legend);
    let height = 44 + legend_height + 420;
    let xs = || points.iter().flatten().map(|point| point.0);
    let (low, high) = xs().fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), x| (low.min(x), high.max(x)));
    // Context sizes and thread counts grow by multiples: values that do, over eight times or
    // more, get a logarithmic axis so that 4,096 and 16,384 do not crowd together at the left.
    let mut distinct: Vec<f64> = xs().collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let geometric = distinct.windows(2).all(|pair| pair[1] >= pair[0] * 1.5);
    let whole = distinct.len() <= 10
        && distinct.windows(2).all(|pair| (pair[1] - pair[0] - 1.0).abs() < f64::EPSILON)
        && distinct.iter().all(|value| value.fract() == 0.0);
    let logarithmic = low > 0.0 && high / low >= 8.0 && geometric;
    if logarithmic {
        for point in points.iter_mut().flatten() {
            point.0 = point.0.log2();
        }
    }
    let (low, high) = if logarithmic { (low.log2(), high.log2()) } else { (low, high) };
    let pad = (high - low).max(1.0) * 0.04;
    let largest = points.iter().flatten().map(|point| point.1 + point.2).fold(0.0, f64::max);

    let base = SVGBackend::with_string(svg, (WIDTH, to_u32(height))).into_drawing_area();
    base.fill(&WHITE)?;
    let titled = base.titled(&table.heading(scale), (FONT, 22))?;
    let (legend_area, plot_area) = titled.split_vertically(to_u32(legend_height));
    draw_legend(&legend_area, &legend)?;
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_right(36)
        .margin_top(8)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(low - pad..high + pad, 0.0..largest * 1.12)?;
    let dimension = table.keys.first().cloned().unwrap_or_default();
    let x_tick = |value: &f64| if logarithmic { tick(value.exp2()) } else { tick(*value) };
    chart
        .configure_mesh()
        .x_desc(if logarithmic { format!("{dimension} (log scale)") } else { dimension })
        .x_labels(if logarithmic {
            span_ticks(high - low)
        } else if whole {
            // A few whole values (turns, thread counts): a tick on each, none between.
            distinct.len()
        } else {
            10
        })
        .y_desc(axis_label(table, scale))
        .x_label_formatter(&x_tick)
        .y_label_formatter(&|value| tick(*value))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 15))
        .draw()?;
    for (index, series) in points.iter_mut().enumerate() {
        series.sort_by(|left, right| left.0.total_cmp(&right.0));
        let color = PALETTE[index % PALETTE.len()];
        chart.draw_series(LineSeries::new(series.iter().map(|point| (point.0, point.1)), color.stroke_width(2)))?;
        chart.draw_series(series.iter().map(|point| Circle::new((point.0, point.1), 4, color.filled())))?;
        for &(x, y, spread) in series.iter().filter(|point| point.2 > 0.0) {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, (y - spread).max(0.0)), (x, y + spread)],
                color.stroke_width(1),
            )))?;
        }
    }
    base.present()?;
    Ok(())
}

/// An axis tick: plotters picks round values, so trailing zeros only add noise.
pub(super) fn tick(value: f64) -> String {
    let text = format::number(value);
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

/// One tick per doubling, when that is not too many.
#[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a few dozen doublings at most")]
fn span_ticks(doublings: f64) -> usize {
    (doublings.ceil() as usize + 1).clamp(2, 12)
}

fn axis_label(table: &Table, scale: &Scale) -> String {
    if scale.unit.is_empty() { table.metric.clone() } else { format!("{} ({})", table.metric, scale.unit) }
}

/// Legend entries laid out left to right, wrapping: (text, colour, x, row).
pub(super) fn legend_entries(names: &[String]) -> Vec<(String, RGBColor, i32, i32)> {
    let mut entries = Vec::new();
    let (mut x, mut row) = (16, 0);
    for (index, name) in names.iter().enumerate() {
        let text = shorten(name);
        let width = 22 + text_width(&text, 13) + 18;
        if x + width > to_usize(WIDTH) - 16 && x > 16 {
            x = 16;
            row += 1;
        }
        entries.push((text, PALETTE[index % PALETTE.len()], to_i32(x), row));
        x += width;
    }
    entries
}

pub(super) fn legend_height(entries: &[(String, RGBColor, i32, i32)]) -> usize {
    entries.last().map_or(0, |last| to_usize(u32::try_from(last.3 + 1).unwrap_or(1)) * 22 + 8)
}

pub(super) fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    entries: &[(String, RGBColor, i32, i32)],
) -> Drawn {
    let style = TextStyle::from((FONT, 16)).pos(Pos::new(HPos::Left, VPos::Center));
    for (text, color, x, row) in entries {
        let y = 12 + row * 22;
        area.draw(&Rectangle::new([(*x, y - 6), (x + 14, y + 6)], color.filled()))?;
        area.draw(&Text::new(text.clone(), (x + 20, y), style.clone()))?;
    }
    Ok(())
}

/// What a label of `size` pixels is estimated to take: SVG text is laid out by the viewer.
pub(super) fn text_width(text: &str, size: usize) -> usize {
    text.chars().count() * size * 3 / 5
}

pub(super) fn shorten(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARACTERS {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(LABEL_CHARACTERS - 1).collect();
        format!("{kept}…")
    }
}

pub(super) fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn to_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn to_usize(value: u32) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[expect(clippy::cast_precision_loss, reason = "chart geometry is a few thousand pixels")]
pub(super) fn to_f64(value: usize) -> f64 {
    value as f64
}
