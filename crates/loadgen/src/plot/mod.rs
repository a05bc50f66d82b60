//! `loadgen plot ...`: draws the JSON reports of earlier runs as SVG figures
//! for the benchmark docs (`scripts/bench` calls it for the groups it ran).
//!
//! Owns the command line of the two figures and the file I/O around them:
//! `series` reads the reports into plain points, `svg` draws them. It never
//! runs a measurement and never talks to a server.

mod series;
mod svg;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::LoadgenError;
use series::Series;

#[derive(Subcommand, Debug)]
pub enum PlotCommand {
    /// Latency against percentile (nines scale), one line per report.
    Percentiles(PercentilesArgs),
    /// Sockets back per second against time after SIGTERM, from `reconnect-storm` reports.
    Storm(FigureArgs),
}

#[derive(Args, Clone, Debug)]
pub struct PercentilesArgs {
    /// The latency summary to draw, a dotted path into each report (e.g.
    /// `kick_after_request`, `connect`, `background.latency`).
    #[arg(long)]
    pub field: String,
    #[command(flatten)]
    pub figure: FigureArgs,
}

/// What every figure takes.
#[derive(Args, Clone, Debug)]
pub struct FigureArgs {
    /// One line of the figure: `LABEL=REPORT.json` (repeat for more lines).
    #[arg(long = "series", required = true, value_parser = parse_series_spec)]
    pub series: Vec<(String, PathBuf)>,
    /// The figure's title.
    #[arg(long)]
    pub title: String,
    /// A line under the figure: what run it comes from (counts, commit).
    #[arg(long, default_value = "")]
    pub caption: String,
    /// The SVG file to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// `LABEL=PATH`, split at the first `=` (a path may hold one, a label may not).
fn parse_series_spec(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((label, path)) if !label.trim().is_empty() && !path.is_empty() => {
            Ok((label.trim().to_owned(), PathBuf::from(path)))
        }
        _ => Err(format!("{text:?} is not LABEL=REPORT.json")),
    }
}

/// Reads the reports, draws the figure, writes it to `--out`.
pub fn run(command: &PlotCommand) -> Result<Value, LoadgenError> {
    let (figure, svg) = match command {
        PlotCommand::Percentiles(a) => {
            let lines = load(&a.figure, |report| series::percentiles(report, &a.field))?;
            (
                &a.figure,
                svg::percentiles(&lines, &a.figure.title, &a.figure.caption)?,
            )
        }
        PlotCommand::Storm(a) => {
            let lines = load(a, series::storm_curve)?;
            (a, svg::storm(&lines, &a.title, &a.caption)?)
        }
    };
    std::fs::write(&figure.out, svg)
        .map_err(|e| LoadgenError::Plot(format!("cannot write {}: {e}", figure.out.display())))?;
    let labels: Vec<&str> = figure.series.iter().map(|(l, _)| l.as_str()).collect();
    Ok(json!({"plot": figure.out, "series": labels}))
}

/// One `Series` per `--series`, its points taken from the report by `points`.
fn load(
    figure: &FigureArgs,
    points: impl Fn(&Value) -> Result<Vec<(f64, f64)>, String>,
) -> Result<Vec<Series>, LoadgenError> {
    figure
        .series
        .iter()
        .map(|(label, path)| {
            let text = std::fs::read_to_string(path).map_err(|e| report_error(path, e))?;
            let report: Value = serde_json::from_str(&text).map_err(|e| report_error(path, e))?;
            let points = points(&report).map_err(|e| report_error(path, e))?;
            Ok(Series {
                label: label.clone(),
                points,
            })
        })
        .collect()
}

fn report_error(path: &Path, reason: impl std::fmt::Display) -> LoadgenError {
    LoadgenError::Report {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests;
