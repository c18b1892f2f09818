//! The speed × quality chart as SVG (plotters): each configuration a labelled point, speed up
//! and mean KL divergence from the reference across, the reference at 0, and the frontier drawn
//! as a line through its points.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{
    ChartError, Drawn, FONT, GREY, PALETTE, WIDTH, draw_legend, draw_mesh, legend_entries, legend_height, shorten,
    text_width, to_u32,
};
use super::format::Scale;
use super::quality::{Place, QualityView};
use crate::metric::names::KLD_MEAN;

const HEIGHT: usize = 540;
const LABEL_SIZE: usize = 14;

/// A point to draw: where, in which group, and what it is called.
struct Point {
    divergence: f64,
    speed: f64,
    group: usize,
    label: String,
    frontier: bool,
    reference: bool,
}

/// The chart of `view`: `None` when no configuration has both a speed and a divergence.
pub(super) fn render(view: &QualityView) -> Result<Option<String>, ChartError> {
    let (Some(primary), Some(kld)) = (view.primary, view.quality.iter().position(|metric| metric == KLD_MEAN)) else {
        return Ok(None);
    };
    let scale =
        Scale::for_values(&view.speed[primary].unit, view.rows.iter().filter_map(|row| row.speed[primary].mean()));
    let mut groups: Vec<&str> = Vec::new();
    let mut points = Vec::new();
    for row in view.rows.iter().filter(|row| row.place.is_some()) {
        let Some(speed) = row.speed[primary].mean() else { continue };
        let divergence = if row.reference { 0.0 } else { row.quality[kld].mean().unwrap_or(0.0) };
        let group = groups.iter().position(|group| *group == row.group).unwrap_or_else(|| {
            groups.push(&row.group);
            groups.len() - 1
        });
        let label =
            if row.reference { format!("{} (reference)", row.configuration) } else { row.configuration.clone() };
        points.push(Point {
            divergence,
            speed: speed / scale.divisor,
            group,
            label: shorten(&label),
            frontier: row.place == Some(Place::Frontier),
            reference: row.reference,
        });
    }
    if points.is_empty() {
        return Ok(None);
    }
    if let Some(value) =
        points.iter().flat_map(|point| [point.divergence, point.speed]).find(|value| !value.is_finite())
    {
        return Err(ChartError::NotFinite(value));
    }
    let title = view.primary_title().unwrap_or_default();
    let legend: Vec<String> =
        if groups.len() > 1 { groups.iter().map(|group| (*group).to_owned()).collect() } else { Vec::new() };
    let mut svg = String::with_capacity(16 * 1024);
    draw(&points, &legend, &title, &mut svg).map_err(|error| ChartError::Plotters(error.to_string()))?;
    let comment = format!("\n<!-- {}; rewritten with the report. -->", crate::store::REPORT_MARKER);
    if let Some(end) = svg.find('>') {
        svg.insert_str(end + 1, &comment);
    }
    Ok(Some(svg))
}

