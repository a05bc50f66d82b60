//! Reads the points of a figure out of one JSON report: a latency summary's
//! percentile curve, or a reconnect storm's curve. Pure: no files, no drawing.
//!
//! Every way a report can be unfit (missing field, a report of an older
//! loadgen without the curve, no samples, a negative value on the log axis)
//! is a message naming the field, never a panic.

use serde_json::Value;

/// One line of a figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// The smallest latency drawn, in ms: the log axis cannot show 0, and a
/// microsecond is the reports' resolution.
pub const FLOOR_MS: f64 = 0.001;

/// `(nines, ms)` points of the summary at `field` (a dotted path), where
/// nines = -log10(1 - percentile / 100): 90 -> 1, 99 -> 2, 99.9 -> 3.
pub fn percentiles(report: &Value, field: &str) -> Result<Vec<(f64, f64)>, String> {
    let summary = field
        .split('.')
        .try_fold(report, |v, key| v.get(key))
        .ok_or_else(|| format!("has no field `{field}`"))?;
    let curve = summary
        .get("percentiles")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            format!("`{field}` has no `percentiles` series (is it a latency summary, from this loadgen?)")
        })?;
    if curve.is_empty() {
        return Err(format!("`{field}` has no samples"));
    }
    curve
        .iter()
        .map(|point| {
            let (p, us) = pair(point).ok_or_else(|| {
                format!("`{field}.percentiles` holds {point}, not [percentile, µs]")
            })?;
            if !(0.0..100.0).contains(&p) {
                return Err(format!("`{field}.percentiles` has percentile {p}, outside 0 .. 100"));
            }
            if us < 0.0 {
                return Err(format!(
                    "`{field}` has negative values ({us} µs): a signed difference does not fit the log axis"
                ));
            }
            Ok((nines(p), (us / 1000.0).max(FLOOR_MS)))
        })
        .collect()
}

/// `(seconds after SIGTERM, sockets back per second)` of a reconnect storm.
pub fn storm_curve(report: &Value) -> Result<Vec<(f64, f64)>, String> {
    let curve = report
        .get("curve")
        .and_then(Value::as_array)
        .ok_or("has no `curve` (is it a reconnect-storm report?)")?;
    if curve.is_empty() {
        return Err("`curve` is empty: no socket came back".to_owned());
    }
    curve
        .iter()
        .map(|point| {
            let at = |key| point.get(key).and_then(Value::as_f64);
            match (at("t_s"), at("back_per_s")) {
                (Some(t), Some(rate)) if t >= 0.0 && rate >= 0.0 => Ok((t, rate)),
                _ => Err(format!("`curve` holds {point}, not {{t_s, back_per_s}}")),
            }
        })
        .collect()
}

/// A percentile on the nines scale.
pub fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

/// The percentile at `x` on the nines scale, rounded so that 3 reads 99.9.
pub fn percentile(x: f64) -> f64 {
    ((1.0 - 10f64.powf(-x)) * 100.0 * 1e4).round() / 1e4
}

fn pair(point: &Value) -> Option<(f64, f64)> {
    match point.as_array()?.as_slice() {
        [p, v] => Some((p.as_f64()?, v.as_f64()?)),
        _ => None,
    }
}
