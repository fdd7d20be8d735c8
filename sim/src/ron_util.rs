//! RON reading with errors that name the file, line and column.

use serde::de::DeserializeOwned;
use std::path::Path;

use crate::error::WankaError;

/// Read a text file, mapping I/O errors to [`WankaError::Io`].
pub fn read_file(path: &Path) -> Result<String, WankaError> {
    std::fs::read_to_string(path).map_err(|e| WankaError::Io { path: path.display().to_string(), reason: e.to_string() })
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
