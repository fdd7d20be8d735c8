//! Result tables: typed columns, CSV and JSON-lines rendering, chunk files that become visible
//! atomically, and the deterministic assembly of the final outputs.
//!
//! A row is a vector of cell texts, one per column; an empty cell is a missing number (`null` in JSON)
//! or an empty text (`""` in JSON, never `null`).
//! Integers are written as integers, floats always with a decimal point or an exponent (Rust's
//! shortest round-trip form: `1.0`, `0.1`, `5e12` is written `5000000000000.0`), so pandas and polars
//! infer the same type for every row. The JSON line of a row is a pure function of its cells and the
//! column types, so outputs assembled from chunks are byte-identical however the chunks were cut.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::WankaError;

/// Type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Int,
    Float,
    Str,
}

/// One column of the result table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Unit or meaning, for people reading the manifest.
    #[serde(default)]
    pub doc: String,
}

impl Column {
    pub fn new(name: &str, ty: ColumnType, doc: &str) -> Column {
        Column { name: name.into(), ty, doc: doc.into() }
    }
}

/// A float cell: shortest round-trip text with a decimal point or exponent; non-finite = empty.
pub fn float_cell(x: f64) -> String {
    if x.is_finite() { format!("{x:?}") } else { String::new() }
}

/// The CSV header line and rows.
pub fn render_csv(cols: &[Column], rows: &[&Vec<String>]) -> Result<Vec<u8>, WankaError> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let io = |e: csv::Error| WankaError::Io { path: "<csv>".into(), reason: e.to_string() };
    w.write_record(cols.iter().map(|c| c.name.as_str())).map_err(io)?;
    for r in rows {
        w.write_record(r.iter()).map_err(io)?;
    }
    w.into_inner().map_err(|e| WankaError::Io { path: "<csv>".into(), reason: e.to_string() })
}

/// One JSON object per row, keys in column order: numbers as numbers (`null` when missing), text as
/// strings (never `null`).
pub fn render_jsonl(cols: &[Column], rows: &[&Vec<String>]) -> String {
    let mut out = String::new();
    for r in rows {
        out.push('{');
        for (i, (c, v)) in cols.iter().zip(r.iter()).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(&c.name).expect("string"));
            out.push(':');
            if v.is_empty() && c.ty != ColumnType::Str {
                // A missing number is null; a text column is always a string ("" when empty: the
                // `error` of an ok point), so readers never infer a float or null column from it.
                out.push_str("null");
            } else {
                match c.ty {
                    ColumnType::Int | ColumnType::Float => out.push_str(v),
                    ColumnType::Str => out.push_str(&serde_json::to_string(v).expect("string")),
                }
            }
        }
        out.push_str("}\n");
    }
    out
}

/// Check one row against the column types (used when reading chunks written by another process).
fn check_row(cols: &[Column], row: &[String], file: &str) -> Result<(), WankaError> {
    let bad = |msg: String| Err(WankaError::Invalid { file: file.into(), field: "row".into(), msg });
    if row.len() != cols.len() {
        return bad(format!("{} cells, expected {}", row.len(), cols.len()));
    }
    for (c, v) in cols.iter().zip(row) {
        if v.is_empty() {
            continue;
        }
        let ok = match c.ty {
            ColumnType::Int => v.parse::<i64>().is_ok(),
            ColumnType::Float => v.parse::<f64>().is_ok_and(f64::is_finite) && (v.contains('.') || v.contains('e')),
            ColumnType::Str => true,
        };
        if !ok {
            return bad(format!("column `{}` holds `{v}`, not a {:?}", c.name, c.ty));
        }
    }
    Ok(())
}

/// Rows keyed by point index (the first column).
pub type Rows = BTreeMap<u64, Vec<String>>;

fn io_err(path: &Path, e: impl std::fmt::Display) -> WankaError {
    WankaError::Io { path: path.display().to_string(), reason: e.to_string() }
}

/// Write a file so that it is either complete or absent: temporary sibling, fsync, rename, fsync of
/// the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WankaError> {
    let target = writable_target(path)?;
    let path = target.as_path();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| write_err(&tmp, e))?;
    // A failed write (no space, file size limit) leaves neither the file nor the temporary behind.
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(&tmp);
        return Err(write_err(path, e));
    }
    drop(f);
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_err(path, e));
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> WankaError {
    WankaError::Write { path: path.display().to_string(), reason: e.to_string() }
}

/// Where a write to `path` lands: a symlink is followed to its target (the link stays a link); an
/// existing directory or special file (FIFO, socket, device) is refused, and so is a missing parent
/// directory. Nothing is created.
pub fn writable_target(path: &Path) -> Result<std::path::PathBuf, WankaError> {
    let refuse = |reason: &str| WankaError::Write { path: path.display().to_string(), reason: reason.to_string() };
    let mut target = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&target) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&target).map_err(|e| write_err(path, e))?;
                target = match target.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(m) if m.is_file() => return Ok(target),
            Ok(m) if m.is_dir() => return Err(refuse("is a directory")),
            Ok(_) => return Err(refuse("not a regular file (a FIFO, socket or device); refusing to replace it")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                return if dir.is_dir() { Ok(target) } else { Err(refuse(&format!("directory {} does not exist", dir.display()))) };
            }
            Err(e) => return Err(write_err(path, e)),
        }
    }
    Err(refuse("too many levels of symbolic links"))
}

