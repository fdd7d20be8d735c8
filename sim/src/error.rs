//! Errors: every failure names the file, the field (or line/column) and what is allowed.
//! Library code never panics on user input; it returns a [`WankaError`].

use thiserror::Error;

#[derive(Debug, Error)]
pub enum WankaError {
    #[error("{path}: cannot read: {reason}")]
    Io { path: String, reason: String },
    #[error("{file}:{line}:{col}: {msg}")]
    Parse { file: String, line: usize, col: usize, msg: String },
    #[error("{file}: field `{field}`: {msg}")]
    Invalid { file: String, field: String, msg: String },
    #[error("unknown {kind} `{id}`; closest catalog ids: {}", closest.join(", "))]
    Unknown { kind: &'static str, id: String, closest: Vec<String> },
    #[error("infeasible plan: {}", reasons.join("; "))]
    Infeasible { reasons: Vec<String> },
    /// The caller cancelled the computation ([`crate::cancel::Cancel`]).
    #[error("cancelled")]
    Cancelled,
}

impl WankaError {
    /// Prefix an `Unknown` or `Infeasible` error with the file and field it came from.
    pub fn in_field(self, file: &str, field: &str) -> WankaError {
        match self {
            WankaError::Unknown { .. } | WankaError::Infeasible { .. } => {
                WankaError::Invalid { file: file.to_string(), field: field.to_string(), msg: self.to_string() }
            }
            other => other,
        }
    }
}

/// Levenshtein distance (small strings only: catalog ids).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The (up to) three ids closest to `id`, nearest first; ties broken alphabetically.
pub fn closest_ids<'a>(id: &str, ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let lower = id.to_lowercase();
    let mut scored: Vec<(usize, &String)> = ids
        .map(|c| {
            let d = edit_distance(&lower, &c.to_lowercase());
            // An id that contains the query (or vice versa) is a strong hint.
            let bonus = if c.contains(&lower) || lower.contains(c.as_str()) { 0 } else { 2 };
            (d + bonus, c)
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        let ids = ["h100-sxm".to_string(), "h800-sxm".to_string(), "a100-sxm-80gb".to_string()];
        assert_eq!(closest_ids("h100", ids.iter())[0], "h100-sxm");
    }
}
