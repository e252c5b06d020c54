//! A small JSON parser that remembers where every value and key came from.
//!
//! It accepts the dialect rt-app reads through json-c in its default
//! (non-strict) mode, which is what rt-app files in the wild rely on:
//!
//! * standard JSON values (RFC 8259);
//! * `/* ... */` and `// ...` comments anywhere whitespace may appear;
//! * a trailing comma before `}` or `]`;
//! * repeated keys in one object, kept in file order (rt-app's `workgen`
//!   helper renames them so they all reach rt-app; the caller decides what a
//!   repeat means).
//!
//! Not accepted (json-c takes some of them, no rt-app file we know uses
//! them): single-quoted strings, `NaN`/`Infinity`, numbers with leading
//! zeros, raw control characters inside strings. Nesting is limited to
//! [`MAX_DEPTH`] levels so hostile input cannot exhaust the stack.

use super::error::{Fail, Pos, Res};

/// Deepest nesting of arrays and objects accepted.
pub(crate) const MAX_DEPTH: usize = 64;

/// A parsed value and the position of its first character.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Value {
    /// Where the value starts.
    pub pos: Pos,
    /// The value itself.
    pub kind: Kind,
}

/// The kinds of JSON value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written, and its value if it is an integer that fits
    /// in an `i64`.
    Number {
        /// The literal text.
        text: String,
        /// Integer value, if it has no fraction or exponent and fits.
        int: Option<i64>,
    },
    /// A string, unescaped.
    Str(String),
    /// An array.
    Array(Vec<Value>),
    /// An object's members in file order, repeats included.
    Object(Vec<Member>),
}

/// One `"key": value` pair of an object.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Member {
    /// The key, unescaped.
    pub key: String,
    /// Where the key's opening quote is.
    pub key_pos: Pos,
    /// The value.
    pub value: Value,
}

