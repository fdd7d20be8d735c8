//! Case files as CSV: rows with named access whose errors name file, line and column, the header
//! check, and the settings file (`<stem>.settings.csv`) that fills columns a published file leaves out.

use std::collections::HashMap;
use std::path::Path;

use super::SETTING_COLUMNS;
use crate::error::WankaError;

/// A CSV row with named access and errors that name file, line and column. Settings from a settings
/// file fill columns the row leaves blank.
pub(crate) struct Row<'a> {
    pub file: &'a str,
    pub line: usize,
    pub cols: &'a HashMap<String, usize>,
    pub rec: &'a csv::StringRecord,
    pub settings: Option<&'a HashMap<String, String>>,
}

impl Row<'_> {
    pub fn raw(&self, col: &str) -> &str {
        let own = self.cols.get(col).and_then(|i| self.rec.get(*i)).map_or("", str::trim);
        if own.is_empty()
            && let Some(v) = self.settings.and_then(|s| s.get(col))
        {
            return v.as_str();
        }
        own
    }
    pub(crate) fn err(&self, col: &str, msg: String) -> WankaError {
        WankaError::Parse {
            file: self.file.to_string(),
            line: self.line,
            col: self.cols.get(col).map_or(0, |i| i + 1),
            msg: format!("column `{col}`: {msg}"),
        }
    }
    pub fn opt<T: std::str::FromStr>(&self, col: &str, what: &str) -> Result<Option<T>, WankaError> {
        let v = self.raw(col);
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<T>().map(Some).map_err(|_| self.err(col, format!("`{v}` is not {what}")))
    }
    pub fn req<T: std::str::FromStr>(&self, col: &str, what: &str) -> Result<T, WankaError> {
        self.opt(col, what)?.ok_or_else(|| self.err(col, format!("is required ({what})")))
    }
    pub fn positive(&self, col: &str) -> Result<f64, WankaError> {
        let v: f64 = self.req(col, "a number")?;
        if v > 0.0 && v.is_finite() { Ok(v) } else { Err(self.err(col, format!("must be positive, got {v}"))) }
    }
    pub fn choice<T: Copy>(&self, col: &str, options: &[(&str, T)], blank: Option<T>) -> Result<Option<T>, WankaError> {
        let v = self.raw(col).to_lowercase();
        if v.is_empty() {
            return Ok(blank);
        }
        options.iter().find(|(k, _)| *k == v).map(|(_, t)| Some(*t)).ok_or_else(|| {
            let allowed: Vec<&str> = options.iter().map(|(k, _)| *k).collect();
            self.err(col, format!("`{v}` is not one of {}", allowed.join(", ")))
        })
    }
}

/// Older column names read as the vocabulary's (docs/OUTPUTS.md): the shared validation data spells
/// the scenario's `sequence_parallel` as `seq_parallel`, so the case files may carry either.
pub(crate) const COLUMN_ALIASES: &[(&str, &str)] = &[("seq_parallel", "sequence_parallel")];

/// Parse CSV text into records with a header check.
pub(crate) fn csv_records(
    text: &str,
    file: &str,
    required: &[&str],
) -> Result<(HashMap<String, usize>, Vec<csv::StringRecord>), WankaError> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| WankaError::Parse { file: file.into(), line: 1, col: 1, msg: e.to_string() })?.clone();
    let mut cols: HashMap<String, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        let name = COLUMN_ALIASES.iter().find(|(old, _)| *old == h).map_or(h, |(_, new)| *new);
        if let Some(j) = cols.insert(name.to_string(), i) {
            let first = headers.get(j).map_or("", str::trim);
            let msg = if first == h {
                format!("column `{h}` twice")
            } else {
                format!("columns `{first}` and `{h}` are both `{name}` (under its older and its current name): give one")
            };
            return Err(WankaError::Parse { file: file.into(), line: 1, col: i + 1, msg });
        }
    }
    let missing: Vec<&str> = required.iter().copied().filter(|c| !cols.contains_key(*c)).collect();
    if !missing.is_empty() {
        return Err(WankaError::Parse { file: file.into(), line: 1, col: 1, msg: format!("missing columns: {}", missing.join(", ")) });
    }
    let mut recs = Vec::new();
    for rec in rdr.records() {
        recs.push(rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            WankaError::Parse { file: file.into(), line, col: 1, msg: e.to_string() }
        })?);
    }
    if recs.is_empty() {
        return Err(WankaError::Parse { file: file.into(), line: 1, col: 1, msg: "no cases after the header".into() });
    }
    Ok((cols, recs))
}

/// Read CSV records with a header check; calls `f` for each row.
pub(crate) fn read_rows<T>(path: &Path, required: &[&str], mut f: impl FnMut(&Row) -> Result<T, WankaError>) -> Result<Vec<T>, WankaError> {
    let file = path.display().to_string();
    let text = crate::ron_util::read_file(path)?;
    let (cols, recs) = csv_records(&text, &file, required)?;
    recs.iter()
        .map(|rec| {
            let line = rec.position().map_or(0, |p| p.line() as usize);
            f(&Row { file: &file, line, cols: &cols, rec, settings: None })
        })
        .collect()
}

/// The settings file beside a case file: `<stem>.settings.csv`.
pub fn settings_path(path: &Path) -> std::path::PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{stem}.settings.csv"))
}

/// Read a settings file: per case id, the setting columns it gives (non-blank cells only).
pub(crate) fn read_settings(path: &Path) -> Result<HashMap<String, HashMap<String, String>>, WankaError> {
    let file = path.display().to_string();
    let text = crate::ron_util::read_file(path)?;
    let (cols, recs) = csv_records(&text, &file, &["id"])?;
    let mut out = HashMap::new();
    for rec in &recs {
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let mut row = HashMap::new();
        for (name, &i) in &cols {
            let v = rec.get(i).map_or("", str::trim);
            if name == "id" || name == "notes" || v.is_empty() {
                continue;
            }
            if !SETTING_COLUMNS.contains(&name.as_str()) {
                return Err(WankaError::Parse {
                    file,
                    line: 1,
                    col: i + 1,
                    msg: format!("`{name}` is not a setting column; allowed: id, notes, {}", SETTING_COLUMNS.join(", ")),
                });
            }
            row.insert(name.clone(), v.to_string());
        }
        let id = rec.get(cols["id"]).map_or("", str::trim).to_string();
        if out.insert(id.clone(), row).is_some() {
            return Err(WankaError::Parse { file, line, col: 1, msg: format!("case `{id}` appears twice") });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_column_name_reads_as_the_vocabularys() {
        let (old, _) = csv_records("id,seq_parallel\na,true\n", "old.csv", &["id", "sequence_parallel"]).unwrap();
        let (new, _) = csv_records("id,sequence_parallel\na,true\n", "new.csv", &["id", "sequence_parallel"]).unwrap();
        assert_eq!(old, new);
        let both = csv_records("id,seq_parallel,sequence_parallel\na,true,true\n", "both.csv", &["id"]).unwrap_err().to_string();
        assert!(both.contains("columns `seq_parallel` and `sequence_parallel` are both `sequence_parallel`"), "{both}");
        let twice = csv_records("id,id\na,b\n", "twice.csv", &["id"]).unwrap_err().to_string();
        assert!(twice.contains("column `id` twice"), "{twice}");
        let missing = csv_records("id\na\n", "missing.csv", &["id", "sequence_parallel"]).unwrap_err().to_string();
        assert!(missing.contains("missing columns: sequence_parallel"), "{missing}");
    }
}
