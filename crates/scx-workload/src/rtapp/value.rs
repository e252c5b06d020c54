//! Typed access to parsed JSON values, failing with positioned
//! "expected X for "key", got Y" messages.
//!
//! Every accessor names what it wanted and quotes what it found, so a
//! message reads e.g. `expected a non-negative duration in microseconds for
//! "sleep", got -5`, positioned on the value.

use super::error::{Fail, Res};
use super::json::{Kind, Member, Value};

/// Longest quoted string shown in a message before it is shortened.
const QUOTE_MAX: usize = 40;

/// Quotes a string for a message, escaping control characters and
/// shortening long text.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        if i == QUOTE_MAX {
            out.push_str("...");
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Value {
    /// Short description of the value for "got ..." messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Number { text, .. } => text.chars().take(QUOTE_MAX).collect(),
            Kind::Str(s) => quote(s),
            Kind::Array(_) => "an array".into(),
            Kind::Object(_) => "an object".into(),
        }
    }

    /// A failure at this value: "expected {what} for {key}, got ...".
    pub fn expected(&self, what: &str, key: &str) -> Fail {
        Fail::new(
            self.pos,
            format!(
                "expected {what} for {}, got {}",
                quote(key),
                self.describe()
            ),
        )
    }

    /// The members of an object.
    pub fn object(&self, key: &str) -> Res<&[Member]> {
        match &self.kind {
            Kind::Object(m) => Ok(m),
            _ => Err(self.expected("an object", key)),
        }
    }

    /// The items of an array.
    pub fn array(&self, key: &str) -> Res<&[Value]> {
        match &self.kind {
            Kind::Array(items) => Ok(items),
            _ => Err(self.expected("an array", key)),
        }
    }

    /// A string.
    pub fn string(&self, what: &str, key: &str) -> Res<&str> {
        match &self.kind {
            Kind::Str(s) => Ok(s),
            _ => Err(self.expected(what, key)),
        }
    }

    /// An integer, whatever its range.
    pub fn integer(&self, what: &str, key: &str) -> Res<i64> {
        match &self.kind {
            Kind::Number { int: Some(i), .. } => Ok(*i),
            _ => Err(self.expected(what, key)),
        }
    }

    /// An integer within `lo..=hi`; `what` describes the expectation.
    pub fn int_in(&self, lo: i64, hi: i64, what: &str, key: &str) -> Res<i64> {
        let v = self.integer(what, key)?;
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.expected(what, key))
        }
    }

    /// True for a string value.
    pub fn is_string(&self) -> bool {
        matches!(self.kind, Kind::Str(_))
    }

    /// True for an integer value.
    pub fn is_integer(&self) -> bool {
        matches!(self.kind, Kind::Number { int: Some(_), .. })
    }
}

#[cfg(test)]
mod tests {
    use super::super::json::parse;

    #[test]
    fn messages_quote_what_was_found() {
        let v = parse("-5").unwrap();
        let e = v
            .int_in(0, 10, "a non-negative duration in microseconds", "sleep")
            .unwrap_err();
        assert_eq!(
            e.msg,
            "expected a non-negative duration in microseconds for \"sleep\", got -5"
        );
        let v = parse("\"a\\nb\"").unwrap();
        assert_eq!(v.describe(), "\"a\\u000ab\"");
        let long = format!("\"{}\"", "x".repeat(100));
        assert!(parse(&long).unwrap().describe().ends_with("...\""));
    }
}