/// Parses a whole document.
pub(crate) fn parse(text: &str) -> Res<Value> {
    let mut p = Parser::new(text);
    p.skip_bom();
    p.skip_blank()?;
    let v = p.value(0)?;
    p.skip_blank()?;
    match p.peek() {
        None => Ok(v),
        Some(_) => Err(p.fail_here("expected the end of the document after the top-level value")),
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    i: usize,
    line: u32,
    col: u32,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            bytes: text.as_bytes(),
            text,
            i: 0,
            line: 1,
            col: 1,
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        self.bytes.get(self.i + off).copied()
    }

    /// Consumes one byte, keeping line and column (in characters) current.
    fn bump(&mut self) {
        let Some(b) = self.peek() else { return };
        self.i += 1;
        if b == b'\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else if b & 0xC0 != 0x80 {
            // A character is counted at its first byte only.
            self.col = self.col.saturating_add(1);
        }
    }

    /// Consumes one whole character.
    fn bump_char(&mut self) {
        self.bump();
        while matches!(self.peek(), Some(b) if b & 0xC0 == 0x80) {
            self.i += 1;
        }
    }

    /// Skips a UTF-8 byte order mark; it does not count as a column.
    fn skip_bom(&mut self) {
        if self.text.starts_with('\u{feff}') {
            self.i = '\u{feff}'.len_utf8();
        }
    }

    /// Describes what is at the cursor, for "got ..." messages.
    fn found(&self) -> String {
        match self.text[self.i..].chars().next() {
            None => "the end of the file".to_string(),
            Some(c) if c.is_control() => format!("character U+{:04X}", c as u32),
            Some(c) => format!("'{c}'"),
        }
    }

    fn fail_here(&self, expected: &str) -> Fail {
        Fail::new(self.pos(), format!("{expected}, got {}", self.found()))
    }

    /// Skips whitespace and comments.
    fn skip_blank(&mut self) -> Res<()> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(b' ' | b'\t' | b'\n' | b'\r'), _) => self.bump(),
                (Some(b'/'), Some(b'*')) => self.block_comment()?,
                (Some(b'/'), Some(b'/')) => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.bump_char();
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn block_comment(&mut self) -> Res<()> {
        let start = self.pos();
        self.bump();
        self.bump();
        loop {
            match (self.peek(), self.peek_at(1)) {
                (None, _) => {
                    return Err(Fail::new(
                        start,
                        "expected '*/' to close this comment, got the end of the file",
                    ))
                }
                (Some(b'*'), Some(b'/')) => {
                    self.bump();
                    self.bump();
                    return Ok(());
                }
                _ => self.bump_char(),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Res<Value> {
        let pos = self.pos();
        let kind = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::Str(self.string()?),
            Some(b't') => self.literal("true", Kind::Bool(true))?,
            Some(b'f') => self.literal("false", Kind::Bool(false))?,
            Some(b'n') => self.literal("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.fail_here("expected a JSON value")),
        };
        Ok(Value { pos, kind })
    }

    fn enter(&self, depth: usize) -> Res<usize> {
        if depth >= MAX_DEPTH {
            return Err(self.fail_here(&format!("expected at most {MAX_DEPTH} levels of nesting")));
        }
        Ok(depth + 1)
    }

    fn literal(&mut self, word: &str, kind: Kind) -> Res<Kind> {
        if self.text[self.i..].starts_with(word) {
            for _ in 0..word.len() {
                self.bump();
            }
            Ok(kind)
        } else {
            Err(self.fail_here("expected a JSON value"))
        }
    }

    fn object(&mut self, depth: usize) -> Res<Kind> {
        let depth = self.enter(depth)?;
        self.bump();
        let mut members = Vec::new();
        loop {
            self.skip_blank()?;
            match self.peek() {
                Some(b'}') => break,
                Some(b'"') => {}
                _ => return Err(self.fail_here("expected a quoted key or '}'")),
            }
            let key_pos = self.pos();
            let key = self.string()?;
            self.skip_blank()?;
            if self.peek() != Some(b':') {
                return Err(self.fail_here("expected ':' after the key"));
            }
            self.bump();
            self.skip_blank()?;
            let value = self.value(depth)?;
            members.push(Member {
                key,
                key_pos,
                value,
            });
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b'}') => break,
                _ => return Err(self.fail_here("expected ',' or '}' after the value")),
            }
        }
        self.bump();
        Ok(Kind::Object(members))
    }

    fn array(&mut self, depth: usize) -> Res<Kind> {
        let depth = self.enter(depth)?;
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(b']') {
                break;
            }
            items.push(self.value(depth)?);
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b']') => break,
                _ => return Err(self.fail_here("expected ',' or ']' after the value")),
            }
        }
        self.bump();
        Ok(Kind::Array(items))
    }

    fn string(&mut self) -> Res<String> {
        let start = self.pos();
        self.bump();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(Fail::new(
                        start,
                        "expected a closing '\"' for this string, got the end of the file",
                    ))
                }
                Some(b'"') => {
                    self.bump();
                    return Ok(out);
                }
                Some(b'\\') => out.push(self.escape()?),
                Some(b) if b < 0x20 => {
                    return Err(self.fail_here(
                        "expected an escape sequence instead of a control character in the string",
                    ))
                }
                Some(_) => {
                    let c = self.text[self.i..].chars().next().unwrap_or('\u{fffd}');
                    out.push(c);
                    self.bump_char();
                }
            }
        }
    }

    fn escape(&mut self) -> Res<char> {
        let at = self.pos();
        self.bump();
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(at),
            _ => {
                return Err(self
                    .fail_here("expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after '\\'"))
            }
        };
        self.bump();
        Ok(c)
    }

    fn hex4(&mut self) -> Res<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b) if b.is_ascii_hexdigit() => (b as char).to_digit(16).unwrap_or(0),
                _ => return Err(self.fail_here("expected 4 hexadecimal digits in a \\u escape")),
            };
            v = v * 16 + d;
            self.bump();
        }
        Ok(v)
    }

    /// Decodes `\uXXXX`, including a surrogate pair written as two escapes.
    fn unicode_escape(&mut self, at: Pos) -> Res<char> {
        self.bump();
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if self.peek() != Some(b'\\') || self.peek_at(1) != Some(b'u') {
                return Err(Fail::new(
                    at,
                    "expected a low surrogate \\u escape after a high surrogate",
                ));
            }
            self.bump();
            self.bump();
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(Fail::new(
                    at,
                    "expected a low surrogate \\u escape after a high surrogate",
                ));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| {
            Fail::new(
                at,
                "expected a valid Unicode scalar value in the \\u escape, got a lone surrogate",
            )
        })
    }

    fn digits(&mut self) -> usize {
        let mut n = 0;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.bump();
            n += 1;
        }
        n
    }

    fn number(&mut self) -> Res<Kind> {
        let start = self.i;
        let mut integral = true;
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => {
                self.bump();
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.fail_here("expected no leading zeros in a number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.fail_here("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            integral = false;
            self.bump();
            if self.digits() == 0 {
                return Err(self.fail_here("expected a digit after the decimal point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integral = false;
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            if self.digits() == 0 {
                return Err(self.fail_here("expected a digit in the exponent"));
            }
        }
        let text = self.text[start..self.i].to_string();
        let int = if integral {
            text.parse::<i64>().ok()
        } else {
            None
        };
        Ok(Kind::Number { text, int })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32, col: u32) -> Pos {
        Pos { line, col }
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let v = parse("{\n  \"é\": [1, \"x\"]\n}").unwrap();
        let Kind::Object(m) = v.kind else { panic!() };
        assert_eq!(m[0].key_pos, at(2, 3));
        assert_eq!(m[0].value.pos, at(2, 8));
        let Kind::Array(items) = &m[0].value.kind else {
            panic!()
        };
        assert_eq!(items[1].pos, at(2, 12));
    }

    #[test]
    fn accepts_json_c_extensions() {
        let v = parse("/* c */ {\"a\": 1, // x\n \"a\": [2,],}").unwrap();
        let Kind::Object(m) = v.kind else { panic!() };
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].key, "a");
    }

    #[test]
    fn numbers_keep_text_and_integer_value() {
        let v = parse("[-5, 1.5, 1e3, 99999999999999999999]").unwrap();
        let Kind::Array(items) = v.kind else { panic!() };
        let ints: Vec<Option<i64>> = items
            .iter()
            .map(|v| match &v.kind {
                Kind::Number { int, .. } => *int,
                _ => panic!(),
            })
            .collect();
        assert_eq!(ints, vec![Some(-5), None, None, None]);
    }

    #[test]
    fn escapes_decode() {
        let v = parse(r#""a\n\u00e9\ud83d\ude00""#).unwrap();
        assert_eq!(v.kind, Kind::Str("a\né😀".into()));
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let e = parse("{\"a\": 1 \"b\": 2}").unwrap_err();
        assert_eq!(e.pos, at(1, 9));
        assert!(e.msg.starts_with("expected ',' or '}'"), "{}", e.msg);
        let e = parse("{\"a\": \"x").unwrap_err();
        assert_eq!(e.pos, at(1, 7));
        let e = parse("/* open").unwrap_err();
        assert_eq!(e.pos, at(1, 1));
        let e = parse("{} x").unwrap_err();
        assert_eq!(e.pos, at(1, 4));
        let e = parse("").unwrap_err();
        assert_eq!(e.msg, "expected a JSON value, got the end of the file");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(10_000);
        let e = parse(&deep).unwrap_err();
        assert!(e.msg.contains("levels of nesting"), "{}", e.msg);
    }
}
