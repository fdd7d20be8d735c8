//! `wanka sweep` and `wanka merge`: run a sweep's points in parallel into an output directory that
//! survives being killed at any moment, and combine the directories of shards.
//!
//! Output directory: `manifest.json` (what the table holds; written first), `chunks/part-NNNNNN.csv`
//! (rows in completion order, each file written to a temporary name, fsynced and renamed, so a chunk is
//! complete or absent), and at the end `results.csv` and `results.jsonl`, assembled from the chunks
//! sorted by point index (also atomically). `--resume` skips the points found in the chunks; a killed
//! run loses at most the rows not yet in a chunk, and they are recomputed identically.

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use rayon::prelude::*;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use wanka_sim::Catalog;
use wanka_sim::sweep::expect::{self, Outcome};
use wanka_sim::sweep::table::{self, Column, Rows};
use wanka_sim::sweep::{LoadOptions, Manifest, Point, Shard, Sweep};

#[derive(Args)]
pub struct SweepArgs {
    /// Sweep file (RON); see scenarios/sweeps/.
    pub file: PathBuf,
    /// Output directory: manifest.json, chunks/, results.csv, results.jsonl.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted sweep in --out: points already written are skipped.
    #[arg(long)]
    pub resume: bool,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only the points whose index is K modulo N (one task of a job array).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Write the expectations' outcome as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Monte Carlo seeds per point (overrides the sweep file's `seeds`; at least 1).
    #[arg(long, value_parser = crate::seeds_arg)]
    pub seeds: Option<u64>,
    /// Override a field of every point, after the file's `set`: PATH=VALUE with VALUE in RON
    /// (e.g. --set run.failures.multiplier=4). Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Rows per chunk file.
    #[arg(long, default_value_t = 64)]
    pub chunk_rows: usize,
    /// Also write a chunk when this many seconds passed since the last one.
    #[arg(long, default_value_t = 10.0)]
    pub flush_secs: f64,
    /// Check the sweep file and print its points; run nothing.
    #[arg(long)]
    pub check: bool,
    /// Report the expectations (and write --junit) but exit 0 when one fails: for the shards of a job
    /// array whose merge job is the gate.
    #[arg(long)]
    pub no_gate: bool,
}

#[derive(Args)]
pub struct MergeArgs {
    /// Output directories of `wanka sweep --shard K/N` (every shard of one sweep).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Directory for the combined outputs (the files a single run writes).
    #[arg(long)]
    pub out: PathBuf,
    /// Write the expectations' outcome as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Refuse shards that are not of this sweep file (with these --seeds/--set), e.g. stale results
    /// of an earlier run left on shared storage.
    #[arg(long, value_name = "FILE")]
    pub sweep: Option<PathBuf>,
    /// With --sweep: the `--seeds` the shards ran with.
    #[arg(long, value_parser = crate::seeds_arg, requires = "sweep")]
    pub seeds: Option<u64>,
    /// With --sweep: the `--set PATH=VALUE` overrides the shards ran with (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE", requires = "sweep")]
    pub set: Vec<String>,
}

/// `--set PATH=VALUE` arguments as (path, value) pairs.
fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for s in sets {
        let (k, v) = s.split_once('=').ok_or_else(|| anyhow!("--set `{s}`: expected PATH=VALUE"))?;
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(out)
}

