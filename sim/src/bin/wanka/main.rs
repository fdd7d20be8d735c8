//! `wanka`: the command-line front end. A thin shell over `wanka_sim`: parse flags, call the library,
//! print, map errors to exit codes (1 = failed check, 2 = bad input).

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use wanka_sim::Catalog;

/// `print!` through [`emit`]: a closed pipe ends output quietly, any other write error is an error.
macro_rules! out {
    ($($t:tt)*) => { $crate::emit(&format!($($t)*)) };
}
/// `println!` through [`emit`].
macro_rules! outln {
    ($($t:tt)*) => { $crate::emit(&format!("{}\n", format_args!($($t)*))) };
}

mod report;
mod sweep_cmd;

#[derive(Parser)]
#[command(name = "wanka", version, about = "wanka (万卡): plan GPU/accelerator clusters for large-model training")]
struct Cli {
    /// Read the catalog from this directory (chips.ron, fabrics.ron) instead of the built-in one.
    #[arg(long, global = true)]
    catalog_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Compare candidate clusters of a plan: parallelism search, training run, cost and energy.
    Compare {
        /// Plan file (RON); default: the bundled scenarios/default_plan.ron.
        plan: Option<PathBuf>,
        /// Print one JSON object (`candidates` holds one ranked entry per candidate).
        #[arg(long)]
        json: bool,
        /// Also write the ranked table as CSV to this file.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Monte Carlo seeds per candidate (overrides the plan's settings).
        #[arg(long)]
        seeds: Option<u64>,
    },
    /// Simulate one training step of a scenario: step time, MFU, breakdown, memory.
    Step {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Print one JSON object instead of the report.
        #[arg(long)]
        json: bool,
    },
    /// Simulate the whole training run with failures, checkpoints and restarts (Monte Carlo).
    Run {
        /// Scenario file (RON); default: the bundled scenarios/default.ron.
        scenario: Option<PathBuf>,
        /// Monte Carlo seeds (independent runs).
        #[arg(long, default_value_t = 200)]
        seeds: u64,
        /// Print one JSON object instead of the report.
        #[arg(long)]
        json: bool,
        /// Write the event log of the first seed's run as JSON lines.
        #[arg(long)]
        events: Option<PathBuf>,
    },
    /// Run a sweep file: many variants of a scenario in parallel, as one table (CSV, JSON lines);
    /// resumable, shardable, a CI gate with expectations (exit 1 when one fails).
    Sweep(sweep_cmd::SweepArgs),
    /// Combine the output directories of a sweep's shards into the outputs of a single run.
    Merge(sweep_cmd::MergeArgs),
    /// List the chips, fabrics and topologies of the catalog.
    Catalog {
        #[arg(long)]
        json: bool,
    },
    /// Compare predictions with published runs in a case file (step or reliability layout).
    Validate {
        /// Case file (CSV) in the layout of scenarios/validation/README.md.
        cases: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Fit each chip family's GEMM ceilings (BF16/FP16, then FP8) to step cases and print the fitted
    /// values beside the catalog's, with in-sample and leave-one-out errors.
    Calibrate {
        /// Step-case files (CSV, validation layout).
        #[arg(required = true)]
        cases: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Also write the leave-one-out accuracy table (per family and stack) to this CSV file, as
        /// `scenarios/validation/accuracy.csv` is made.
        #[arg(long)]
        write_accuracy: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn load_catalog(dir: &Option<PathBuf>) -> Result<Catalog> {
    Ok(match dir {
        Some(d) => Catalog::load_dir(d)?,
        None => Catalog::builtin().clone(),
    })
}

/// A bundled file under `scenarios/`, relative to the current directory or else to the repository.
fn bundled(name: &str) -> PathBuf {
    let here = PathBuf::from("scenarios").join(name);
    if here.exists() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)
}

fn default_scenario() -> PathBuf {
    bundled("default.ron")
}

fn run(cli: Cli) -> Result<ExitCode> {
    let catalog = load_catalog(&cli.catalog_dir)?;
    let command = cli.command.unwrap_or(Command::Compare { plan: None, json: false, csv: None, seeds: None });
    match command {
        Command::Compare { plan, json, csv, seeds } => {
            let path = plan.unwrap_or_else(|| bundled("default_plan.ron"));
            let name = path.display().to_string();
            let mut p = wanka_sim::planning::plan_file::PlanFile::load(&path)?;
            if let Some(n) = seeds {
                p.settings.seeds = wanka_sim::limits::seeds("command line", "--seeds", n)?;
            }
            if let Some(f) = &csv {
                check_writable(f)?;
            }
            let t0 = std::time::Instant::now();
            let c = p.compare(&catalog, &name)?;
            let elapsed = t0.elapsed().as_secs_f64();
            if let Some(f) = csv {
                write_atomic(&f, report::compare_csv(&c)?.as_bytes())?;
            }
            if json {
                let v = serde_json::to_value(&c)?;
                emit(&format!("{}\n", serde_json::to_string_pretty(&v)?));
            } else {
                emit(&report::compare_text(&c, elapsed));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Step { scenario, json } => {
            let s = wanka_sim::Scenario::load(&scenario)?;
            let r = s.simulate_step(&catalog, &scenario.display().to_string())?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&report::step_json(&s, &r))?));
            } else {
                emit(&report::step_text(&s, &r, &catalog));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { scenario, seeds, json, events } => {
            let path = scenario.unwrap_or_else(default_scenario);
            let name = path.display().to_string();
            wanka_sim::limits::seeds("command line", "--seeds", seeds)?;
            if let Some(ev) = &events {
                check_writable(ev)?;
            }
            let s = wanka_sim::Scenario::load(&path)?;
            let r = s.simulate_run(&catalog, &name, seeds)?;
            if let Some(ev) = events {
                let log = s.run_event_log(&catalog, &name)?;
                let mut text = String::new();
                for e in &log {
                    text.push_str(&serde_json::to_string(e)?);
                    text.push('\n');
                }
                write_atomic(&ev, text.as_bytes())?;
            }
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&report::run_json(&r))?));
            } else {
                emit(&report::run_text(&r));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep(args) => sweep_cmd::sweep(args, &catalog),
        Command::Merge(args) => sweep_cmd::merge(args),
        Command::Catalog { json } => {
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&report::catalog_json(&catalog))?));
            } else {
                emit(&report::catalog_text(&catalog));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Calibrate { cases, json, write_accuracy } => {
            if let Some(f) = &write_accuracy {
                check_writable(f)?;
            }
            let mut all = Vec::new();
            for f in &cases {
                all.extend(wanka_sim::validate::read_step_cases(f)?);
            }
            let fits = wanka_sim::validate::calibrate::fit_all(&all, &catalog);
            if let Some(f) = write_accuracy {
                let rows = wanka_sim::step::accuracy::rows_from_errors(fits.iter().flat_map(|f| f.loo_errors()));
                write_atomic(&f, wanka_sim::step::accuracy::to_csv(&rows).as_bytes())?;
            }
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&fits)?));
            } else {
                emit(&report::calibration_text(&fits));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { cases, json } => {
            let kind = wanka_sim::validate::case_kind(&cases)?;
            match kind {
                wanka_sim::validate::CaseKind::Step => {
                    let r = wanka_sim::validate::validate_steps(&cases, &catalog)?;
                    if json {
                        emit(&format!("{}\n", serde_json::to_string_pretty(&r)?));
                    } else {
                        emit(&report::validation_text(&r));
                    }
                    Ok(ExitCode::SUCCESS)
                }
                wanka_sim::validate::CaseKind::Reliability => {
                    let r = wanka_sim::validate::validate_reliability(&cases, wanka_sim::validate::RELIABILITY_SEEDS)?;
                    if json {
                        emit(&format!("{}\n", serde_json::to_string_pretty(&r)?));
                    } else {
                        emit(&report::reliability_text(&r));
                    }
                    Ok(if r.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
                }
            }
        }
    }
}

/// Write a file so that it is either complete or absent: the library's `write_atomic` (temporary
/// sibling, fsync, rename, fsync of the directory), its error as `path: reason`.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    Ok(wanka_sim::sweep::table::write_atomic(path, bytes)?)
}

/// Refuse an output path before the work starts (see `wanka_sim::sweep::table::check_writable`).
fn check_writable(path: &std::path::Path) -> Result<()> {
    Ok(wanka_sim::sweep::table::check_writable(path)?)
}

/// Write to stdout; a closed pipe (`wanka … | head`) ends output quietly instead of panicking.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: writing output: {e}");
        std::process::exit(2);
    }
}
