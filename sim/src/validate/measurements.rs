//! Measurement files for `wanka calibrate MEASUREMENTS… --chip ID`: what a planner can measure on a few
//! nodes of their own.
//!
//! Three layouts, told apart by their content:
//!
//! - **step rows** — the validation case layout (a CSV whose header has `measured_step_s`; see
//!   `scenarios/validation/CASES.md`), read by [`crate::validate::read_step_cases`];
//! - **GEMM throughput** — a CSV with columns `m,n,k,dtype` and `tflops` (achieved TFLOP/s) or `time_us`
//!   (one GEMM `m×k · k×n`), `dtype` one of `bf16`, `fp16`, `fp8`; lines starting with `#` are comments;
//! - **collective bus bandwidth** — the text that nccl-tests (`all_reduce_perf`, `all_gather_perf`, …)
//!   prints, and HCCL's test tools that print the same columns: `#` header lines, then one row per message
//!   size `size count type redop [root] time algbw busbw #wrong time algbw busbw #wrong` (out-of-place,
//!   then in-place; `root` is absent in older versions). The out-of-place `time` (µs) and `busbw` (GB/s)
//!   are used. The column header line (`#  size  count …`) fixes the positions; lines before it
//!   (the launcher's output) and `NCCL INFO`/`NCCL WARN` debug lines are skipped; any other line after
//!   it that is not a full row is an error naming its line.

use std::path::Path;

use crate::error::WankaError;
use crate::validate::StepCase;

/// Data type of a GEMM row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum GemmDtype {
    Bf16,
    Fp16,
    Fp8,
}

/// One GEMM micro-benchmark row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GemmRow {
    pub file: String,
    pub line: usize,
    pub m: f64,
    pub n: f64,
    pub k: f64,
    pub dtype: GemmDtype,
    /// Time of one GEMM, seconds (from `time_us`, or `2mnk / tflops`).
    pub time_s: f64,
}

impl GemmRow {
    pub fn flops(&self) -> f64 {
        2.0 * self.m * self.n * self.k
    }
}

/// One collective row (one message size) of an nccl-tests-style file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BusRow {
    pub file: String,
    pub line: usize,
    pub size_bytes: f64,
    /// Out-of-place time, seconds.
    pub time_s: f64,
    /// Out-of-place bus bandwidth, GB/s.
    pub busbw_gb_per_s: f64,
    /// Out-of-place algorithm bandwidth (size / time), GB/s.
    pub algbw_gb_per_s: f64,
}

impl BusRow {
    /// Bytes each rank moves on the bus: the size times the collective's bus factor (busbw / algbw,
    /// `2(n−1)/n` for all-reduce), taken from the file's large rows (the printed small-row bandwidths
    /// are rounded to 0.01 GB/s).
    pub fn bus_bytes(&self, bus_factor: f64) -> f64 {
        self.size_bytes * bus_factor
    }
}

/// The contents of one measurement file.
#[derive(Debug, Clone)]
pub enum Measurements {
    Steps(Vec<StepCase>),
    Gemm(Vec<GemmRow>),
    /// Rows and the number of ranks named in the header (`#  Rank  N …` lines), if any.
    Collective {
        rows: Vec<BusRow>,
        ranks: Option<usize>,
    },
}

