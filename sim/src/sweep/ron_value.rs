//! A small reader of RON values that keeps what serde's self-describing path drops: the names of enum
//! variants (`Fixed(minutes: 30)`, `Daly`, `Preset("dense-200b")`).
//!
//! Sweep files hold axis values as raw RON text ([`ron::value::RawValue`]); this module turns one into a
//! [`Node`], which converts to the `serde_json::Value` that serde's externally tagged representation
//! of the same Rust value would have (a named `Name(..)` or bare `Name` is an enum variant, `Some(x)`
//! is `x`, `None` and `()` are `null`, an unnamed `(a: 1)` is a struct), and renders back to compact RON
//! for table cells. Struct names (`NetworkSpec(fabric: …)`) are read as enum variants: leave them out.

use serde_json::{Map, Number, Value};

/// A RON value with enum variant names kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Char(char),
    /// `()` or `None`.
    Unit,
    /// A bare identifier: a unit enum variant such as `Daly`.
    Ident(String),
    /// `Name(a, b)` or `(a, b)`; `Some(x)` is `Tuple(Some("Some"), [x])`.
    Tuple(Option<String>, Vec<Node>),
    /// `Name(field: value, …)` or `(field: value, …)`.
    Struct(Option<String>, Vec<(String, Node)>),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// Parse one RON value (comments and surrounding whitespace allowed).
