//! RON reading with errors that name the file, line and column.

use serde::de::DeserializeOwned;
use std::path::Path;

use crate::error::WankaError;

/// Read a text file, mapping I/O errors to [`WankaError::Io`]. At most
/// [`crate::limits::MAX_INPUT_BYTES`] are read (`/dev/zero` or a runaway pipe is refused, not read
/// until memory runs out); a leading UTF-8 byte-order mark is skipped.
pub fn read_file(path: &Path) -> Result<String, WankaError> {
    use std::io::Read;
    let max = crate::limits::MAX_INPUT_BYTES;
    let err = |reason: String| WankaError::Io { path: path.display().to_string(), reason };
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(err("is a directory".into()));
    }
    let mut bytes = Vec::new();
    f.take(max + 1).read_to_end(&mut bytes).map_err(|e| err(e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(err(format!("larger than the {max}-byte limit of an input file")));
    }
    let text = String::from_utf8(bytes).map_err(|e| err(format!("not UTF-8 text ({e})")))?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Parse RON text; `file` names the source in errors.
pub fn parse_ron<T: DeserializeOwned>(src: &str, file: &str) -> Result<T, WankaError> {
    let opts = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    opts.from_str(src).map_err(|e: ron::error::SpannedError| WankaError::Parse {
        file: file.to_string(),
        line: e.span.start.line,
        col: e.span.start.col,
        msg: e.code.to_string(),
    })
}

/// Serialise to pretty RON (used when saving scenarios edited in the GUI).
pub fn to_ron_pretty<T: serde::Serialize>(v: &T) -> Result<String, WankaError> {
    ron::ser::to_string_pretty(v, ron::ser::PrettyConfig::default().struct_names(false)).map_err(|e| WankaError::Invalid {
        file: "<memory>".into(),
        field: "".into(),
        msg: e.to_string(),
    })
}