fn draw(points: &[Point], legend: &[String], speed: &str, svg: &mut String) -> Drawn {
    let legend = legend_entries(legend);
    let legend_height = legend_height(&legend);
    let base = SVGBackend::with_string(svg, (WIDTH, to_u32(HEIGHT + legend_height))).into_drawing_area();
    base.fill(&WHITE)?;
    let titled = base.titled(&format!("{speed} against mean KL divergence"), (FONT, 22))?;
    let (legend_area, plot_area) = titled.split_vertically(to_u32(legend_height));
    draw_legend(&legend_area, &legend)?;

    let widest = points.iter().map(|point| point.divergence).fold(0.0, f64::max);
    let fastest = points.iter().map(|point| point.speed).fold(0.0, f64::max);
    // Room on the right and above for the labels of the outermost points.
    let right = if widest > 0.0 { widest * 1.25 } else { 1.0 };
    let top = if fastest > 0.0 { fastest * 1.12 } else { 1.0 };
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_right(24)
        .margin_top(8)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..right, 0.0..top)?;
    draw_mesh(&mut chart, "mean KL divergence from the reference (kld_mean; lower is closer)", speed)?;

    // The frontier of each group: a line through its points, closest first.
    for group in 0..legend.len().max(1) {
        let mut line: Vec<(f64, f64)> = points
            .iter()
            .filter(|point| point.group == group && point.frontier)
            .map(|point| (point.divergence, point.speed))
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        let color = PALETTE[group % PALETTE.len()];
        chart.draw_series(LineSeries::new(line, color.stroke_width(2)))?;
    }
    for point in points {
        let color = PALETTE[point.group % PALETTE.len()];
        let at = (point.divergence, point.speed);
        if point.reference {
            // A diamond: the reference is no measurement of divergence, it is what others are measured by.
            let (x, y) = chart.backend_coord(&at);
            base.draw(&Polygon::new(vec![(x, y - 7), (x + 7, y), (x, y + 7), (x - 7, y)], color.filled()))?;
        } else if point.frontier {
            chart.draw_series(std::iter::once(Circle::new(at, 5, color.filled())))?;
        } else {
            chart.draw_series(std::iter::once(Circle::new(at, 5, color.stroke_width(2))))?;
        }
    }

    // Labels beside their points, each where it overlaps no label and no point placed before it.
    let markers: Vec<Area> = points
        .iter()
        .map(|point| {
            let (x, y) = chart.backend_coord(&(point.divergence, point.speed));
            Area { left: x - 7, top: y - 7, right: x + 7, bottom: y + 7 }
        })
        .collect();
    let (left_edge, right_edge) = {
        let (left, _) = chart.backend_coord(&(0.0, 0.0));
        let (right, _) = chart.backend_coord(&(right, 0.0));
        (left, right + 20)
    };
    let mut placed: Vec<Area> = Vec::new();
    let height = i32::try_from(LABEL_SIZE + 4).unwrap_or(18);
    for point in points {
        let (x, y) = chart.backend_coord(&(point.divergence, point.speed));
        let width = i32::try_from(text_width(&point.label, LABEL_SIZE + 1)).unwrap_or(i32::MAX / 4);
        let boxes = label_places(x, y, width, height);
        let free = |candidate: &Area| {
            candidate.left >= left_edge
                && candidate.right <= right_edge
                && !placed.iter().chain(&markers).any(|other| other.overlaps(candidate))
        };
        let (chosen, anchor, side) =
            boxes.iter().find(|(candidate, _, _)| free(candidate)).copied().unwrap_or(boxes[0]);
        let style = TextStyle::from((FONT, to_u32(LABEL_SIZE)))
            .pos(Pos::new(side, VPos::Center))
            .color(if point.frontier || point.reference { &BLACK } else { &GREY });
        base.draw(&Text::new(point.label.clone(), (anchor, i32::midpoint(chosen.top, chosen.bottom)), style))?;
        placed.push(chosen);
    }
    base.present()?;
    Ok(())
}

/// Where a label `width` × `height` may go beside its point at (`x`, `y`), in the order tried:
/// each place with where its text is anchored, so that a label left of its point ends at the
/// point whatever the font's real widths (an estimate placed its start, and a wide estimate left
/// it nearer another point than its own). Straight above or below reads as the point's before a
/// place on its left, which may sit over a neighbour.
fn label_places(x: i32, y: i32, width: i32, height: i32) -> Vec<(Area, i32, HPos)> {
    let candidates = [
        (x + 9, y - height / 2, HPos::Left),
        (x + 9, y - height - 4, HPos::Left),
        (x + 9, y + 4, HPos::Left),
        (x, y - height - 8, HPos::Center),
        (x, y + 8, HPos::Center),
        (x - 9, y - height / 2, HPos::Right),
        (x - 9, y - height - 4, HPos::Right),
        (x - 9, y + 4, HPos::Right),
    ];
    candidates
        .iter()
        .map(|&(anchor, top, side)| {
            let left = match side {
                HPos::Left => anchor,
                HPos::Right => anchor - width,
                HPos::Center => anchor - width / 2,
            };
            (Area { left, top, right: left + width, bottom: top + height }, anchor, side)
        })
        .collect()
}

/// A rectangle of the image, in pixels.
#[derive(Debug, Clone, Copy)]
struct Area {
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
}

impl Area {
    fn overlaps(&self, other: &Self) -> bool {
        self.left < other.right && other.left < self.right && self.top < other.bottom && other.top < self.bottom
    }
}