pub fn sweep(a: SweepArgs, catalog: &Catalog, quiet: bool) -> Result<ExitCode> {
    let set = parse_sets(&a.set)?;
    anyhow::ensure!(a.chunk_rows > 0, "--chunk-rows must be at least 1");
    if let Some(t) = a.threads {
        wanka_sim::limits::threads(t)?;
    }
    anyhow::ensure!(a.flush_secs > 0.0 && a.flush_secs.is_finite(), "--flush-secs must be positive");
    if let Some(j) = &a.junit
        && j.parent().is_none_or(|d| d.as_os_str().is_empty() || d.is_dir())
    {
        table::check_writable(j)?;
    }
    if let Some(o) = a.out.as_ref().filter(|o| o.exists() && !o.is_dir()) {
        bail!("{}: cannot write: --out must be a directory", o.display());
    }
    let sw = Sweep::load(&a.file, catalog, &LoadOptions { set, seeds: a.seeds, max_points: None })?;
    let shard = a.shard.unwrap_or(Shard::ALL);
    let mine: Vec<&Point> = sw.points.iter().filter(|p| shard.contains(p.index)).collect();
    if a.check {
        out!("{}", header(&sw, shard, mine.len()));
        outln!("columns   {}", sw.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "));
        for p in mine.iter().take(20) {
            let inputs: Vec<String> = sw.axes.iter().zip(&p.inputs).map(|(ax, v)| format!("{}={v}", ax.path.text)).collect();
            outln!("  point {:>5}  seed {:>16}  {}", p.index, p.scenario.seed, inputs.join(", "));
        }
        if mine.len() > 20 {
            outln!("  … {} more", mine.len() - 20);
        }
        outln!("ok: {} points checked", sw.points.len());
        return Ok(ExitCode::SUCCESS);
    }
    let out = a.out.clone().ok_or_else(|| anyhow!("--out DIR is required (or --check to only check the file)"))?;
    let manifest = sw.manifest(shard);
    prepare_out(&out, &manifest, a.resume)?;
    let done = table::read_chunks(&out, &sw.columns)?;
    if let Some(p) = done.keys().find(|p| !shard.contains(**p) || **p >= sw.points.len() as u64) {
        bail!("{}: chunk rows hold point {p}, which is not in shard {shard} of this sweep", out.display());
    }
    let todo: Vec<&Point> = mine.iter().copied().filter(|p| !done.contains_key(&p.index)).collect();
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // More threads than points only costs memory and start-up.
    let threads = threads.min(todo.len().max(1));
    out!("{}", header(&sw, shard, mine.len()));
    let t0 = Instant::now();
    let writing = Writing { out: &out, chunk_rows: a.chunk_rows, flush: Duration::from_secs_f64(a.flush_secs) };
    run_points(&sw, &todo, catalog, threads, &writing, (done.len() as u64, mine.len() as u64, quiet))?;
    let elapsed = t0.elapsed().as_secs_f64();
    outln!(
        "ran       {} points in {elapsed:.1} s on {threads} thread{} ({:.1} points/s); {} already done",
        todo.len(),
        if threads == 1 { "" } else { "s" },
        todo.len() as f64 / elapsed.max(1e-9),
        done.len()
    );

    // The chunks on disk are the record: assemble from them.
    let rows = table::read_chunks(&out, &sw.columns)?;
    let missing: Vec<u64> = mine.iter().map(|p| p.index).filter(|i| !rows.contains_key(i)).collect();
    if !missing.is_empty() {
        bail!(
            "{}: {} points have no result (e.g. {:?}); run again with --resume",
            out.display(),
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
    let written = table::write_results(&out, &sw.columns, &rows)?;
    let code = finish(&sw.name, &sw.columns, &rows, &sw.expectations, &sw.axis_columns, &written, a.junit.as_deref())?;
    Ok(if a.no_gate { ExitCode::SUCCESS } else { code })
}

pub fn merge(a: MergeArgs, catalog: &Catalog) -> Result<ExitCode> {
    let expected = match &a.sweep {
        Some(f) => {
            let sw = Sweep::load(f, catalog, &LoadOptions { set: parse_sets(&a.set)?, seeds: a.seeds, max_points: None })?;
            Some((f.display().to_string(), sw.fingerprint))
        }
        None => None,
    };
    let mut first: Option<(PathBuf, Manifest)> = None;
    let mut rows = Rows::new();
    let mut seen_shards = Vec::new();
    for d in &a.dirs {
        let mpath = d.join(table::MANIFEST);
        let m = Manifest::load(&mpath).with_context(|| format!("{} is not a sweep output directory", d.display()))?;
        if let Some((f, fp)) = &expected
            && &m.fingerprint != fp
        {
            bail!(
                "{} holds results of another sweep (fingerprint {}) than {f} ({fp}): stale results of an earlier run? \
                 Use a fresh output directory",
                d.display(),
                m.fingerprint
            );
        }
        if let Some((fdir, f)) = &first {
            if m.fingerprint != f.fingerprint || m.columns != f.columns || m.format != f.format {
                bail!(
                    "{} holds another sweep than {} (fingerprint {} vs {}): merge outputs of one sweep file",
                    d.display(),
                    fdir.display(),
                    m.fingerprint,
                    f.fingerprint
                );
            }
        } else {
            first = Some((d.clone(), m.clone()));
        }
        let shard = m.shard();
        let results = d.join(table::RESULTS_CSV);
        if !results.exists() {
            bail!("{}: shard {shard} has not finished (no {}); run its `wanka sweep … --resume` again", d.display(), table::RESULTS_CSV);
        }
        let r = table::read_csv(&results, &m.columns)?;
        if let Some(bad) = r.iter().find(|row| row[0].parse::<u64>().map_or(true, |p| !shard.contains(p) || p >= m.points)) {
            bail!("{}: row of point {} does not belong to shard {shard}", results.display(), bad[0]);
        }
        table::insert_rows(&mut rows, r, &results)?;
        seen_shards.push(shard);
    }
    let (_, m) = first.expect("clap requires at least one directory");
    let missing: Vec<u64> = (0..m.points).filter(|i| !rows.contains_key(i)).collect();
    if !missing.is_empty() {
        let count = seen_shards.first().map_or(1, |s| s.count);
        let absent: Vec<String> =
            (0..count).filter(|k| !seen_shards.iter().any(|s| s.index == *k && s.count == count)).map(|k| format!("{k}/{count}")).collect();
        bail!(
            "{} of {} points missing (e.g. {:?}){}",
            missing.len(),
            m.points,
            &missing[..missing.len().min(5)],
            if absent.is_empty() { String::new() } else { format!("; shards not given: {}", absent.join(", ")) }
        );
    }
    let mut merged = m.clone();
    merged.shard = None;
    prepare_out(&a.out, &merged, true)?;
    let written = table::write_results(&a.out, &merged.columns, &rows)?;
    outln!("merged    {} directories: {} points of sweep {} ({})", a.dirs.len(), rows.len(), merged.name, merged.fingerprint);
    let (exps, axis_cols) = merged.expectations(&a.out.join(table::MANIFEST).display().to_string())?;
    finish(&merged.name, &merged.columns, &rows, &exps, &axis_cols, &written, a.junit.as_deref())
}

fn header(sw: &Sweep, shard: Shard, mine: usize) -> String {
    let mut s = format!(
        "sweep     {}: {} points ({}) x {} seeds; base {}\n",
        sw.name,
        sw.points.len(),
        match &sw.sampling {
            wanka_sim::sweep::Sampling::Grid => "grid".to_string(),
            wanka_sim::sweep::Sampling::Random { n, seed } => format!("random, n {n}, seed {seed}"),
            wanka_sim::sweep::Sampling::LatinHypercube { n, seed } => format!("Latin hypercube, n {n}, seed {seed}"),
        },
        sw.seeds,
        sw.base
    );
    if shard != Shard::ALL {
        s.push_str(&format!("shard     {shard}: {mine} points\n"));
    }
    s
}

/// Create the output directory and its manifest, or check that it holds this sweep.
fn prepare_out(out: &Path, manifest: &Manifest, resume: bool) -> Result<()> {
    let mpath = out.join(table::MANIFEST);
    if mpath.exists() {
        let old = Manifest::load(&mpath)?;
        if old.fingerprint != manifest.fingerprint || old.shard != manifest.shard || old.format != manifest.format {
            bail!(
                "{} holds results of another sweep or shard (fingerprint {}, shard {}); this is {} shard {}: use another --out, or delete it",
                out.display(),
                old.fingerprint,
                old.shard.as_deref().unwrap_or("all"),
                manifest.fingerprint,
                manifest.shard.as_deref().unwrap_or("all")
            );
        }
        let has_results = !table::chunk_files(out)?.is_empty() || out.join(table::RESULTS_CSV).exists();
        if !resume && has_results {
            bail!("{} already holds results of this sweep: pass --resume to continue it, or use another --out", out.display());
        }
        table::remove_stale_temps(out)?;
    } else if out.exists() && std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false) {
        bail!("{} is not empty and holds no sweep ({} missing): use an empty or new directory", out.display(), table::MANIFEST);
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    table::write_atomic(&mpath, manifest.to_json().as_bytes())?;
    Ok(())
}

/// Where and how often finished rows are written: chunks of `chunk_rows`, or after `flush`.
struct Writing<'a> {
    out: &'a Path,
    chunk_rows: usize,
    flush: Duration,
}

/// Simulate `todo` on `threads` threads, writing rows as they finish; `progress` is (points already
/// done, points of this shard) for the progress bar.
fn run_points(sw: &Sweep, todo: &[&Point], catalog: &Catalog, threads: usize, writing: &Writing, progress: (u64, u64, bool)) -> Result<()> {
    let Writing { out, chunk_rows, flush } = *writing;
    let (already, total, quiet) = progress;
    if todo.is_empty() {
        return Ok(());
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let (tx, rx) = channel::<Vec<String>>();
    let mut seq = table::next_chunk_seq(out)?;
    let cols: &[Column] = &sw.columns;
    let mut progress = Progress::new(&sw.name, already, total, quiet);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<()> {
            let mut buf: Vec<Vec<String>> = Vec::new();
            let mut last = Instant::now();
            loop {
                let msg = rx.recv_timeout(Duration::from_millis(100));
                let closed = matches!(msg, Err(RecvTimeoutError::Disconnected));
                if let Ok(row) = msg {
                    buf.push(row);
                    progress.inc();
                }
                while let Ok(row) = rx.try_recv() {
                    buf.push(row);
                    progress.inc();
                }
                if !buf.is_empty() && (buf.len() >= chunk_rows || last.elapsed() >= flush || closed) {
                    for part in buf.chunks(chunk_rows) {
                        table::write_chunk(out, seq, cols, part)?;
                        seq += 1;
                    }
                    buf.clear();
                    last = Instant::now();
                }
                progress.tick();
                if closed {
                    progress.finish();
                    return Ok(());
                }
            }
        });
        let sent = pool.install(|| {
            todo.par_iter().try_for_each_with(tx, |tx, p| {
                let row = sw.evaluate(p, catalog);
                tx.send(row).map_err(|_| ())
            })
        });
        let written = writer.join().map_err(|_| anyhow!("the chunk writer panicked"))?;
        written?;
        sent.map_err(|_| anyhow!("the chunk writer stopped early"))
    })
}

