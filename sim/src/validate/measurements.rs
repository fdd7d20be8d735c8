//! Measurement files for `wanka calibrate MEASUREMENTS… --chip ID`: what a planner can measure on a few
//! nodes of their own.
//!
//! Three layouts, told apart by their content:
//!
//! - **step rows** — the validation case layout (a CSV whose header has `measured_step_s`; see
//!   `scenarios/validation/CASES.md`), read by [`crate::validate::read_step_cases`];
//! - **GEMM throughput** — a CSV with columns `m,n,k,dtype` and `tflops` (achieved TFLOP/s) or `time_us`
//!   (one GEMM `m×k · k×n`), `dtype` one of `bf16`, `fp16`, `fp8`; lines starting with `#` are comments;
//! - **attention-kernel throughput** — a CSV with columns `batch,seq_len,heads,head_dim,causal,dtype`
//!   and `tflops` (achieved TFLOP/s) or `time_us` (one call), optionally `pass` (`fwd`, the default;
//!   `bwd`; `fwd_bwd`): the figures flash-attention's `benchmarks/benchmark_flash_attention.py` prints,
//!   in its FLOP convention — forward `4·batch·seq_len²·heads·head_dim`, halved when `causal`, backward
//!   2.5× and forward+backward 3.5× the forward (`heads` are query heads); `causal` is `true`/`false`
//!   (or `1`/`0`), `dtype` `bf16` or `fp16` (wanka's step model keeps attention in 16 bit under FP8);
//! - **collective bus bandwidth, nccl-tests** — the text that nccl-tests (`all_reduce_perf`,
//!   `all_gather_perf`, …) prints (and tools that print the same columns): `#` header lines, then one row per message
//!   size `size count type redop [root] time algbw busbw #wrong time algbw busbw #wrong` (out-of-place,
//!   then in-place; `root` is absent in older versions). The out-of-place `time` (µs) and `busbw` (GB/s)
//!   are used. The column header line (`#  size  count …`) fixes the positions; lines before it
//!   (the launcher's output) and `NCCL INFO`/`NCCL WARN` debug lines are skipped; any other line after
//!   it that is not a full row is an error naming its line.
//! - **collective algorithm bandwidth, HCCL Test** — the table Huawei's `hccl_test` tools
//!   (`all_reduce_test`, `all_gather_test`, `reduce_scatter_test`, `alltoall_test`, `broadcast_test`,
//!   `reduce_test`, run as `mpirun -n 16 ./bin/all_reduce_test -b 8K -e 64M -f 2 -p 8`) print: a header
//!   `data_size(Bytes): | aveg_time(us): | alg_bandwidth(GB/s): | check_result:` then one row per size
//!   `data_size | aveg_time | alg_bandwidth | success|failed|NULL` (the layout of
//!   `HcclOpBaseTest::print_execution_time`, `tools/hccl_test/common/src/hccl_opbase_rootinfo_base.{h,cc}`
//!   of CANN 8.1.RC1; the field meanings are those of the "HCCL Performance Tester — Result Description"
//!   page of the CANN documentation). `data_size` is bytes, `aveg_time` µs, `alg_bandwidth` GB/s of
//!   algorithm bandwidth (data size / time). The table prints neither the rank count nor the collective,
//!   so both come from the file's own `mpirun … -n N ./bin/<collective>_test …` line when the log kept
//!   it, else from `--ranks N` / `--collective NAME` (a file and a flag that disagree is an error); bus
//!   bandwidth is algorithm bandwidth times the collective's bus factor (nccl-tests' convention:
//!   all-reduce `2(n−1)/n`, all-gather, reduce-scatter and alltoall `(n−1)/n`, broadcast and reduce 1).
//!   A `failed` row (or a `rank id R, check result failed` line) is an error naming its line: a wrong
//!   result is no measurement. Lines before the header are skipped; after it, a line with `|` or
//!   starting with a digit must be a full row, and a line saying `error` is an error.

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

/// Which pass an attention row timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum AttentionPass {
    Fwd,
    Bwd,
    FwdBwd,
}

