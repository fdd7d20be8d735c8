//! Saving an edited file without losing its comments: the text the file was opened with is kept, and
//! only the values that changed are rewritten in place (span-based edits).
//!
//! The values that changed are found by comparing the canonical RON of the value as opened with the
//! canonical RON of the value as edited (both written by `ron_util::to_ron_pretty`, so formatting never
//! counts as a change); each changed value is then located in the original text by its path (field
//! names and list indices) and replaced by its new canonical text. A field the original text left out
//! (a default) is inserted only when its value changed; a field the new value no longer writes is
//! removed. A list whose length changed (candidates or pools added or removed) is rebuilt element by
//! element: an element equal to one of the old ones keeps its original text with its comments, one
//! at the same place as an old one is patched the same way, a new one is written out. The caller
//! checks that the result reads back to the edited value, and writes the full serialisation otherwise.

/// A RON value in a text: its byte span and its parts.
#[derive(Debug, Clone)]
struct Node {
    start: usize,
    end: usize,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// A number, string, char, bool or bare identifier (`None`, an enum unit variant).
    Leaf,
    /// `Name(field: v, …)` or `(field: v, …)`.
    Struct { name: String, fields: Vec<Field> },
    /// `Name(v, …)` (`Some(x)`, `Preset("id")`) or `(v, …)`.
    Tuple { name: String, items: Vec<Node> },
    /// `[v, …]`, with the comma after each element (if one).
    List(Vec<Node>, Vec<Option<usize>>),
    /// `{k: v, …}`: compared whole, never patched inside.
    Map,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    /// Where the field's name starts.
    key_start: usize,
    value: Node,
    /// The comma after the value, if one.
    comma: Option<usize>,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn skip(&mut self) {
        loop {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if self.s[self.i..].starts_with(b"//") {
                while self.i < self.s.len() && self.s[self.i] != b'\n' {
                    self.i += 1;
                }
            } else if self.s[self.i..].starts_with(b"/*") {
                let mut depth = 0;
                while self.i < self.s.len() {
                    if self.s[self.i..].starts_with(b"/*") {
                        depth += 1;
                        self.i += 2;
                    } else if self.s[self.i..].starts_with(b"*/") {
                        depth -= 1;
                        self.i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        self.i += 1;
                    }
                }
            } else {
                return;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ident(&mut self) -> String {
        let st = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[st..self.i]).into_owned()
    }

    fn value(&mut self) -> Option<Node> {
        self.skip();
        let start = self.i;
        match self.peek()? {
            b'"' => {
                self.i += 1;
                while self.i < self.s.len() && self.s[self.i] != b'"' {
                    self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
                }
                self.i += 1;
                Some(Node { start, end: self.i, kind: Kind::Leaf })
            }
            b'\'' => {
                self.i += 1;
                while self.i < self.s.len() && self.s[self.i] != b'\'' {
                    self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
                }
                self.i += 1;
                Some(Node { start, end: self.i, kind: Kind::Leaf })
            }
            b'[' => {
                self.i += 1;
                let (mut items, mut commas) = (Vec::new(), Vec::new());
                loop {
                    self.skip();
                    match self.peek()? {
                        b']' => break,
                        b',' => self.i += 1,
                        _ => {
                            items.push(self.value()?);
                            self.skip();
                            let comma = (self.peek() == Some(b',')).then_some(self.i);
                            if comma.is_some() {
                                self.i += 1;
                            }
                            commas.push(comma);
                        }
                    }
                }
                self.i += 1;
                Some(Node { start, end: self.i, kind: Kind::List(items, commas) })
            }
            b'{' => {
                let mut depth = 0;
                while self.i < self.s.len() {
                    match self.s[self.i] {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        b'"' => {
                            self.i += 1;
                            while self.i < self.s.len() && self.s[self.i] != b'"' {
                                self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                Some(Node { start, end: self.i, kind: Kind::Map })
            }
            b'(' => self.parens(start, String::new()),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let name = self.ident();
                let after = self.i;
                self.skip();
                if self.peek() == Some(b'(') {
                    self.parens(start, name)
                } else {
                    self.i = after;
                    Some(Node { start, end: after, kind: Kind::Leaf })
                }
            }
            _ => {
                // A number: up to the next separator.
                while self.i < self.s.len()
                    && !matches!(self.s[self.i], b',' | b')' | b']' | b'}' | b'/')
                    && !self.s[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                (self.i > start).then_some(Node { start, end: self.i, kind: Kind::Leaf })
            }
        }
    }

    /// `(` at `self.i`: named fields or positional items.
    fn parens(&mut self, start: usize, name: String) -> Option<Node> {
        self.i += 1;
        self.skip();
        let save = self.i;
        let named = if self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') {
            self.ident();
            self.skip();
            let colon = self.peek() == Some(b':') && self.s.get(self.i + 1) != Some(&b':');
            self.i = save;
            colon
        } else {
            false
        };
        if named {
            let mut fields = Vec::new();
            loop {
                self.skip();
                match self.peek()? {
                    b')' => break,
                    b',' => {
                        self.i += 1;
                        continue;
                    }
                    _ => {}
                }
                let key_start = self.i;
                let key = self.ident();
                if key.is_empty() {
                    return None;
                }
                self.skip();
                if self.peek()? != b':' {
                    return None;
                }
                self.i += 1;
                let value = self.value()?;
                self.skip();
                let comma = (self.peek() == Some(b',')).then_some(self.i);
                if comma.is_some() {
                    self.i += 1;
                }
                fields.push(Field { name: key, key_start, value, comma });
            }
            self.i += 1;
            Some(Node { start, end: self.i, kind: Kind::Struct { name, fields } })
        } else {
            let mut items = Vec::new();
            loop {
                self.skip();
                match self.peek()? {
                    b')' => break,
                    b',' => self.i += 1,
                    _ => items.push(self.value()?),
                }
            }
            self.i += 1;
            Some(Node { start, end: self.i, kind: Kind::Tuple { name, items } })
        }
    }
}

fn parse(text: &str) -> Option<Node> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    let n = p.value()?;
    p.skip();
    (p.i >= text.len()).then_some(n)
}

/// One replacement of `[start, end)` of the original text.
type Edit = (usize, usize, String);

struct Ctx<'a> {
    t: &'a str,
    old: &'a str,
    new: &'a str,
    edits: Vec<Edit>,
}

impl Ctx<'_> {
    fn text_old(&self, n: &Node) -> &str {
        &self.old[n.start..n.end]
    }
    fn text_new(&self, n: &Node) -> &str {
        &self.new[n.start..n.end]
    }

    /// The edits that turn `t` (a node of the original text, which `o` described) into `n`.
    fn diff(&mut self, o: &Node, n: &Node, t: &Node) {
        if self.text_old(o) == self.text_new(n) {
            return;
        }
        // The original may write `Some(x)` as `x` (implicit `Some`).
        if let (Kind::Tuple { name: on, items: oi }, Kind::Tuple { name: nn, items: ni }) = (&o.kind, &n.kind)
            && on == "Some"
            && nn == "Some"
            && oi.len() == 1
            && ni.len() == 1
            && !matches!(&t.kind, Kind::Tuple { name, .. } if name == "Some")
        {
            return self.diff(&oi[0], &ni[0], t);
        }
        match (&o.kind, &n.kind, &t.kind) {
            (Kind::Struct { name: a, fields: of }, Kind::Struct { name: b, fields: nf }, Kind::Struct { name: c, fields: tf })
                if a == b && (c == a || c.is_empty()) =>
            {
                for f in nf {
                    let old = of.iter().find(|x| x.name == f.name);
                    let orig = tf.iter().find(|x| x.name == f.name);
                    match (old, orig) {
                        (Some(old), Some(orig)) => self.diff(&old.value, &f.value, &orig.value),
                        (Some(old), None) if self.text_old(&old.value) == self.text_new(&f.value) => {}
                        _ => self.insert_field(t, tf, &f.name, &f.value),
                    }
                }
                for f in tf {
                    if of.iter().any(|x| x.name == f.name) && !nf.iter().any(|x| x.name == f.name) {
                        self.remove_field(f);
                    }
                }
            }
            (Kind::Tuple { name: a, items: oi }, Kind::Tuple { name: b, items: ni }, Kind::Tuple { name: c, items: ti })
                if a == b && (c == a || c.is_empty()) && oi.len() == ni.len() && ti.len() == oi.len() =>
            {
                for ((x, y), z) in oi.iter().zip(ni).zip(ti) {
                    self.diff(x, y, z);
                }
            }
            (Kind::List(oi, _), Kind::List(ni, _), Kind::List(ti, tc)) if oi.len() == ti.len() => {
                // Elements moved (one removed and one added, or reordered): rebuild, so each keeps its
                // own comments; else patch each in place.
                let moved = ni.iter().enumerate().any(|(j, y)| {
                    let at = oi.get(j).is_some_and(|x| self.text_old(x) == self.text_new(y));
                    !at && oi.iter().enumerate().any(|(k, x)| k != j && self.text_old(x) == self.text_new(y))
                });
                if oi.len() == ni.len() && !moved {
                    for ((x, y), z) in oi.iter().zip(ni).zip(ti) {
                        self.diff(x, y, z);
                    }
                } else {
                    let text = self.rebuild_list(oi, ni, ti, tc, t);
                    self.edits.push((t.start, t.end, text));
                }
            }
            _ => {
                let line = self.t[..t.start].rfind('\n').map_or(0, |k| k + 1);
                let eol = self.t[t.end..].find('\n').map_or(self.t.len(), |k| t.end + k);
                // On a line of several fields, one line if it fits; else indented where the node is.
                let one_line = !self.t[line..eol].contains('\n') && self.t[line..eol].matches(':').count() > 1;
                let text = if one_line { compact(self.text_new(n)) } else { None };
                let text = text.unwrap_or_else(|| reindent(self.new, n, &indent_of(self.t, t.start)));
                self.edits.push((t.start, t.end, text))
            }
        }
    }

    /// A list of another length: old elements kept with their text and comments (an equal one as it
    /// is; else the one at the same place, patched), new ones written out, in the new order.
    fn rebuild_list(&mut self, oi: &[Node], ni: &[Node], ti: &[Node], tc: &[Option<usize>], t: &Node) -> String {
        let mut used = vec![false; oi.len()];
        let mut chosen: Vec<Option<usize>> = ni
            .iter()
            .map(|n| {
                let k = (0..oi.len()).find(|&k| !used[k] && self.text_old(&oi[k]) == self.text_new(n))?;
                used[k] = true;
                Some(k)
            })
            .collect();
        // Elements equal to no old one take the unused old one of the same `name` (an edited
        // candidate), else the unused one at their place when no `name` tells (an edited pool).
        for (j, c) in chosen.iter_mut().enumerate() {
            if c.is_some() {
                continue;
            }
            let name = name_of(&ni[j], self.new);
            let k = match &name {
                Some(n) => (0..oi.len()).find(|&k| !used[k] && name_of(&oi[k], self.old).as_ref() == Some(n)),
                None => (j < oi.len() && !used[j]).then_some(j),
            };
            if let Some(k) = k {
                used[k] = true;
                *c = Some(k);
            }
        }
        let multiline = self.t[t.start..t.end].contains('\n');
        let t_text = self.t;
        let line_end = |from: usize| -> Option<usize> {
            let eol = t_text[from..t.end].find('\n').map(|k| from + k)?;
            let rest = t_text[from..eol].trim();
            (rest.is_empty() || rest.starts_with("//")).then_some(eol + 1)
        };
        // Segment of each old element: from the end of the one before (after `[` and its line for
        // the first) to the end of its own line, so comment lines above it and its line comment go
        // with it.
        let open_end = line_end(t.start + 1).filter(|_| multiline).unwrap_or(t.start + 1);
        let mut segs: Vec<(usize, usize)> = Vec::new();
        for (k, e) in ti.iter().enumerate() {
            let after = tc[k].map_or(e.end, |c| c + 1);
            let start = if k == 0 { if multiline { open_end } else { e.start } } else { segs[k - 1].1 };
            let end = if multiline { line_end(after).unwrap_or(after) } else { after };
            segs.push((start.min(e.start), end));
        }
        let ind = ti.first().map_or_else(|| format!("{}    ", indent_of(self.t, t.start)), |x| indent_of(self.t, x.start));
        let mut parts: Vec<String> = Vec::new();
        for (j, n) in ni.iter().enumerate() {
            match chosen[j] {
                Some(k) => {
                    let mut sub = Ctx { t: self.t, old: self.old, new: self.new, edits: Vec::new() };
                    sub.diff(&oi[k], n, &ti[k]);
                    if tc[k].is_none() {
                        sub.edits.push((ti[k].end, ti[k].end, ",".into()));
                    }
                    let (a, b) = segs[k];
                    let mut seg = apply(&self.t[a..b], a, sub.edits);
                    if multiline && !seg.ends_with('\n') {
                        seg.push('\n');
                    }
                    parts.push(seg);
                }
                // A new element like an old one (a copy): that one's text, patched.
                None if multiline && let Some(k) = self.closest(oi, n) => {
                    let mut sub = Ctx { t: self.t, old: self.old, new: self.new, edits: Vec::new() };
                    sub.diff(&oi[k], n, &ti[k]);
                    parts.push(format!("{ind}{},\n", apply(&self.t[ti[k].start..ti[k].end], ti[k].start, sub.edits)));
                }
                None if multiline => parts.push(format!("{ind}{},\n", reindent(self.new, n, &ind))),
                None => parts.push(format!("{},", compact(self.text_new(n)).unwrap_or_else(|| reindent(self.new, n, &ind)))),
            }
        }
        if multiline {
            let head = &self.t[t.start..open_end];
            let tail_from = segs.last().map_or(open_end, |s| s.1);
            let mut out = head.to_string();
            if !head.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&parts.concat());
            let tail = &self.t[tail_from..t.end];
            if tail.trim_start().starts_with(']') && !tail.starts_with(char::is_whitespace) {
                out.push_str(&indent_of(self.t, t.start));
            }
            out.push_str(tail);
            out
        } else {
            let joined = parts.join(" ");
            format!("[{}]", joined.trim_end_matches(','))
        }
    }

    /// The old element whose canonical text differs from `n`'s in the fewest lines, if under a third.
    fn closest(&self, oi: &[Node], n: &Node) -> Option<usize> {
        let new: Vec<&str> = self.text_new(n).lines().collect();
        let (k, d) = oi
            .iter()
            .enumerate()
            .map(|(k, o)| {
                let old: Vec<&str> = self.text_old(o).lines().collect();
                let d = old.len().abs_diff(new.len()) + old.iter().zip(&new).filter(|(a, b)| a != b).count();
                (k, d)
            })
            .min_by_key(|x| x.1)?;
        (3 * d < new.len()).then_some(k)
    }

    fn insert_field(&mut self, t: &Node, tf: &[Field], name: &str, n: &Node) {
        let body = &self.t[t.start..t.end];
        let value = match tf.last() {
            Some(last) if body.contains('\n') => reindent(self.new, n, &indent_of(self.t, last.key_start)),
            Some(last) => compact(self.text_new(n)).unwrap_or_else(|| reindent(self.new, n, &indent_of(self.t, last.key_start))),
            None => compact(self.text_new(n)).unwrap_or_else(|| self.text_new(n).to_string()),
        };
        match tf.last() {
            Some(last) if body.contains('\n') => {
                let ind = indent_of(self.t, last.key_start);
                let after = last.comma.map_or(last.value.end, |c| c + 1);
                let eol = self.t[after..t.end].find('\n').map_or(t.end - 1, |k| after + k);
                let comma = if last.comma.is_some() { "" } else { "," };
                if comma.is_empty() {
                    self.edits.push((eol, eol, format!("\n{ind}{name}: {value},")));
                } else {
                    self.edits.push((last.value.end, last.value.end, ",".into()));
                    self.edits.push((eol, eol, format!("\n{ind}{name}: {value},")));
                }
            }
            Some(last) => {
                let at = last.comma.map_or(last.value.end, |c| c + 1);
                let sep = if last.comma.is_some() { " " } else { ", " };
                self.edits.push((at, at, format!("{sep}{name}: {value}")));
            }
            None => {
                let open = t.start + body.find('(').unwrap_or(0) + 1;
                self.edits.push((open, open, format!("{name}: {value}")));
            }
        }
    }

    fn remove_field(&mut self, f: &Field) {
        let end = f.comma.map_or(f.value.end, |c| c + 1);
        let line_start = self.t[..f.key_start].rfind('\n').map_or(0, |k| k + 1);
        let alone_before = self.t[line_start..f.key_start].trim().is_empty();
        let eol = self.t[end..].find('\n').map_or(self.t.len(), |k| end + k);
        let rest = self.t[end..eol].trim();
        if alone_before && (rest.is_empty() || rest.starts_with("//")) {
            self.edits.push((line_start, (eol + 1).min(self.t.len()), String::new()));
        } else {
            self.edits.push((f.key_start, end, String::new()));
        }
    }
}

/// The indentation of the line holding byte `at`.
fn indent_of(t: &str, at: usize) -> String {
    let ls = t[..at].rfind('\n').map_or(0, |k| k + 1);
    t[ls..].chars().take_while(|c| *c == ' ' || *c == '\t').collect()
}

/// The canonical text of node `n` of `canon`, its lines moved from their indentation there to `ind`.
fn reindent(canon: &str, n: &Node, ind: &str) -> String {
    let from = indent_of(canon, n.start);
    let mut out = String::new();
    for (k, line) in canon[n.start..n.end].lines().enumerate() {
        if k > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(ind);
            }
            out.push_str(line.strip_prefix(from.as_str()).unwrap_or(line));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Canonical text on one line (`(a: 1, b: 2)`), if it is short enough to sit on one.
fn compact(text: &str) -> Option<String> {
    if !text.contains('\n') {
        return Some(text.to_string());
    }
    let joined = text.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    let c = joined.replace("( ", "(").replace("[ ", "[").replace(", )", ")").replace(", ]", "]");
    (c.len() <= 100).then_some(c)
}

/// The `name` field of a struct node (a candidate's), as written.
fn name_of(n: &Node, text: &str) -> Option<String> {
    match &n.kind {
        Kind::Struct { fields, .. } => fields.iter().find(|f| f.name == "name").map(|f| text[f.value.start..f.value.end].to_string()),
        _ => None,
    }
}

/// `text` (which starts at byte `base` of the original) with the edits applied.
fn apply(text: &str, base: usize, mut edits: Vec<Edit>) -> String {
    edits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let mut out = text.to_string();
    let mut last = usize::MAX;
    for (s, e, r) in edits {
        // Overlapping edits would corrupt the text: the caller's read-back check then refuses it.
        if e > last {
            continue;
        }
        out.replace_range(s - base..e - base, &r);
        last = s;
    }
    out
}

/// `original` (the text a value was read from) with the changes from `old` (the canonical text of
/// that value) to `new` (the canonical text of the edited value) applied in place; `None` when a
/// text is not RON this patcher follows.
pub fn patch(original: &str, old: &str, new: &str) -> Option<String> {
    let (t, o, n) = (parse(original)?, parse(old)?, parse(new)?);
    let mut ctx = Ctx { t: original, old, new, edits: Vec::new() };
    ctx.diff(&o, &n, &t);
    let edits = std::mem::take(&mut ctx.edits);
    Some(apply(original, 0, edits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_value_keeps_every_comment() {
        let orig = "// head\n(\n    a: 1,   // one\n    // before b\n    b: Some(2.0),\n    c: [(x: 1), (x: 2)],\n)\n";
        let old = "(\n    a: 1,\n    b: Some(2.0),\n    c: [(x: 1), (x: 2)],\n    d: None,\n)";
        let new = "(\n    a: 5,\n    b: Some(2.0),\n    c: [(x: 1), (x: 3)],\n    d: Some(\"z\"),\n)";
        let out = patch(orig, old, new).unwrap();
        assert_eq!(
            out,
            "// head\n(\n    a: 5,   // one\n    // before b\n    b: Some(2.0),\n    c: [(x: 1), (x: 3)],\n    d: Some(\"z\"),\n)\n"
        );
    }

    #[test]
    fn implicit_some_and_list_growth() {
        let orig = "(b: 2.0, c: [\n    (x: 1), // first\n    (x: 2),\n])";
        let old = "(b: Some(2.0), c: [(x: 1), (x: 2)])";
        let new = "(b: Some(3.0), c: [(x: 1), (x: 2), (x: 9)])";
        let out = patch(orig, old, new).unwrap();
        assert_eq!(out, "(b: 3.0, c: [\n    (x: 1), // first\n    (x: 2),\n    (x: 9),\n])");
        // Removing the first keeps the comment of none but its own; removing the second keeps the first's.
        let new = "(b: Some(2.0), c: [(x: 2)])";
        assert_eq!(patch(orig, old, new).unwrap(), "(b: 2.0, c: [\n    (x: 2),\n])");
        let new = "(b: Some(2.0), c: [(x: 1)])";
        assert_eq!(patch(orig, old, new).unwrap(), "(b: 2.0, c: [\n    (x: 1), // first\n])");
    }

    /// The bundled plan with a candidate removed and one copied: each kept candidate keeps its
    /// comments, the copy is written out, and the text reads back as the edit.
    #[test]
    fn candidates_removed_and_added_keep_the_others_comments() {
        use wanka_sim::planning::plan_file::PlanFile;
        use wanka_sim::ron_util::to_ron_pretty;
        let dir = crate::files::find_scenarios_dir(None).unwrap();
        let orig = std::fs::read_to_string(dir.join("default_plan.ron")).unwrap();
        let p = PlanFile::parse(&orig, "p").unwrap();
        let mut q = p.clone();
        let removed = q.candidates.remove(1);
        let mut copy = q.candidates[2].clone();
        copy.name = "copy".into();
        q.candidates.push(copy);
        q.candidates[0].pools[0].count = 9000;
        let out = patch(&orig, &to_ron_pretty(&p).unwrap(), &to_ron_pretty(&q).unwrap()).unwrap();
        assert_eq!(PlanFile::parse(&out, "out").unwrap(), q, "{out}");
        assert!(!out.contains(&removed.name));
        for l in orig.lines() {
            if let Some(k) = l.find("//") {
                assert!(out.contains(l[k..].trim_end()), "lost: {l}\n{out}");
            }
        }
        // Each comment stays with its own candidate, and the copy is its original's text, patched (no
        // default written out).
        assert!(out.find("China east site").unwrap() < out.find("10k H20").unwrap(), "{out}");
        assert!(out.find("Meta RSC-1").unwrap() < out.find("10k H20").unwrap(), "{out}");
        assert!(!out.contains("detection_s") && out.contains("count: 9000"), "{out}");
        if std::env::var_os("SHOW").is_some() {
            println!("{out}");
        }
    }
}