impl Measurements {
    pub fn len(&self) -> usize {
        match self {
            Measurements::Steps(v) => v.len(),
            Measurements::Gemm(v) => v.len(),
            Measurements::Collective { rows, .. } => rows.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn parse_err(file: &str, line: usize, col: usize, msg: String) -> WankaError {
    WankaError::Parse { file: file.into(), line, col, msg }
}

/// Read one measurement file, its layout told by its content (see the module docs).
pub fn read(path: &Path) -> Result<Measurements, WankaError> {
    let text = crate::ron_util::read_file(path)?;
    let file = path.display().to_string();
    if text.lines().any(|l| l.trim_start().starts_with('#') && l.contains("busbw")) {
        return parse_collective(&text, &file);
    }
    let header = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.contains(&"measured_step_s") {
        return Ok(Measurements::Steps(crate::validate::read_step_cases(path)?));
    }
    if ["m", "n", "k"].iter().all(|c| cols.contains(c)) {
        return parse_gemm(&text, &file);
    }
    Err(parse_err(
        &file,
        1,
        1,
        "not a measurement file: expected step rows (a CSV header with `measured_step_s`), GEMM rows (a CSV header with \
         `m,n,k,dtype` and `tflops` or `time_us`) or nccl-tests/HCCL test output (`#` header lines naming `busbw`)"
            .into(),
    ))
}

/// GEMM rows (see the module docs).
pub fn parse_gemm(text: &str, file: &str) -> Result<Measurements, WankaError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let Some((hline, header)) = lines.next() else {
        return Err(parse_err(file, 1, 1, "empty GEMM file: expected a header `m,n,k,dtype,tflops`".into()));
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let idx = |c: &str| cols.iter().position(|x| *x == c);
    let (Some(im), Some(in_), Some(ik), Some(id)) = (idx("m"), idx("n"), idx("k"), idx("dtype")) else {
        return Err(parse_err(file, hline, 1, "GEMM header must name `m`, `n`, `k` and `dtype`".into()));
    };
    let (it, iu) = (idx("tflops"), idx("time_us"));
    if it.is_none() && iu.is_none() {
        return Err(parse_err(file, hline, 1, "GEMM header must name `tflops` (achieved TFLOP/s) or `time_us` (one GEMM)".into()));
    }
    let mut rows = Vec::new();
    for (line, l) in lines {
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != cols.len() {
            return Err(parse_err(file, line, 1, format!("{} fields, the header has {}", f.len(), cols.len())));
        }
        let num = |i: usize, what: &str| -> Result<f64, WankaError> {
            match f[i].parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => Err(parse_err(file, line, i + 1, format!("field `{}`: `{}` is not a positive number ({what})", cols[i], f[i]))),
            }
        };
        let dim = |i: usize| -> Result<f64, WankaError> {
            let v = num(i, "a matrix dimension, a whole number 1 to 10^7")?;
            if v.fract() != 0.0 || v > 1e7 {
                return Err(parse_err(file, line, i + 1, format!("field `{}`: `{}` must be a whole number 1 to 10^7", cols[i], f[i])));
            }
            Ok(v)
        };
        let (m, n, k) = (dim(im)?, dim(in_)?, dim(ik)?);
        let dtype = match f[id].to_ascii_lowercase().as_str() {
            "bf16" | "bfloat16" => GemmDtype::Bf16,
            "fp16" | "f16" | "half" => GemmDtype::Fp16,
            "fp8" | "e4m3" | "e5m2" => GemmDtype::Fp8,
            other => return Err(parse_err(file, line, id + 1, format!("field `dtype`: `{other}`; allowed: bf16, fp16, fp8"))),
        };
        let time_s = match (iu, it) {
            (Some(i), _) => num(i, "microseconds of one GEMM")? * 1e-6,
            (None, Some(i)) => {
                let tf = num(i, "achieved TFLOP/s")?;
                if tf > 1e5 {
                    return Err(parse_err(
                        file,
                        line,
                        i + 1,
                        format!("field `tflops`: {tf} TFLOP/s is beyond any accelerator (at most 1e5)"),
                    ));
                }
                2.0 * m * n * k / (tf * 1e12)
            }
            (None, None) => unreachable!("checked on the header"),
        };
        rows.push(GemmRow { file: file.into(), line, m, n, k, dtype, time_s });
    }
    if rows.is_empty() {
        return Err(parse_err(file, hline, 1, "no GEMM rows under the header".into()));
    }
    Ok(Measurements::Gemm(rows))
}

/// nccl-tests / HCCL test output (see the module docs).
pub fn parse_collective(text: &str, file: &str) -> Result<Measurements, WankaError> {
    let mut pos: Option<(usize, usize, usize, usize, usize)> = None; // (tokens per row, size, time, algbw, busbw)
    let mut header_line = 0;
    let mut rows = Vec::new();
    let mut ranks = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if let Some(rest) = l.strip_prefix('#') {
            let toks: Vec<&str> = rest.split_whitespace().collect();
            if toks.first() == Some(&"Rank") {
                ranks += 1;
            }
            if toks.first() == Some(&"size") && toks.contains(&"busbw") {
                let at = |name: &str| toks.iter().position(|t| *t == name);
                match (at("size"), at("time"), at("algbw"), at("busbw")) {
                    (Some(s), Some(t), Some(a), Some(b)) => {
                        pos = Some((toks.len(), s, t, a, b));
                        header_line = line;
                    }
                    _ => return Err(parse_err(file, line, 1, "column header without `size`, `time`, `algbw` and `busbw`".into())),
                }
            }
            continue;
        }
        if l.is_empty() || l.contains("NCCL INFO") || l.contains("NCCL WARN") {
            continue;
        }
        let Some((ntok, si, ti, ai, bi)) = pos else { continue };
        let toks: Vec<&str> = l.split_whitespace().collect();
        if toks.len() != ntok {
            return Err(parse_err(
                file,
                line,
                1,
                format!(
                    "{} fields where the column header (line {header_line}) has {ntok}: expected `size count type redop [root] time algbw busbw #wrong time algbw busbw #wrong`",
                    toks.len()
                ),
            ));
        }
        let col_of = |k: usize| raw.find(toks[k]).map_or(1, |c| c + 1);
        let num = |k: usize, name: &str, allowed: &str| -> Result<f64, WankaError> {
            match toks[k].parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => Err(parse_err(file, line, col_of(k), format!("field `{name}`: `{}` is not {allowed}", toks[k]))),
            }
        };
        let size_bytes = num(si, "size", "a message size in bytes")?;
        let time_us = num(ti, "time", "a time in microseconds")?;
        let algbw = num(ai, "algbw", "an algorithm bandwidth in GB/s")?;
        let busbw = num(bi, "busbw", "a bus bandwidth in GB/s")?;
        if size_bytes == 0.0 || time_us == 0.0 {
            return Err(parse_err(file, line, col_of(if size_bytes == 0.0 { si } else { ti }), "size and time must be positive".into()));
        }
        // `#wrong` (or `error`) right after busbw: a row whose result failed validation is no measurement.
        if let Some(w) = toks.get(bi + 1)
            && let Ok(v) = w.parse::<f64>()
            && v > 0.0
            && w.parse::<u64>().is_ok()
        {
            return Err(parse_err(
                file,
                line,
                col_of(bi + 1),
                format!("the row reports {w} wrong elements: the benchmark's result is invalid"),
            ));
        }
        rows.push(BusRow { file: file.into(), line, size_bytes, time_s: time_us * 1e-6, busbw_gb_per_s: busbw, algbw_gb_per_s: algbw });
    }
    if pos.is_none() {
        return Err(parse_err(file, 1, 1, "no nccl-tests column header (`#  size  count  type  redop … busbw …`)".into()));
    }
    if rows.is_empty() {
        return Err(parse_err(file, header_line, 1, "no rows under the column header".into()));
    }
    Ok(Measurements::Collective { rows, ranks: (ranks > 0).then_some(ranks) })
}

