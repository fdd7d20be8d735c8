//! Expectations: a sweep as a CI gate. `days_p90 < 100` on every point, or on the points selected by
//! `when` conditions on the inputs (`cluster.gpus == 10240`) or by index; JUnit XML of the outcome.
//!
//! A condition is `COLUMN OP VALUE` with `OP` one of `<`, `<=`, `>`, `>=`, `==`, `!=`; `COLUMN` is any
//! column of the result table (an output such as `mfu`, or an axis path). Text columns take `==` and
//! `!=` only. A point that failed (infeasible, error) fails every expectation on an output it lacks.

use serde::{Deserialize, Serialize};

use super::table::{Column, ColumnType};

/// An expectation as written in a sweep file (and kept in the manifest for `wanka merge`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// The condition every selected point must meet, e.g. `days_p90 < 100`.
    pub check: String,
    /// Name in reports and JUnit (default: the check).
    #[serde(default)]
    pub name: Option<String>,
    /// Conditions selecting the points (all must hold); empty = every point.
    #[serde(default)]
    pub when: Vec<String>,
    /// Point indices selecting the points (with `when`, both must hold).
    #[serde(default)]
    pub points: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Rhs {
    Num(f64),
    Text(String),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub text: String,
    pub column: usize,
    pub op: Op,
    rhs: Rhs,
}

/// Parse `COLUMN OP VALUE` against the table's columns.
pub fn parse_condition(text: &str, cols: &[Column]) -> Result<Condition, String> {
    let ops = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)];
    let (pos, len, op) = ops
        .iter()
        .filter_map(|(t, op)| text.find(t).map(|p| (p, t.len(), *op)))
        .min_by_key(|(p, l, _)| (*p, std::cmp::Reverse(*l)))
        .ok_or_else(|| format!("condition `{text}` has no comparison (<, <=, >, >=, ==, !=)"))?;
    let name = text[..pos].trim();
    let value = text[pos + len..].trim();
    let column = cols.iter().position(|c| c.name == name).ok_or_else(|| {
        let names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
        match crate::vocab::renamed_in_v2(name) {
            Some(new) => format!("condition `{text}`: no column `{name}`: renamed `{new}` in schema version 2 (docs/OUTPUTS.md)"),
            None => {
                format!("condition `{text}`: no column `{name}`; closest: {}", crate::error::closest_ids(name, names.iter()).join(", "))
            }
        }
    })?;
    if value.is_empty() {
        return Err(format!("condition `{text}` has no value after `{}`", op.text()));
    }
    let rhs = match cols[column].ty {
        ColumnType::Int | ColumnType::Float => Rhs::Num(
            value
                .replace('_', "")
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("condition `{text}`: `{name}` is a number column, `{value}` is not a number"))?,
        ),
        ColumnType::Str => {
            if !matches!(op, Op::Eq | Op::Ne) {
                return Err(format!("condition `{text}`: `{name}` is a text column: use == or !="));
            }
            Rhs::Text(value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value).to_string())
        }
    };
    Ok(Condition { text: text.trim().to_string(), column, op, rhs })
}

impl Condition {
    /// `Ok(true/false)`, or `Err` with the reason the point has no value.
    fn holds(&self, row: &[String]) -> Result<bool, ()> {
        let cell = &row[self.column];
        match &self.rhs {
            Rhs::Num(b) => {
                let a: f64 = cell.parse().map_err(|_| ())?;
                Ok(match self.op {
                    Op::Lt => a < *b,
                    Op::Le => a <= *b,
                    Op::Gt => a > *b,
                    Op::Ge => a >= *b,
                    Op::Eq => a == *b,
                    Op::Ne => a != *b,
                })
            }
            Rhs::Text(t) => Ok(match self.op {
                Op::Eq => cell == t,
                _ => cell != t,
            }),
        }
    }
}

/// A checked expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub spec: ExpectSpec,
    pub check: Condition,
    pub when: Vec<Condition>,
}

impl Expectation {
    pub fn new(spec: ExpectSpec, cols: &[Column]) -> Result<Expectation, String> {
        let check = parse_condition(&spec.check, cols)?;
        let when = spec.when.iter().map(|w| parse_condition(w, cols)).collect::<Result<Vec<_>, _>>()?;
        Ok(Expectation { spec, check, when })
    }

    pub fn name(&self) -> &str {
        self.spec.name.as_deref().unwrap_or(&self.spec.check)
    }

    fn selects(&self, point: u64, row: &[String]) -> bool {
        if let Some(p) = &self.spec.points
            && !p.contains(&point)
        {
            return false;
        }
        self.when.iter().all(|c| c.holds(row) == Ok(true))
    }
}

