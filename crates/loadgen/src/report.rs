//! Prints a scenario's report: pretty JSON for `--json`, else one
//! `key: value` line per figure (nested keys joined with dots, microsecond
//! figures also shown in milliseconds). Only formatting lives here.

use serde_json::Value;

/// The report as text for a person.
pub fn human(report: &Value) -> String {
    let mut out = String::new();
    flatten("", report, &mut out);
    out
}

fn flatten(prefix: &str, v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, child, out);
            }
        }
        Value::Number(n) if prefix.ends_with("_us") => {
            let ms = n.as_f64().unwrap_or(0.0) / 1000.0;
            out.push_str(&format!("{prefix}: {n} ({ms:.3} ms)\n"));
        }
        Value::String(s) => out.push_str(&format!("{prefix}: {s}\n")),
        other => out.push_str(&format!("{prefix}: {other}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_figures_become_dotted_lines() {
        let text = human(&json!({"scenario": "revoke", "latency": {"p50_us": 1500, "count": 3}}));
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            [
                "latency.count: 3",
                "latency.p50_us: 1500 (1.500 ms)",
                "scenario: revoke"
            ]
        );
    }
}
