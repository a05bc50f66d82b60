//! `loadgen plot` end to end on small reports written to a temporary
//! directory: what the SVG holds, and the message for each unfit input.

use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::{json, Value};

use super::*;
use crate::cli::{Cli, Command};
use crate::stats::{Latency, SignedLatency};

fn write(dir: &Path, name: &str, report: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, report.to_string()).unwrap();
    path
}

/// A kick report whose `kick_after_request` holds `n` samples from `lo_us` up.
fn kick_report(n: u64, lo_us: u64) -> Value {
    let mut h = Latency::new();
    for i in 0..n {
        h.record_us(lo_us + i * 3);
    }
    json!({"scenario": "kick", "kick_after_request": h.summary()})
}

fn figure(series: Vec<(String, PathBuf)>, out: &Path) -> FigureArgs {
    FigureArgs {
        series,
        title: "Kick latency".into(),
        caption: "quick run: 1 run, commit abc1234".into(),
        out: out.to_path_buf(),
    }
}

fn percentiles_of(field: &str, series: Vec<(String, PathBuf)>, out: &Path) -> PlotCommand {
    PlotCommand::Percentiles(PercentilesArgs {
        field: field.into(),
        figure: figure(series, out),
    })
}

/// The texts of the SVG's `<text>` elements.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            t.split_once('>')
                .and_then(|(_, rest)| rest.split_once("</text>"))
        })
        .map(|(text, _)| text.trim().to_owned())
        .collect()
}

#[test]
fn a_percentile_figure_has_a_line_per_report_and_its_labels() {
    let dir = tempfile::tempdir().unwrap();
    let lg = write(dir.path(), "kick-1.json", &kick_report(2000, 300));
    let proto = write(dir.path(), "proto-kick1-1.json", &kick_report(200, 4000));
    let out = dir.path().join("kick.svg");
    let cmd = percentiles_of(
        "kick_after_request",
        vec![("loginguard".into(), lg), ("prototype".into(), proto)],
        &out,
    );
    let summary = run(&cmd).unwrap();
    assert_eq!(summary["series"], json!(["loginguard", "prototype"]));

    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    // Each series: its line and its legend sample, drawn 2 px wide (the grid is 1 px).
    assert_eq!(
        svg.matches("stroke-width=\"2\"").count(),
        4,
        "one line per report"
    );
    assert!(svg.contains("stroke=\"#1F77B4\"") && svg.contains("stroke=\"#D62728\""));
    let texts = texts(&svg);
    for want in [
        "Kick latency",
        "quick run: 1 run, commit abc1234",
        "loginguard",
        "prototype",
        "percentile",
        "latency, ms",
        "50",
        "90",
        "99",
        "99.9",
    ] {
        assert!(
            texts.iter().any(|t| t == want),
            "no <text>{want}</text> in {texts:?}"
        );
    }
    // 2000 samples resolve 3.3 nines: no 99.99 tick.
    assert!(!texts.iter().any(|t| t == "99.99"), "{texts:?}");
    assert!(texts.iter().any(|t| t.ends_with(" ms")), "{texts:?}");
}

#[test]
fn a_storm_figure_draws_the_curve() {
    let dir = tempfile::tempdir().unwrap();
    let report = json!({
        "scenario": "reconnect-storm",
        "curve": [
            {"t_s": 0.25, "back_per_s": 0.0, "back_total": 0},
            {"t_s": 0.5, "back_per_s": 400.0, "back_total": 100},
            {"t_s": 0.75, "back_per_s": 120.0, "back_total": 130}
        ]
    });
    let storm = write(dir.path(), "storm-1.json", &report);
    let out = dir.path().join("storm.svg");
    let mut args = figure(vec![("run 1".into(), storm)], &out);
    args.title = "Reconnect storm".into();
    run(&PlotCommand::Storm(args)).unwrap();

    let svg = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        svg.matches("stroke-width=\"2\"").count(),
        2,
        "the line and its legend sample"
    );
    let texts = texts(&svg);
    for want in [
        "Reconnect storm",
        "run 1",
        "seconds after SIGTERM",
        "sockets back per second",
    ] {
        assert!(
            texts.iter().any(|t| t == want),
            "no <text>{want}</text> in {texts:?}"
        );
    }
}