/// The bus factor (busbw / algbw) of a collective file, from its rows with at least 1 GB/s of
/// algorithm bandwidth (median); `None` when no row is that large.
pub fn bus_factor(rows: &[BusRow]) -> Option<f64> {
    let mut f: Vec<f64> = rows.iter().filter(|r| r.algbw_gb_per_s >= 1.0).map(|r| r.busbw_gb_per_s / r.algbw_gb_per_s).collect();
    if f.is_empty() {
        return None;
    }
    f.sort_by(f64::total_cmp);
    Some(f[f.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NCCL: &str = include_str!("../../tests/data/nccl_all_reduce_h100_16.txt");

    #[test]
    fn reads_real_nccl_tests_output() {
        let Measurements::Collective { rows, ranks } = parse_collective(NCCL, "n.txt").unwrap() else { panic!() };
        assert_eq!(ranks, Some(16));
        let last = rows.last().unwrap();
        assert_eq!(last.size_bytes, 8589934592.0);
        assert!((last.time_s - 47535e-6).abs() < 1e-12 && last.busbw_gb_per_s == 338.82, "{last:?}");
    }

    #[test]
    fn a_malformed_row_is_an_error_with_its_line() {
        // Cut one row short and garble another's time.
        let lines: Vec<&str> = NCCL.lines().collect();
        let at = lines.iter().position(|l| l.trim_start().starts_with("1048576 ")).unwrap();
        let mut cut = lines.clone();
        let short = lines[at].split_whitespace().take(6).collect::<Vec<_>>().join(" ");
        cut[at] = &short;
        let e = parse_collective(&cut.join("\n"), "cut.txt").unwrap_err().to_string();
        assert!(e.starts_with(&format!("cut.txt:{}:", at + 1)) && e.contains("fields"), "{e}");
        let garbled = lines[at].replacen("203.2", "2O3.2", 1);
        let mut g = lines.clone();
        g[at] = &garbled;
        let e = parse_collective(&g.join("\n"), "g.txt").unwrap_err().to_string();
        assert!(e.starts_with(&format!("g.txt:{}:", at + 1)) && e.contains("`time`"), "{e}");
    }

    #[test]
    fn gemm_rows_name_bad_fields() {
        let ok = parse_gemm("m,n,k,dtype,tflops\n4096,4096,4096,bf16,250\n", "g.csv").unwrap();
        let Measurements::Gemm(r) = ok else { panic!() };
        assert!((r[0].flops() / r[0].time_s / 1e12 - 250.0).abs() < 1e-9);
        let e = parse_gemm("m,n,k,dtype,tflops\n4096,4096,4096,int4,250\n", "g.csv").unwrap_err().to_string();
        assert!(e.starts_with("g.csv:2:4") && e.contains("allowed"), "{e}");
        let e = parse_gemm("m,n,k,dtype,tflops\n4096,-1,4096,bf16,250\n", "g.csv").unwrap_err().to_string();
        assert!(e.starts_with("g.csv:2:2") && e.contains("`n`"), "{e}");
    }
}