pub fn parse(src: &str) -> Result<Node, String> {
    let mut p = Parser { s: src.as_bytes(), src, i: 0 };
    p.ws()?;
    let v = p.value()?;
    p.ws()?;
    if p.i != p.s.len() {
        return Err(p.err("trailing characters after the value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> String {
        let before = &self.src[..self.i.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{msg} (line {line}, column {col} of `{}`)", self.src.trim())
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.i += 1,
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'/') => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'*') => {
                    let mut depth = 0usize;
                    loop {
                        if self.s[self.i..].starts_with(b"/*") {
                            depth += 1;
                            self.i += 2;
                        } else if self.s[self.i..].starts_with(b"*/") {
                            depth -= 1;
                            self.i += 2;
                            if depth == 0 {
                                break;
                            }
                        } else if self.i >= self.s.len() {
                            return Err(self.err("unterminated block comment"));
                        } else {
                            self.i += 1;
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) { Ok(()) } else { Err(self.err(&format!("expected `{}`", c as char))) }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.i;
        if self.s[self.i..].starts_with(b"r#") {
            self.i += 2;
        }
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.i += 1,
            _ => {
                self.i = start;
                return None;
            }
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.i += 1;
            } else {
                break;
            }
        }
        Some(self.src[start..self.i].trim_start_matches("r#").to_string())
    }

    fn value(&mut self) -> Result<Node, String> {
        match self.peek() {
            None => Err(self.err("expected a value")),
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(b'r') if self.at_raw_string() => Ok(Node::Str(self.raw_string()?)),
            Some(b'\'') => self.char_lit(),
            Some(b'[') => {
                self.i += 1;
                let items = self.list(b']')?;
                Ok(Node::Seq(items))
            }
            Some(b'{') => {
                self.i += 1;
                let mut entries = Vec::new();
                loop {
                    self.ws()?;
                    if self.eat(b'}') {
                        break;
                    }
                    let k = self.value()?;
                    self.ws()?;
                    self.expect(b':')?;
                    self.ws()?;
                    let v = self.value()?;
                    entries.push((k, v));
                    self.ws()?;
                    if !self.eat(b',') {
                        self.ws()?;
                        self.expect(b'}')?;
                        break;
                    }
                }
                Ok(Node::Map(entries))
            }
            Some(b'(') => self.parens(None),
            Some(c) if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.') => self.number(),
            Some(_) => self.named(),
        }
    }

    /// An identifier, possibly followed by `( … )`.
    fn named(&mut self) -> Result<Node, String> {
        let Some(name) = self.ident() else { return Err(self.err("expected a value")) };
        match name.as_str() {
            "true" => return Ok(Node::Bool(true)),
            "false" => return Ok(Node::Bool(false)),
            "None" => return Ok(Node::Unit),
            "inf" | "NaN" | "inff64" | "NaNf64" | "inff32" | "NaNf32" => {
                return Err(self.err("infinite and NaN numbers cannot be sweep values"));
            }
            _ => {}
        }
        let save = self.i;
        self.ws()?;
        if self.peek() == Some(b'(') {
            self.parens(Some(name))
        } else {
            self.i = save;
            Ok(Node::Ident(name))
        }
    }

    /// `( … )` after an optional name: struct fields, tuple items or unit.
    fn parens(&mut self, name: Option<String>) -> Result<Node, String> {
        self.expect(b'(')?;
        self.ws()?;
        // Struct if the first item is `ident :` (not `::`).
        let save = self.i;
        let is_struct = match self.ident() {
            Some(_) => {
                self.ws()?;
                let colon = self.peek() == Some(b':') && self.s.get(self.i + 1) != Some(&b':');
                self.i = save;
                colon
            }
            None => false,
        };
        if is_struct {
            let mut fields = Vec::new();
            loop {
                self.ws()?;
                if self.eat(b')') {
                    break;
                }
                let Some(f) = self.ident() else { return Err(self.err("expected a field name")) };
                self.ws()?;
                self.expect(b':')?;
                self.ws()?;
                let v = self.value()?;
                fields.push((f, v));
                self.ws()?;
                if !self.eat(b',') {
                    self.ws()?;
                    self.expect(b')')?;
                    break;
                }
            }
            return Ok(Node::Struct(name, fields));
        }
        let items = self.list(b')')?;
        if items.is_empty() && name.is_none() {
            return Ok(Node::Unit);
        }
        Ok(Node::Tuple(name, items))
    }

    fn list(&mut self, close: u8) -> Result<Vec<Node>, String> {
        let mut items = Vec::new();
        loop {
            self.ws()?;
            if self.eat(close) {
                break;
            }
            items.push(self.value()?);
            self.ws()?;
            if !self.eat(b',') {
                self.ws()?;
                self.expect(close)?;
                break;
            }
        }
        Ok(items)
    }

    fn number(&mut self) -> Result<Node, String> {
        let start = self.i;
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.i += 1;
        }
        if self.s[self.i..].starts_with(b"inf") || self.s[self.i..].starts_with(b"NaN") {
            return Err(self.err("infinite and NaN numbers cannot be sweep values"));
        }
        let radix = if self.s[self.i..].starts_with(b"0x") {
            16
        } else if self.s[self.i..].starts_with(b"0b") {
            2
        } else if self.s[self.i..].starts_with(b"0o") {
            8
        } else {
            10
        };
        if radix != 10 {
            self.i += 2;
            let ds = self.i;
            while let Some(c) = self.peek() {
                if c.is_ascii_hexdigit() || c == b'_' {
                    self.i += 1;
                } else {
                    break;
                }
            }
            let digits: String = self.src[ds..self.i].chars().filter(|c| *c != '_').collect();
            let neg = self.s[start] == b'-';
            let v = i128::from_str_radix(&digits, radix).map_err(|e| self.err(&format!("bad number: {e}")))?;
            return Ok(Node::Int(if neg { -v } else { v }));
        }
        let mut float = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' | b'_' => self.i += 1,
                b'.' => {
                    float = true;
                    self.i += 1;
                }
                b'e' | b'E' => {
                    float = true;
                    self.i += 1;
                    if matches!(self.peek(), Some(b'+' | b'-')) {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
        let text: String = self.src[start..self.i].chars().filter(|c| *c != '_').collect();
        // Type suffixes (`1u32`, `2.5f64`) are accepted and ignored.
        if let Some(sfx) = self.ident() {
            if sfx.starts_with('f') {
                float = true;
            }
            if !matches!(sfx.as_str(), "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | "i16" | "i32" | "i64" | "i128" | "f32" | "f64") {
                return Err(self.err(&format!("unexpected `{sfx}` after a number")));
            }
        }
        if float {
            let v: f64 = text.parse().map_err(|_| self.err(&format!("bad number `{text}`")))?;
            if !v.is_finite() {
                return Err(self.err("infinite and NaN numbers cannot be sweep values"));
            }
            Ok(Node::Float(v))
        } else {
            text.parse::<i128>().map(Node::Int).map_err(|_| self.err(&format!("bad number `{text}`")))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let Some(c) = self.src[self.i..].chars().next() else { return Err(self.err("unterminated string")) };
            self.i += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(e) = self.src[self.i..].chars().next() else { return Err(self.err("unterminated string")) };
                    self.i += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        '\'' => out.push('\''),
                        'u' => {
                            self.expect(b'{')?;
                            let start = self.i;
                            while self.peek().is_some_and(|c| c != b'}') {
                                self.i += 1;
                            }
                            let code = u32::from_str_radix(&self.src[start..self.i], 16).ok().and_then(char::from_u32);
                            self.expect(b'}')?;
                            out.push(code.ok_or_else(|| self.err("bad unicode escape"))?);
                        }
                        other => return Err(self.err(&format!("unknown escape `\\{other}`"))),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn at_raw_string(&self) -> bool {
        let mut j = self.i + 1;
        while self.s.get(j) == Some(&b'#') {
            j += 1;
        }
        self.s.get(j) == Some(&b'"')
    }

    fn raw_string(&mut self) -> Result<String, String> {
        self.expect(b'r')?;
        let mut hashes = 0;
        while self.eat(b'#') {
            hashes += 1;
        }
        self.expect(b'"')?;
        let close = format!("\"{}", "#".repeat(hashes));
        let rest = &self.src[self.i..];
        let end = rest.find(&close).ok_or_else(|| self.err("unterminated raw string"))?;
        let s = rest[..end].to_string();
        self.i += end + close.len();
        Ok(s)
    }

    fn char_lit(&mut self) -> Result<Node, String> {
        self.expect(b'\'')?;
        let Some(mut c) = self.src[self.i..].chars().next() else { return Err(self.err("unterminated char")) };
        self.i += c.len_utf8();
        if c == '\\' {
            let Some(e) = self.src[self.i..].chars().next() else { return Err(self.err("unterminated char")) };
            self.i += e.len_utf8();
            c = match e {
                'n' => '\n',
                't' => '\t',
                '\\' => '\\',
                '\'' => '\'',
                other => other,
            };
        }
        self.expect(b'\'')?;
        Ok(Node::Char(c))
    }
}

impl Node {
    /// The JSON value serde's externally tagged representation gives the same Rust value.
    pub fn to_json(&self) -> Result<Value, String> {
        Ok(match self {
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => {
                if let Ok(v) = i64::try_from(*i) {
                    Value::Number(v.into())
                } else if let Ok(v) = u64::try_from(*i) {
                    Value::Number(v.into())
                } else {
                    return Err(format!("integer {i} is out of range"));
                }
            }
            Node::Float(f) => Value::Number(Number::from_f64(*f).ok_or("infinite and NaN numbers cannot be sweep values")?),
            Node::Str(s) => Value::String(s.clone()),
            Node::Char(c) => Value::String(c.to_string()),
            Node::Unit => Value::Null,
            Node::Ident(n) => Value::String(n.clone()),
            Node::Tuple(Some(n), items) if n == "Some" && items.len() == 1 => items[0].to_json()?,
            Node::Tuple(None, items) => Value::Array(items.iter().map(Node::to_json).collect::<Result<_, _>>()?),
            Node::Tuple(Some(n), items) => {
                let inner = if items.len() == 1 {
                    items[0].to_json()?
                } else {
                    Value::Array(items.iter().map(Node::to_json).collect::<Result<_, _>>()?)
                };
                Value::Object(Map::from_iter([(n.clone(), inner)]))
            }
            Node::Struct(name, fields) => {
                let mut m = Map::new();
                for (k, v) in fields {
                    m.insert(k.clone(), v.to_json()?);
                }
                match name {
                    Some(n) => Value::Object(Map::from_iter([(n.clone(), Value::Object(m))])),
                    None => Value::Object(m),
                }
            }
            Node::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect::<Result<_, _>>()?),
            Node::Map(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    let key = match k {
                        Node::Str(s) | Node::Ident(s) => s.clone(),
                        Node::Int(i) => i.to_string(),
                        Node::Char(c) => c.to_string(),
                        Node::Bool(b) => b.to_string(),
                        other => return Err(format!("map key `{}` must be a string or an integer", other.render())),
                    };
                    m.insert(key, v.to_json()?);
                }
                Value::Object(m)
            }
        })
    }

    /// Compact RON text (`Fixed(minutes: 30)`, `0.5`, `"h100-sxm"`).
    pub fn render(&self) -> String {
        match self {
            Node::Bool(b) => b.to_string(),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => format!("{f:?}"),
            Node::Str(s) => format!("{s:?}"),
            Node::Char(c) => format!("{c:?}"),
            Node::Unit => "()".into(),
            Node::Ident(n) => n.clone(),
            Node::Tuple(name, items) => {
                format!("{}({})", name.as_deref().unwrap_or(""), items.iter().map(Node::render).collect::<Vec<_>>().join(", "))
            }
            Node::Struct(name, fields) => format!(
                "{}({})",
                name.as_deref().unwrap_or(""),
                fields.iter().map(|(k, v)| format!("{k}: {}", v.render())).collect::<Vec<_>>().join(", ")
            ),
            Node::Seq(items) => format!("[{}]", items.iter().map(Node::render).collect::<Vec<_>>().join(", ")),
            Node::Map(entries) => {
                format!("{{{}}}", entries.iter().map(|(k, v)| format!("{}: {}", k.render(), v.render())).collect::<Vec<_>>().join(", "))
            }
        }
    }

    /// Text for a table cell: strings without quotes, everything else as [`Node::render`].
    pub fn cell_text(&self) -> String {
        match self {
            Node::Str(s) => s.clone(),
            Node::Char(c) => c.to_string(),
            other => other.render(),
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Int(i) => Some(*i as f64),
            Node::Float(f) => Some(*f),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enum_variants_survive() {
        assert_eq!(parse("Fixed(minutes: 30)").unwrap().to_json().unwrap(), json!({"Fixed": {"minutes": 30}}));
        assert_eq!(parse("Daly").unwrap().to_json().unwrap(), json!("Daly"));
        assert_eq!(parse("Preset(\"dense-200b\")").unwrap().to_json().unwrap(), json!({"Preset": "dense-200b"}));
        assert_eq!(parse("Some(Interleaved)").unwrap().to_json().unwrap(), json!("Interleaved"));
        assert_eq!(parse("None").unwrap().to_json().unwrap(), json!(null));
        assert_eq!(
            parse("(interval_hours: 168, duration_min: 30.5) // c").unwrap().to_json().unwrap(),
            json!({"interval_hours": 168, "duration_min": 30.5})
        );
        assert_eq!(parse("[1, 2_000, -3.5e2, 0x10,]").unwrap().to_json().unwrap(), json!([1, 2000, -350.0, 16]));
        assert_eq!(parse("{\"a\": (1, 2)}").unwrap().to_json().unwrap(), json!({"a": [1, 2]}));
        assert_eq!(parse(r#"r"raw \ text""#).unwrap(), Node::Str("raw \\ text".into()));
    }

    #[test]
    fn renders_compactly() {
        assert_eq!(parse("Fixed( minutes : 30 )").unwrap().render(), "Fixed(minutes: 30)");
        assert_eq!(parse("1.0").unwrap().render(), "1.0");
        assert_eq!(parse("\"h100\"").unwrap().cell_text(), "h100");
        assert!(parse("inf").is_err());
        assert!(parse("[1, 2").is_err());
        assert!(parse("1 2").is_err());
    }
}
