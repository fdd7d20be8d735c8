//! Field paths into a scenario's serde value: `cluster.gpus`, `run.failures.multiplier`,
//! `run.failures.overrides[0].rate_per_unit_hour`, `run.checkpoint.interval.Fixed.minutes`.
//!
//! Paths address the JSON form of the value (serde's externally tagged enums: a variant with fields is
//! an object with one key, the variant's name). Every field of a scenario is serialised, so a path that
//! is not found names a field that does not exist.

use serde_json::Value;

use crate::error::closest_ids;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A parsed field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    pub text: String,
    segs: Vec<Seg>,
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let mut segs = Vec::new();
        if text.trim().is_empty() {
            return Err("empty field path".into());
        }
        for part in text.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if name.is_empty() && rest.is_empty() {
                return Err(format!("field path `{text}` has an empty part"));
            }
            if !name.is_empty() {
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("field path `{text}`: `{name}` is not a field name"));
                }
                match name.parse::<usize>() {
                    Ok(i) => segs.push(Seg::Index(i)),
                    Err(_) => segs.push(Seg::Key(name.to_string())),
                }
            }
            while !rest.is_empty() {
                let close = rest.find(']').ok_or_else(|| format!("field path `{text}`: missing `]`"))?;
                let idx =
                    rest[1..close].trim().parse::<usize>().map_err(|_| format!("field path `{text}`: bad index `{}`", &rest[..=close]))?;
                segs.push(Seg::Index(idx));
                rest = &rest[close + 1..];
                if !rest.is_empty() && !rest.starts_with('[') {
                    return Err(format!("field path `{text}`: unexpected `{rest}`"));
                }
            }
        }
        Ok(FieldPath { text: text.to_string(), segs })
    }

    fn prefix(&self, n: usize) -> String {
        let mut s = String::new();
        for seg in &self.segs[..n] {
            match seg {
                Seg::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        if s.is_empty() { "the top level".into() } else { format!("`{s}`") }
    }

    /// Replace the value at this path; the path must exist in `root`.
    pub fn set(&self, root: &mut Value, value: Value) -> Result<(), String> {
        let slot = self.locate(root)?;
        *slot = value;
        Ok(())
    }

    /// The value at this path.
    pub fn get<'v>(&self, root: &'v mut Value) -> Result<&'v mut Value, String> {
        self.locate(root)
    }

    fn locate<'v>(&self, root: &'v mut Value) -> Result<&'v mut Value, String> {
        let mut cur = root;
        for (n, seg) in self.segs.iter().enumerate() {
            let here = self.prefix(n);
            cur = match (seg, cur) {
                (Seg::Key(k), Value::Object(m)) => {
                    if !m.contains_key(k) {
                        let keys: Vec<String> = m.keys().cloned().collect();
                        let variant = keys.len() == 1 && keys[0].starts_with(|c: char| c.is_ascii_uppercase());
                        let hint = if variant {
                            format!(
                                "; {here} is the enum variant `{}` in the base: address its fields as `{}.{}.…`, or set {here} as a whole",
                                keys[0],
                                self.prefix(n).trim_matches('`'),
                                keys[0]
                            )
                        } else {
                            format!("; closest: {}", closest_ids(k, keys.iter()).join(", "))
                        };
                        return Err(format!("unknown field `{k}` in {here}{hint}"));
                    }
                    m.get_mut(k).expect("checked")
                }
                (Seg::Index(i), Value::Array(a)) => {
                    let len = a.len();
                    a.get_mut(*i).ok_or_else(|| format!("index [{i}] is out of range: {here} has {len} elements"))?
                }
                (seg, Value::Null) => {
                    let what = match seg {
                        Seg::Key(k) => format!("field `{k}`"),
                        Seg::Index(i) => format!("element [{i}]"),
                    };
                    return Err(format!("{here} is None (absent) in the base, so it has no {what}; set {here} as a whole instead"));
                }
                (Seg::Key(k), other) => {
                    return Err(format!(
                        "{here} is `{}` in the base, which has no field `{k}`; set {here} as a whole instead",
                        short(other)
                    ));
                }
                (Seg::Index(i), other) => {
                    return Err(format!("{here} is `{}` in the base, not a list, so it has no element [{i}]", short(other)));
                }
            };
        }
        Ok(cur)
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_set_and_explain() {
        let mut v = json!({"cluster": {"gpus": 8}, "run": {"checkpoint": {"interval": {"Fixed": {"minutes": 30}}}, "maintenance": null, "o": [{"a": 1}]}});
        FieldPath::parse("cluster.gpus").unwrap().set(&mut v, json!(16)).unwrap();
        assert_eq!(v["cluster"]["gpus"], 16);
        FieldPath::parse("run.o[0].a").unwrap().set(&mut v, json!(2)).unwrap();
        assert_eq!(v["run"]["o"][0]["a"], 2);
        FieldPath::parse("run.checkpoint.interval.Fixed.minutes").unwrap().set(&mut v, json!(5)).unwrap();
        let e = FieldPath::parse("cluster.gpuz").unwrap().set(&mut v, json!(1)).unwrap_err();
        assert!(e.contains("unknown field `gpuz` in `cluster`") && e.contains("gpus"), "{e}");
        let e = FieldPath::parse("run.checkpoint.interval.minutes").unwrap().set(&mut v, json!(1)).unwrap_err();
        assert!(e.contains("enum variant `Fixed`"), "{e}");
        let e = FieldPath::parse("run.maintenance.interval_hours").unwrap().set(&mut v, json!(1)).unwrap_err();
        assert!(e.contains("None"), "{e}");
        let e = FieldPath::parse("run.o[3].a").unwrap().set(&mut v, json!(1)).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        assert!(FieldPath::parse("a..b").is_err());
        assert!(FieldPath::parse("a[x]").is_err());
    }
}