/// Check before any work that `path` can be written: [`writable_target`], then a probe file created
/// and removed beside the target (permissions, read-only file systems).
pub fn check_writable(path: &Path) -> Result<(), WankaError> {
    let target = writable_target(path)?;
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let probe = dir.join(format!(".wanka-probe.{}.tmp", std::process::id()));
    std::fs::File::create(&probe).map_err(|e| write_err(path, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Read a CSV table written by [`render_csv`] with exactly these columns.
pub fn read_csv(path: &Path, cols: &[Column]) -> Result<Vec<Vec<String>>, WankaError> {
    let file = path.display().to_string();
    let mut r = csv::ReaderBuilder::new().has_headers(true).from_path(path).map_err(|e| io_err(path, e))?;
    let header: Vec<String> = r.headers().map_err(|e| io_err(path, e))?.iter().map(str::to_string).collect();
    let want: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    if header != want {
        return Err(WankaError::Invalid {
            file,
            field: "header".into(),
            msg: format!("columns {header:?} differ from this sweep's {want:?}: written by another sweep?"),
        });
    }
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| io_err(path, e))?;
        let row: Vec<String> = rec.iter().map(str::to_string).collect();
        check_row(cols, &row, &file)?;
        rows.push(row);
    }
    Ok(rows)
}

/// Add rows to a keyed set: a point seen twice must have identical cells.
pub fn insert_rows(into: &mut Rows, rows: Vec<Vec<String>>, source: &Path) -> Result<(), WankaError> {
    for row in rows {
        let point: u64 = row[0].parse().map_err(|_| io_err(source, format!("bad point index `{}`", row[0])))?;
        match into.get(&point) {
            Some(prev) if *prev != row => {
                return Err(io_err(source, format!("point {point} appears twice with different results")));
            }
            Some(_) => {}
            None => {
                into.insert(point, row);
            }
        }
    }
    Ok(())
}

/// The chunk directory of an output directory.
pub fn chunk_dir(out: &Path) -> PathBuf {
    out.join("chunks")
}

/// Chunk files present (complete ones only), in name order.
pub fn chunk_files(out: &Path) -> Result<Vec<PathBuf>, WankaError> {
    let dir = chunk_dir(out);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| io_err(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("part-") && n.ends_with(".csv")))
        .collect();
    files.sort();
    Ok(files)
}

/// Remove temporary files left by a killed writer.
pub fn remove_stale_temps(out: &Path) -> Result<usize, WankaError> {
    let mut n = 0;
    for dir in [out.to_path_buf(), chunk_dir(out)] {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp")) {
                std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Sequence number for the next chunk file.
pub fn next_chunk_seq(out: &Path) -> Result<u64, WankaError> {
    Ok(chunk_files(out)?
        .iter()
        .filter_map(|p| p.file_stem()?.to_str()?.strip_prefix("part-")?.parse::<u64>().ok())
        .max()
        .map_or(0, |m| m + 1))
}

/// Write one chunk atomically.
pub fn write_chunk(out: &Path, seq: u64, cols: &[Column], rows: &[Vec<String>]) -> Result<PathBuf, WankaError> {
    let dir = chunk_dir(out);
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    let path = dir.join(format!("part-{seq:06}.csv"));
    let refs: Vec<&Vec<String>> = rows.iter().collect();
    write_atomic(&path, &render_csv(cols, &refs)?)?;
    Ok(path)
}

/// Every row in the chunks of an output directory.
pub fn read_chunks(out: &Path, cols: &[Column]) -> Result<Rows, WankaError> {
    let mut rows = Rows::new();
    for f in chunk_files(out)? {
        let r = read_csv(&f, cols)?;
        insert_rows(&mut rows, r, &f)?;
    }
    Ok(rows)
}

/// Names of the final outputs.
pub const RESULTS_CSV: &str = "results.csv";
pub const RESULTS_JSONL: &str = "results.jsonl";
pub const MANIFEST: &str = "manifest.json";

/// Write `results.csv` and `results.jsonl` (sorted by point index), each atomically.
pub fn write_results(out: &Path, cols: &[Column], rows: &Rows) -> Result<Vec<PathBuf>, WankaError> {
    let sorted: Vec<&Vec<String>> = rows.values().collect();
    let csv_path = out.join(RESULTS_CSV);
    let jsonl_path = out.join(RESULTS_JSONL);
    write_atomic(&csv_path, &render_csv(cols, &sorted)?)?;
    write_atomic(&jsonl_path, render_jsonl(cols, &sorted).as_bytes())?;
    #[allow(unused_mut)]
    let mut written = vec![csv_path, jsonl_path];
    #[cfg(feature = "parquet")]
    {
        let pq = out.join("results.parquet");
        write_atomic(&pq, &super::parquet_out::render(cols, &sorted)?)?;
        written.push(pq);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_keep_their_type() {
        assert_eq!(float_cell(1.0), "1.0");
        assert_eq!(float_cell(5e12), "5000000000000.0");
        assert_eq!(float_cell(1e-7), "1e-7");
        assert_eq!(float_cell(f64::INFINITY), "");
        for x in [0.1, 1.0 / 3.0, 123456.789e10, 2.5e-8] {
            assert_eq!(float_cell(x).parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn jsonl_is_typed() {
        let cols = vec![
            Column::new("point", ColumnType::Int, ""),
            Column::new("status", ColumnType::Str, ""),
            Column::new("x_s", ColumnType::Float, ""),
        ];
        let r1 = vec!["0".to_string(), "ok".into(), "1.5".into()];
        let r2 = vec!["1".to_string(), "say \"hi\"".into(), "".into()];
        assert_eq!(
            render_jsonl(&cols, &[&r1, &r2]),
            "{\"point\":0,\"status\":\"ok\",\"x_s\":1.5}\n{\"point\":1,\"status\":\"say \\\"hi\\\"\",\"x_s\":null}\n"
        );
        let csv = String::from_utf8(render_csv(&cols, &[&r1, &r2]).unwrap()).unwrap();
        assert_eq!(csv, "point,status,x_s\n0,ok,1.5\n1,\"say \"\"hi\"\"\",\n");
    }
}