impl AttentionPass {
    /// FLOPs of the pass per forward FLOP (flash-attention's benchmark convention).
    pub fn flop_multiple(self) -> f64 {
        match self {
            AttentionPass::Fwd => 1.0,
            AttentionPass::Bwd => 2.5,
            AttentionPass::FwdBwd => 3.5,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            AttentionPass::Fwd => "fwd",
            AttentionPass::Bwd => "bwd",
            AttentionPass::FwdBwd => "fwd_bwd",
        }
    }
}

/// One attention-kernel micro-benchmark row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AttentionRow {
    pub file: String,
    pub line: usize,
    pub batch: f64,
    pub seq_len: f64,
    pub heads: f64,
    pub head_dim: f64,
    pub causal: bool,
    pub pass: AttentionPass,
    /// Time of one call, seconds (from `time_us`, or the pass's FLOPs / `tflops`).
    pub time_s: f64,
}

impl AttentionRow {
    /// Executed FLOPs of the timed pass (see the module docs).
    pub fn flops(&self) -> f64 {
        let fwd = 4.0 * self.batch * self.seq_len * self.seq_len * self.heads * self.head_dim / if self.causal { 2.0 } else { 1.0 };
        fwd * self.pass.flop_multiple()
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
    Attention(Vec<AttentionRow>),
    /// Rows and the number of ranks named in the header (`#  Rank  N …` lines, or HCCL's `mpirun -n N`),
    /// if any; `bus_factor` when the file's layout fixes it (HCCL: from the collective and the ranks),
    /// else read from the rows' busbw / algbw ([`bus_factor`]); `unverified_rows`: rows whose result
    /// the tool did not check (HCCL's `check_result` `NULL`, with `-c 0` or where the check would
    /// overflow), said as a warning by the fit.
    Collective {
        rows: Vec<BusRow>,
        ranks: Option<usize>,
        bus_factor: Option<f64>,
        unverified_rows: usize,
    },
}

impl Measurements {
    pub fn len(&self) -> usize {
        match self {
            Measurements::Steps(v) => v.len(),
            Measurements::Gemm(v) => v.len(),
            Measurements::Attention(v) => v.len(),
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

/// A collective's bus factor as nccl-tests defines it (bus bytes per byte of algorithm bandwidth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CollectiveKind {
    AllReduce,
    AllGather,
    ReduceScatter,
    AllToAll,
    Broadcast,
    Reduce,
}

impl CollectiveKind {
    /// Names accepted by `--collective` (and the HCCL binary names without `_test`).
    pub const ALLOWED: &'static str = "all-reduce, all-gather, reduce-scatter, alltoall, broadcast, reduce";

    pub fn parse(s: &str) -> Option<CollectiveKind> {
        Some(match s.to_ascii_lowercase().replace(['_', '-'], "").as_str() {
            "allreduce" => CollectiveKind::AllReduce,
            "allgather" => CollectiveKind::AllGather,
            "reducescatter" => CollectiveKind::ReduceScatter,
            "alltoall" => CollectiveKind::AllToAll,
            "broadcast" | "brocast" => CollectiveKind::Broadcast,
            "reduce" => CollectiveKind::Reduce,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            CollectiveKind::AllReduce => "all-reduce",
            CollectiveKind::AllGather => "all-gather",
            CollectiveKind::ReduceScatter => "reduce-scatter",
            CollectiveKind::AllToAll => "alltoall",
            CollectiveKind::Broadcast => "broadcast",
            CollectiveKind::Reduce => "reduce",
        }
    }
    /// busbw / algbw on `ranks` ranks.
    pub fn bus_factor(self, ranks: usize) -> f64 {
        let n = ranks as f64;
        match self {
            CollectiveKind::AllReduce => 2.0 * (n - 1.0) / n,
            CollectiveKind::AllGather | CollectiveKind::ReduceScatter | CollectiveKind::AllToAll => (n - 1.0) / n,
            CollectiveKind::Broadcast | CollectiveKind::Reduce => 1.0,
        }
    }
}

/// What an HCCL Test file cannot say about itself (`--ranks`, `--collective`); nccl-tests files and
/// the other layouts ignore it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CollectiveHint {
    pub ranks: Option<usize>,
    pub collective: Option<CollectiveKind>,
}

/// Read one measurement file, its layout told by its content (see the module docs).
pub fn read(path: &Path) -> Result<Measurements, WankaError> {
    read_with(path, CollectiveHint::default())
}

/// [`read`], with the rank count and collective an HCCL Test table does not print.
pub fn read_with(path: &Path, hint: CollectiveHint) -> Result<Measurements, WankaError> {
    let text = crate::ron_util::read_file(path)?;
    let file = path.display().to_string();
    if text.lines().any(is_hccl_header) {
        return parse_hccl(&text, &file, hint);
    }
    if text.lines().any(|l| l.trim_start().starts_with('#') && l.contains("busbw")) {
        return parse_collective(&text, &file);
    }
    let header = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.contains(&"measured_step_s") {
        return Ok(Measurements::Steps(crate::validate::read_step_cases(path)?));
    }
    if cols.contains(&"seq_len") && cols.contains(&"head_dim") {
        return parse_attention(&text, &file);
    }
    if ["m", "n", "k"].iter().all(|c| cols.contains(c)) {
        return parse_gemm(&text, &file);
    }
    Err(parse_err(
        &file,
        1,
        1,
        "not a measurement file: expected step rows (a CSV header with `measured_step_s`), GEMM rows (a CSV header with \
         `m,n,k,dtype` and `tflops` or `time_us`) nccl-tests output (`#` header lines naming `busbw`) or HCCL Test output (a header `data_size(Bytes): | aveg_time(us): | \
         alg_bandwidth(GB/s): | check_result:`)"
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

/// Attention-kernel rows (see the module docs).
pub fn parse_attention(text: &str, file: &str) -> Result<Measurements, WankaError> {
    const NEEDED: [&str; 6] = ["batch", "seq_len", "heads", "head_dim", "causal", "dtype"];
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let Some((hline, header)) = lines.next() else {
        return Err(parse_err(
            file,
            1,
            1,
            "empty attention file: expected a header `batch,seq_len,heads,head_dim,causal,dtype,tflops`".into(),
        ));
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let idx = |c: &str| cols.iter().position(|x| *x == c);
    if let Some(missing) = NEEDED.iter().find(|c| idx(c).is_none()) {
        return Err(parse_err(
            file,
            hline,
            1,
            format!("attention header lacks `{missing}`: it must name {} and `tflops` or `time_us` (optional `pass`)", NEEDED.join(", ")),
        ));
    }
    let (it, iu, ip) = (idx("tflops"), idx("time_us"), idx("pass"));
    if it.is_none() && iu.is_none() {
        return Err(parse_err(file, hline, 1, "attention header must name `tflops` (achieved TFLOP/s) or `time_us` (one call)".into()));
    }
    let at = |c: &str| idx(c).unwrap_or(0);
    let mut rows = Vec::new();
    for (line, l) in lines {
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != cols.len() {
            return Err(parse_err(file, line, 1, format!("{} fields, the header has {}", f.len(), cols.len())));
        }
        let bad = |i: usize, allowed: &str| parse_err(file, line, i + 1, format!("field `{}`: `{}`; allowed: {allowed}", cols[i], f[i]));
        let num = |i: usize, allowed: &str| -> Result<f64, WankaError> {
            match f[i].parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => Err(bad(i, allowed)),
            }
        };
        let whole = |i: usize, max: f64| -> Result<f64, WankaError> {
            let allowed = format!("a whole number 1 to {max}");
            let v = num(i, &allowed)?;
            if v.fract() != 0.0 || v > max { Err(bad(i, &allowed)) } else { Ok(v) }
        };
        let (batch, seq_len, heads, head_dim) =
            (whole(at("batch"), 1e5)?, whole(at("seq_len"), 1e7)?, whole(at("heads"), 1e4)?, whole(at("head_dim"), 1024.0)?);
        let causal = match f[at("causal")].to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(bad(at("causal"), "true, false (or 1, 0)")),
        };
        match f[at("dtype")].to_ascii_lowercase().as_str() {
            "bf16" | "bfloat16" | "fp16" | "f16" | "half" => {}
            _ => return Err(bad(at("dtype"), "bf16, fp16 (the step model keeps attention in 16 bit)")),
        }
        let pass = match ip.map(|i| f[i].to_ascii_lowercase()) {
            None => AttentionPass::Fwd,
            Some(p) => match p.as_str() {
                "fwd" | "forward" => AttentionPass::Fwd,
                "bwd" | "backward" => AttentionPass::Bwd,
                "fwd_bwd" | "fwd+bwd" | "forward_backward" => AttentionPass::FwdBwd,
                _ => return Err(bad(ip.unwrap_or(0), "fwd, bwd, fwd_bwd")),
            },
        };
        let mut r = AttentionRow { file: file.into(), line, batch, seq_len, heads, head_dim, causal, pass, time_s: 0.0 };
        r.time_s = match (iu, it) {
            (Some(i), _) => num(i, "a positive time in microseconds")? * 1e-6,
            (None, Some(i)) => {
                let tf = num(i, "a positive achieved TFLOP/s")?;
                if tf > 1e5 {
                    return Err(bad(i, "at most 1e5 TFLOP/s"));
                }
                r.flops() / (tf * 1e12)
            }
            (None, None) => return Err(parse_err(file, hline, 1, "no `tflops` or `time_us` column".into())),
        };
        rows.push(r);
    }
    if rows.is_empty() {
        return Err(parse_err(file, hline, 1, "no attention rows under the header".into()));
    }
    Ok(Measurements::Attention(rows))
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
    Ok(Measurements::Collective { rows, ranks: (ranks > 0).then_some(ranks), bus_factor: None, unverified_rows: 0 })
}

/// Whether `line` is HCCL Test's column header.
fn is_hccl_header(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("data_size") && (l.contains("avg_time") || l.contains("aveg_time") || l.contains("alg_bandwidth"))
}

/// The rank count and collective of an `mpirun … -n N ./bin/<collective>_test …` line (either may be
/// absent); `None` when `l` is no such line.
/// What an HCCL Test command line says: mpirun's rank count, the collective and the binary's name.
type HcclCommand = (Option<usize>, Option<(CollectiveKind, String)>);

fn hccl_command(l: &str) -> Option<HcclCommand> {
    let toks: Vec<&str> = l.split_whitespace().collect();
    let at = toks.iter().position(|t| t.rsplit('/').next().is_some_and(|b| b.ends_with("_test") && b.len() > 5))?;
    let base = toks[at].rsplit('/').next().unwrap_or(toks[at]);
    let kind = CollectiveKind::parse(base.trim_end_matches("_test")).map(|k| (k, base.to_string()));
    // mpirun's `-n N` / `-np N` come before the binary; after it, hccl_test's own `-n` is the iteration
    // count and `-p` the NPUs per node.
    let ranks = toks[..at].windows(2).filter(|w| matches!(w[0], "-n" | "-np" | "--np")).find_map(|w| w[1].parse::<usize>().ok());
    Some((ranks, kind))
}

/// HCCL Test output (see the module docs).
pub fn parse_hccl(text: &str, file: &str, hint: CollectiveHint) -> Result<Measurements, WankaError> {
    const FIELDS: [&str; 4] = ["data_size(Bytes)", "aveg_time(us)", "alg_bandwidth(GB/s)", "check_result"];
    let mut header_line = 0;
    let mut cmd: Option<(usize, HcclCommand)> = None;
    let mut raw_rows: Vec<(usize, f64, f64, f64)> = Vec::new();
    let mut unchecked = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if header_line == 0 {
            if is_hccl_header(l) {
                let cols: Vec<String> = l.split('|').map(|c| c.trim().trim_end_matches(':').to_string()).collect();
                // The binary prints `aveg_time(us):`, the documentation's example `avg_time(us):`: both are read.
                let same =
                    |c: &str, f: &str| c.split('(').next().map(|x| x.replace("avg_", "aveg_")) == f.split('(').next().map(String::from);
                if cols.len() != 4 || !cols.iter().zip(FIELDS).all(|(c, f)| same(c, f)) {
                    return Err(parse_err(
                        file,
                        line,
                        1,
                        format!("HCCL Test header with columns {cols:?}; expected `{}`", FIELDS.map(|f| format!("{f}:")).join(" | ")),
                    ));
                }
                header_line = line;
            } else if let Some(c) = hccl_command(l) {
                cmd = Some((line, c));
            }
            continue;
        }
        if l.is_empty() {
            continue;
        }
        if l.starts_with("rank id") && l.contains("failed") {
            return Err(parse_err(file, line, 1, format!("`{l}`: a rank's result check failed, the benchmark's result is invalid")));
        }
        if l.to_ascii_lowercase().contains("error") {
            return Err(parse_err(file, line, 1, format!("the test reported an error: `{l}`")));
        }
        if !(l.contains('|') || l.starts_with(|c: char| c.is_ascii_digit())) {
            continue; // a warning or the launcher's output
        }
        let f: Vec<&str> = raw.split('|').collect();
        if f.len() != 4 {
            return Err(parse_err(
                file,
                line,
                1,
                format!(
                    "{} field(s) where the header (line {header_line}) has 4: expected `data_size | aveg_time | alg_bandwidth | check_result`",
                    f.len()
                ),
            ));
        }
        let col_of = |k: usize| f[..k].iter().map(|x| x.len() + 1).sum::<usize>() + 1 + (f[k].len() - f[k].trim_start().len());
        let num = |k: usize, allowed: &str| -> Result<f64, WankaError> {
            match f[k].trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => Err(parse_err(file, line, col_of(k), format!("field `{}`: `{}` is not {allowed}", FIELDS[k], f[k].trim()))),
            }
        };
        let size = num(0, "a positive size in bytes")?;
        let time_us = num(1, "a positive time in microseconds")?;
        let algbw = num(2, "a positive algorithm bandwidth in GB/s")?;
        match f[3].trim() {
            "success" => {}
            "NULL" => unchecked += 1,
            "failed" => {
                return Err(parse_err(
                    file,
                    line,
                    col_of(3),
                    "field `check_result`: `failed`: the collective's result was wrong, the row is no measurement".into(),
                ));
            }
            other => {
                return Err(parse_err(file, line, col_of(3), format!("field `check_result`: `{other}`; allowed: success, failed, NULL")));
            }
        }
        raw_rows.push((line, size, time_us, algbw));
    }
    if header_line == 0 {
        return Err(parse_err(
            file,
            1,
            1,
            "no HCCL Test header (`data_size(Bytes): | aveg_time(us): | alg_bandwidth(GB/s): | check_result:`)".into(),
        ));
    }
    if raw_rows.is_empty() {
        return Err(parse_err(file, header_line, 1, "no rows under the HCCL Test header".into()));
    }
    // Ranks and collective: the file's command line, the flags, both agreeing.
    let (cmd_line, (cmd_ranks, cmd_kind)) = cmd.unwrap_or((0, (None, None)));
    let ranks = match (cmd_ranks, hint.ranks) {
        (Some(a), Some(b)) if a != b => {
            return Err(parse_err(
                file,
                cmd_line,
                1,
                format!("the command line runs {a} ranks (`-n {a}`), --ranks says {b}: give the one the test ran"),
            ));
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            return Err(WankaError::Invalid {
                file: file.into(),
                field: "--ranks".into(),
                msg: "an HCCL Test table does not print the number of ranks and the file has no `mpirun -n N` line: say it with `--ranks N` (the total over all nodes, mpirun's -n)".into(),
            });
        }
    };
    if ranks < 2 {
        return Err(WankaError::Invalid {
            file: file.into(),
            field: "--ranks".into(),
            msg: format!("{ranks} rank(s): a collective needs at least 2"),
        });
    }
    let kind = match (cmd_kind, hint.collective) {
        (Some((a, bin)), Some(b)) if a != b => {
            return Err(parse_err(
                file,
                cmd_line,
                1,
                format!("the command line runs `{bin}` ({}), --collective says {}", a.name(), b.name()),
            ));
        }
        (Some((a, _)), _) => a,
        (None, Some(b)) => b,
        (None, None) => {
            return Err(WankaError::Invalid {
                file: file.into(),
                field: "--collective".into(),
                msg: format!(
                    "an HCCL Test table does not print which collective it ran and the file has no `./bin/<name>_test` line: say it with `--collective NAME` ({})",
                    CollectiveKind::ALLOWED
                ),
            });
        }
    };
    let factor = kind.bus_factor(ranks);
    let rows = raw_rows
        .into_iter()
        .map(|(line, size, time_us, algbw)| BusRow {
            file: file.into(),
            line,
            size_bytes: size,
            time_s: time_us * 1e-6,
            busbw_gb_per_s: algbw * factor,
            algbw_gb_per_s: algbw,
        })
        .collect();
    Ok(Measurements::Collective { rows, ranks: Some(ranks), bus_factor: Some(factor), unverified_rows: unchecked })
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
        let Measurements::Collective { rows, ranks, .. } = parse_collective(NCCL, "n.txt").unwrap() else { panic!() };
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

    const HCCL: &str = include_str!("../../tests/data/hccl_all_reduce_910b_16.txt");

    type Parsed = (Vec<BusRow>, Option<usize>, Option<f64>);

    fn hccl(text: &str, hint: CollectiveHint) -> Result<Parsed, String> {
        match parse_hccl(text, "h.txt", hint).map_err(|e| e.to_string())? {
            Measurements::Collective { rows, ranks, bus_factor, .. } => Ok((rows, ranks, bus_factor)),
            other => Err(format!("not a collective file: {other:?}")),
        }
    }

    #[test]
    fn reads_hccl_test_output_with_its_command_line() {
        let (rows, ranks, factor) = hccl(HCCL, CollectiveHint::default()).unwrap();
        assert_eq!(ranks, Some(16));
        assert_eq!(factor, Some(2.0 * 15.0 / 16.0));
        let first_row_line = HCCL.lines().position(|l| l.starts_with("8192 ")).unwrap() + 1;
        assert_eq!((rows.len(), rows[0].line, rows[0].size_bytes), (18, first_row_line, 8192.0));
        let last = rows.last().unwrap();
        // busbw = algbw × 2(n−1)/n, time in seconds.
        assert!((last.time_s - 117968.08e-6).abs() < 1e-12 && (last.busbw_gb_per_s - 9.10197 * 1.875).abs() < 1e-9, "{last:?}");
        // The layout is told by its content.
        let dir = std::env::temp_dir().join(format!("wanka_hccl_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("log.txt");
        std::fs::write(&f, HCCL).unwrap();
        assert!(matches!(read(&f).unwrap(), Measurements::Collective { bus_factor: Some(_), .. }));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hccl_without_a_command_line_needs_ranks_and_collective() {
        // The documentation's example spells `avg_time(us):` and pads differently; no command line.
        let t = "data_size(Bytes): |   avg_time(us): | alg_bandwidth(GB/s): | check_result:\n8192              |     764.55    |       0.01072        | success\n";
        let e = hccl(t, CollectiveHint::default()).unwrap_err();
        assert!(e.starts_with("h.txt") && e.contains("--ranks"), "{e}");
        let e = hccl(t, CollectiveHint { ranks: Some(8), collective: None }).unwrap_err();
        assert!(e.contains("--collective") && e.contains("alltoall"), "{e}");
        let (rows, _, factor) = hccl(t, CollectiveHint { ranks: Some(8), collective: Some(CollectiveKind::AllGather) }).unwrap();
        assert_eq!((rows.len(), factor), (1, Some(7.0 / 8.0)));
        // An unchecked result (`-c 0`) is read and counted.
        let hint = CollectiveHint { ranks: Some(8), collective: Some(CollectiveKind::AllGather) };
        let Measurements::Collective { unverified_rows, .. } = parse_hccl(&t.replace("success", "NULL"), "h.txt", hint).unwrap() else {
            panic!()
        };
        assert_eq!(unverified_rows, 1);
        // A flag that contradicts the file's command line is an error naming that line.
        let e = hccl(HCCL, CollectiveHint { ranks: Some(8), collective: None }).unwrap_err();
        assert!(e.starts_with("h.txt:3:") && e.contains("-n 16"), "{e}");
        let e = hccl(HCCL, CollectiveHint { ranks: None, collective: Some(CollectiveKind::AllToAll) }).unwrap_err();
        assert!(e.starts_with("h.txt:3:") && e.contains("all_reduce_test"), "{e}");
    }

    #[test]
    fn a_malformed_hccl_row_names_its_line_and_field() {
        let lines: Vec<&str> = HCCL.lines().collect();
        let at = lines.iter().position(|l| l.starts_with("1048576 ")).unwrap();
        let edit = |f: &dyn Fn(&str) -> String| {
            let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            v[at] = f(lines[at]);
            hccl(&v.join("\n"), CollectiveHint::default()).unwrap_err()
        };
        let e = edit(&|l| l.replacen("160.38", "16O.38", 1));
        assert!(e.starts_with(&format!("h.txt:{}:", at + 1)) && e.contains("`aveg_time(us)`"), "{e}");
        let e = edit(&|l| l.rsplit_once('|').unwrap().0.to_string());
        assert!(e.starts_with(&format!("h.txt:{}:1", at + 1)) && e.contains("3 field(s)"), "{e}");
        let e = edit(&|l| l.replace("success", "failed"));
        assert!(e.starts_with(&format!("h.txt:{}:", at + 1)) && e.contains("`check_result`"), "{e}");
        let e = edit(&|l| l.replace("success", "maybe"));
        assert!(e.contains("allowed: success, failed, NULL"), "{e}");
        let e = edit(&|l| format!("rank id 3, check result failed, {l}"));
        assert!(e.starts_with(&format!("h.txt:{}:", at + 1)) && e.contains("check failed"), "{e}");
        // Column of the bad field: where `aveg_time`'s value starts.
        let e = edit(&|l| l.replacen("160.38", "-1", 1));
        let col = lines[at].find("160.38").unwrap() + 1;
        assert!(e.starts_with(&format!("h.txt:{}:{col}:", at + 1)), "{e}");
    }

    #[test]
    fn attention_rows_follow_flash_attentions_flop_convention_and_name_bad_fields() {
        let h = "batch,seq_len,heads,head_dim,causal,dtype,pass,tflops";
        let Measurements::Attention(r) =
            parse_attention(&format!("# FA2\n{h}\n2,4096,16,128,true,bf16,fwd,200\n2,4096,16,128,false,bf16,bwd,150\n"), "a.csv").unwrap()
        else {
            panic!()
        };
        let fwd_causal = 4.0 * 2.0 * 4096.0 * 4096.0 * 16.0 * 128.0 / 2.0;
        assert_eq!((r[0].line, r[0].flops()), (3, fwd_causal));
        assert!((r[0].time_s - fwd_causal / 200e12).abs() < 1e-15);
        assert_eq!(r[1].flops(), 2.0 * 2.5 * fwd_causal);
        for (row, col, what) in [
            ("2,4096,16,128,maybe,bf16,fwd,200", 5, "`causal`"),
            ("2,4096,16,128,true,fp8,fwd,200", 6, "`dtype`"),
            ("2,4096,16,128,true,bf16,sideways,200", 7, "`pass`"),
            ("2,4096,16,12.5,true,bf16,fwd,200", 4, "`head_dim`"),
            ("2,4096,16,128,true,bf16,fwd,-3", 8, "`tflops`"),
        ] {
            let e = parse_attention(&format!("{h}\n{row}\n"), "a.csv").unwrap_err().to_string();
            assert!(e.starts_with(&format!("a.csv:2:{col}:")) && e.contains(what) && e.contains("allowed"), "{e}");
        }
        let e = parse_attention("batch,seq_len,heads,head_dim,dtype,tflops\n1,1,1,1,bf16,1\n", "a.csv").unwrap_err().to_string();
        assert!(e.starts_with("a.csv:1:1") && e.contains("`causal`"), "{e}");
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