/// Progress: a bar on a terminal, plain periodic lines otherwise (or when `CI` is set), nothing with
/// `--quiet`.
struct Progress {
    quiet: bool,
    bar: Option<indicatif::ProgressBar>,
    name: String,
    done: u64,
    total: u64,
    start: Instant,
    ran: u64,
    last_line: Instant,
}

impl Progress {
    const EVERY: Duration = Duration::from_secs(10);

    fn new(name: &str, already: u64, total: u64, quiet: bool) -> Progress {
        let tty = !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} points ({per_sec}, ETA {eta})",
                )
                .expect("valid template"),
            );
            b.set_prefix(name.to_string());
            b.set_position(already);
            b
        });
        if bar.is_none() && !quiet {
            errln!("sweep {name}: {already}/{total} points done, {} to run", total - already);
        }
        Progress { quiet, bar, name: name.into(), done: already, total, start: Instant::now(), ran: 0, last_line: Instant::now() }
    }

    fn inc(&mut self) {
        self.done += 1;
        self.ran += 1;
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    fn line(&self) {
        let secs = self.start.elapsed().as_secs_f64();
        let rate = self.ran as f64 / secs.max(1e-9);
        let eta = if rate > 0.0 { (self.total - self.done) as f64 / rate } else { f64::NAN };
        errln!(
            "sweep {}: {}/{} points ({:.1}%), {rate:.1} points/s, elapsed {secs:.0} s, ETA {eta:.0} s",
            self.name,
            self.done,
            self.total,
            100.0 * self.done as f64 / self.total.max(1) as f64
        );
    }

    fn tick(&mut self) {
        if self.bar.is_none() && !self.quiet && self.last_line.elapsed() >= Self::EVERY {
            self.line();
            self.last_line = Instant::now();
        }
    }

    fn finish(&mut self) {
        match &self.bar {
            Some(b) => b.finish_and_clear(),
            None if !self.quiet => self.line(),
            None => {}
        }
    }
}