/// The error `run` gives for one report, as text.
fn error_for(field: &str, report: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, report).unwrap();
    let out = dir.path().join("x.svg");
    let err = run(&percentiles_of(
        field,
        vec![("a".into(), path.clone())],
        &out,
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(!out.exists(), "nothing is written for bad input");
    err
}

#[test]
fn unfit_reports_are_refused_with_what_is_wrong() {
    let old = json!({"kick_after_request": {"count": 3, "p50_us": 10}}).to_string();
    let mut empty = Latency::new().summary();
    empty.percentiles.clear();
    let empty = json!({"x": empty}).to_string();
    let mut signed = SignedLatency::default();
    signed.record_us(-40);
    signed.record_us(25);
    let signed = json!({"kick_minus_response": signed.summary()}).to_string();
    for (field, report, want) in [
        ("kick_after_request", "{not json", "key must be a string"),
        ("nope", old.as_str(), "has no field `nope`"),
        (
            "kick_after_request",
            old.as_str(),
            "no `percentiles` series",
        ),
        ("x", empty.as_str(), "has no samples"),
        ("kick_minus_response", signed.as_str(), "negative values"),
        (
            "a",
            r#"{"a": {"percentiles": [[50, 1, 2]]}}"#,
            "not [percentile, µs]",
        ),
        (
            "a",
            r#"{"a": {"percentiles": [[100, 1]]}}"#,
            "outside 0 .. 100",
        ),
    ] {
        let err = error_for(field, report);
        assert!(err.contains(want), "{field}: {err}");
    }
}

#[test]
fn a_missing_report_and_a_report_of_another_kind_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone.json");
    let out = dir.path().join("x.svg");
    let err = run(&percentiles_of("a", vec![("a".into(), missing)], &out))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gone.json") && err.contains("No such file"),
        "{err}"
    );

    let kick = write(dir.path(), "kick-1.json", &kick_report(10, 100));
    let err = run(&PlotCommand::Storm(figure(vec![("a".into(), kick)], &out)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no `curve`"), "{err}");

    let lg = write(dir.path(), "k.json", &kick_report(10, 100));
    let nowhere = dir.path().join("no-such-dir").join("x.svg");
    let err = run(&percentiles_of(
        "kick_after_request",
        vec![("a".into(), lg)],
        &nowhere,
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cannot write") && err.contains("no-such-dir"),
        "{err}"
    );
}

#[test]
fn the_command_line_takes_label_equals_path() {
    let parse =
        |args: &[&str]| Cli::try_parse_from(["loadgen", "plot"].iter().chain(args).copied());
    let cli = parse(&[
        "percentiles",
        "--field",
        "connect",
        "--series",
        "loginguard, 2 instances=target/bench/a=b.json",
        "--title",
        "t",
        "--out",
        "o.svg",
    ])
    .unwrap();
    let Command::Plot(PlotCommand::Percentiles(a)) = cli.command else {
        panic!("plot percentiles")
    };
    assert_eq!(
        a.figure.series,
        [(
            "loginguard, 2 instances".to_owned(),
            PathBuf::from("target/bench/a=b.json")
        )]
    );
    for bad in [
        &[
            "percentiles",
            "--field",
            "x",
            "--series",
            "nolabel.json",
            "--title",
            "t",
            "--out",
            "o",
        ][..],
        &[
            "percentiles",
            "--field",
            "x",
            "--series",
            "=a.json",
            "--title",
            "t",
            "--out",
            "o",
        ],
        &["storm", "--title", "t", "--out", "o"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}
