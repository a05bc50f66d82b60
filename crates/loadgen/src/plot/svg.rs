//! Draws a figure's series as an SVG document with plotters' SVG backend.
//!
//! Text goes out as SVG `<text>` elements for the viewer to render: plotters
//! is built without its font features, so nothing here reads system fonts
//! (its text sizes for layout are estimates). Only drawing lives here; the
//! points come ready from `series`.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

use super::series::{percentile, Series, FLOOR_MS};
use crate::LoadgenError;

const SIZE: (u32, u32) = (820, 500);
/// Height of the strip under the chart that holds the caption.
const CAPTION_H: u32 = 28;
const FONT: &str = "sans-serif";
/// Line colours in series order (the first is loginguard's in the bench figures).
const COLOURS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// Latency (ms, log axis) against percentile (nines axis).
pub fn percentiles(series: &[Series], title: &str, caption: &str) -> Result<String, LoadgenError> {
    // A margin past the last point, so that a nine the data just reaches
    // (x = 2 for 100 samples) still gets its grid line and label.
    let max_x = extent(series, |p| p.0).1.max(1.0) + 0.1;
    let (lo, hi) = extent(series, |p| p.1);
    // Whole decades around the data, so the log axis has labels at both ends.
    let y = 10f64.powf(lo.max(FLOOR_MS).log10().floor())
        ..10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0));
    draw(series, title, caption, |area| {
        let mut chart = chart_on(area, title)
            .build_cartesian_2d(NinesAxis { max: max_x }, y.log_scale())
            .map_err(plot)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency, ms")
            .x_label_formatter(&|x| format!("{}", percentile(*x)))
            .y_label_formatter(&|v| ms_label(*v))
            .draw()
            .map_err(plot)?;
        for (i, s) in series.iter().enumerate() {
            let colour = line(&mut chart, i, s)?;
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 2, colour.filled())))
                .map_err(plot)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// Sockets back per second against seconds after SIGTERM.
pub fn storm(series: &[Series], title: &str, caption: &str) -> Result<String, LoadgenError> {
    let max_t = extent(series, |p| p.0).1;
    let max_rate = extent(series, |p| p.1).1;
    draw(series, title, caption, |area| {
        let mut chart = chart_on(area, title)
            .build_cartesian_2d(0.0..max_t.max(1.0), 0.0..(max_rate * 1.1).max(1.0))
            .map_err(plot)?;
        chart
            .configure_mesh()
            .x_desc("seconds after SIGTERM")
            .y_desc("sockets back per second")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(plot)?;
        for (i, s) in series.iter().enumerate() {
            line(&mut chart, i, s)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// The document: a white page, the chart `body` draws, the caption under it.
fn draw(
    series: &[Series],
    title: &str,
    caption: &str,
    body: impl FnOnce(&Area) -> Result<(), LoadgenError>,
) -> Result<String, LoadgenError> {
    if series.iter().all(|s| s.points.is_empty()) {
        return Err(LoadgenError::Plot(format!("{title:?}: no points to draw")));
    }
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot)?;
        let (upper, lower) = root.split_vertically(SIZE.1 - CAPTION_H);
        body(&upper)?;
        lower
            .draw(&Text::new(
                caption.to_owned(),
                (12, 6),
                (FONT, 13).into_font().color(&RGBColor(90, 90, 90)),
            ))
            .map_err(plot)?;
        root.present().map_err(plot)?;
    }
    Ok(out)
}

fn chart_on<'a, 'b>(area: &'a Area<'b>, title: &str) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, (FONT, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(64);
    builder
}

/// Series `i` as a 2 px line in its colour, named in the legend; returns
/// the colour for anything else drawn for that series.
fn line<'a, 'b: 'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    i: usize,
    s: &Series,
) -> Result<RGBColor, LoadgenError>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let colour = COLOURS[i % COLOURS.len()];
    chart
        .draw_series(LineSeries::new(
            s.points.iter().copied(),
            colour.stroke_width(2),
        ))
        .map_err(plot)?
        .label(s.label.as_str())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    Ok(colour)
}

fn legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    at: SeriesLabelPosition,
) -> Result<(), LoadgenError> {
    chart
        .configure_series_labels()
        .position(at)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(plot)
}

/// Smallest and largest of one coordinate over every point.
fn extent(series: &[Series], coord: impl Fn(&(f64, f64)) -> f64) -> (f64, f64) {
    series
        .iter()
        .flat_map(|s| s.points.iter().map(&coord))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// `0.01 ms`, `0.5 ms`, `20 ms`: no float noise on the log axis' labels.
fn ms_label(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} ms")
}

fn plot(e: impl std::fmt::Display) -> LoadgenError {
    LoadgenError::Plot(e.to_string())
}

/// The percentile axis: linear in nines (x = -log10(1 - q)), with its grid
/// and labels at the median and each nine that the data reaches.
#[derive(Clone, Debug)]
struct NinesAxis {
    max: f64,
}

impl Ranged for NinesAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = value / self.max;
        limit.0 + (f64::from(limit.1 - limit.0) * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        std::iter::once(2f64.log10())
            .chain((1..=self.max.floor() as u32).map(f64::from))
            .filter(|&x| x <= self.max)
            .collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.max
    }
}