/// The outcome of one expectation on one point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub point: u64,
    /// The point's inputs in words (`cluster.gpus=4096, run.failures.multiplier=0.5`).
    pub inputs: String,
    pub expectation: String,
    pub passed: bool,
    pub message: String,
}

/// Evaluate every expectation on every selected row. `axis_cols` are the columns describing a point.
pub fn evaluate(exps: &[Expectation], cols: &[Column], axis_cols: &[usize], rows: &[&Vec<String>]) -> Vec<Outcome> {
    let status = cols.iter().position(|c| c.name == "status");
    let error = cols.iter().position(|c| c.name == "failure");
    let mut out = Vec::new();
    for e in exps {
        for row in rows {
            let point: u64 = row[0].parse().unwrap_or(u64::MAX);
            if !e.selects(point, row) {
                continue;
            }
            let inputs = axis_cols.iter().map(|&i| format!("{}={}", cols[i].name, row[i])).collect::<Vec<_>>().join(", ");
            let col = &cols[e.check.column].name;
            let (passed, message) = match e.check.holds(row) {
                Ok(true) => (true, format!("{col} = {}", row[e.check.column])),
                Ok(false) => (false, format!("{col} = {}, expected {}", row[e.check.column], e.check.text)),
                Err(()) => {
                    let st = status.map_or("", |i| row[i].as_str());
                    let why = error.map_or("", |i| row[i].as_str());
                    (false, format!("{col} has no value (point {st}: {why})"))
                }
            };
            out.push(Outcome { point, inputs, expectation: e.name().to_string(), passed, message });
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: one test suite for the sweep, one test case per point and expectation.
pub fn junit_xml(suite: &str, outcomes: &[Outcome]) -> String {
    let failures = outcomes.iter().filter(|o| !o.passed).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!("<testsuites name=\"wanka sweep\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n", outcomes.len()));
    x.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n",
        xml_escape(suite),
        outcomes.len()
    ));
    for o in outcomes {
        let name = if o.inputs.is_empty() {
            format!("point {}: {}", o.point, o.expectation)
        } else {
            format!("point {} ({}): {}", o.point, o.inputs, o.expectation)
        };
        x.push_str(&format!("    <testcase classname=\"{}\" name=\"{}\" time=\"0\"", xml_escape(suite), xml_escape(&name)));
        if o.passed {
            x.push_str("/>\n");
        } else {
            x.push_str(&format!(
                ">\n      <failure type=\"expectation\" message=\"{}\">{}</failure>\n    </testcase>\n",
                xml_escape(&o.message),
                xml_escape(&format!("{name}\n{}", o.message))
            ));
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<Column> {
        vec![
            Column::new("point", ColumnType::Int, ""),
            Column::new("status", ColumnType::Str, ""),
            Column::new("failure", ColumnType::Str, ""),
            Column::new("cluster.gpus", ColumnType::Int, ""),
            Column::new("days_p90", ColumnType::Float, ""),
        ]
    }

    #[test]
    fn conditions_parse_and_evaluate() {
        let c = cols();
        assert!(parse_condition("days_p90 <= 1e2", &c).is_ok());
        assert!(parse_condition("dayz_p90 < 1", &c).unwrap_err().contains("days_p90"));
        // A name of schema version 1 is answered with its new name.
        let old = parse_condition("p90_days < 1", &c).unwrap_err();
        assert!(old.contains("renamed `days_p90` in schema version 2"), "{old}");
        assert!(parse_condition("days_p90 < x", &c).is_err());
        assert!(parse_condition("status < ok", &c).is_err());
        assert!(parse_condition("days_p90 3", &c).is_err());
        let e = Expectation::new(
            ExpectSpec { check: "days_p90 < 100".into(), name: None, when: vec!["cluster.gpus >= 8192".into()], points: None },
            &c,
        )
        .unwrap();
        let rows = [
            vec!["0".to_string(), "ok".into(), "".into(), "4096".into(), "150.0".into()],
            vec!["1".to_string(), "ok".into(), "".into(), "8192".into(), "90.0".into()],
            vec!["2".to_string(), "ok".into(), "".into(), "16384".into(), "120.0".into()],
            vec!["3".to_string(), "infeasible".into(), "memory".into(), "16384".into(), "".into()],
        ];
        let refs: Vec<&Vec<String>> = rows.iter().collect();
        let o = evaluate(&[e], &c, &[3], &refs);
        assert_eq!(o.len(), 3);
        assert!(o[0].passed && !o[1].passed && !o[2].passed);
        assert!(o[1].message.contains("days_p90 = 120.0"), "{}", o[1].message);
        assert!(o[2].message.contains("infeasible: memory"), "{}", o[2].message);
        let x = junit_xml("s<1>", &o);
        assert!(x.contains("failures=\"2\"") && x.contains("s&lt;1&gt;") && x.contains("&lt; 100"), "{x}");
    }
}