/// Report statuses and outputs, evaluate the expectations, write JUnit; exit 1 when one fails.
fn finish(
    name: &str,
    cols: &[Column],
    rows: &Rows,
    exps: &[expect::Expectation],
    axis_cols: &[usize],
    written: &[PathBuf],
    junit: Option<&Path>,
) -> Result<ExitCode> {
    let status = cols.iter().position(|c| c.name == "status").expect("status column");
    let count = |s: &str| rows.values().filter(|r| r[status] == s).count();
    outln!("status    {} ok, {} infeasible, {} error", count("ok"), count("infeasible"), count("error"));
    outln!("results   {}", written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    let sorted: Vec<&Vec<String>> = rows.values().collect();
    let outcomes: Vec<Outcome> = expect::evaluate(exps, cols, axis_cols, &sorted);
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.passed).collect();
    if !exps.is_empty() {
        outln!(
            "expect    {} expectation{} on {} point checks: {} passed, {} failed",
            exps.len(),
            if exps.len() == 1 { "" } else { "s" },
            outcomes.len(),
            outcomes.len() - failed.len(),
            failed.len()
        );
    }
    for o in failed.iter().take(20) {
        outln!("  FAIL  point {} ({}): {}: {}", o.point, o.inputs, o.expectation, o.message);
    }
    if failed.len() > 20 {
        outln!("  … {} more failures (see --junit)", failed.len() - 20);
    }
    if let Some(j) = junit {
        if let Some(dir) = j.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        table::write_atomic(j, expect::junit_xml(name, &outcomes).as_bytes())?;
        outln!("junit     {}", j.display());
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
