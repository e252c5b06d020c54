//! Positions in the input and the error type of the rt-app reader.
//!
//! Every problem is reported against one place in the file: a [`Pos`] is the
//! 1-based line and column (in characters, a tab counting as one) of the
//! token at fault. Inside the reader a problem is a [`Fail`] (position and
//! message); [`RtAppError`] adds the file name for the caller.

use std::fmt;

/// 1-based line and column of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    /// Line, counting from 1.
    pub line: u32,
    /// Column in characters, counting from 1.
    pub col: u32,
}

impl Pos {
    /// The first character of the file.
    pub const START: Pos = Pos { line: 1, col: 1 };
}

/// A problem found while reading: where, and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fail {
    /// Position of the offending token.
    pub pos: Pos,
    /// One-line description, normally "expected X, got Y".
    pub msg: String,
}

impl Fail {
    /// A problem at `pos`.
    pub fn new(pos: Pos, msg: impl Into<String>) -> Fail {
        Fail {
            pos,
            msg: msg.into(),
        }
    }
}

/// Result type used throughout the reader.
pub(crate) type Res<T> = Result<T, Fail>;

/// Why an rt-app file could not be turned into a workload.
///
/// Displays as exactly one line, `file:line:column: message`, where line and
/// column (both 1-based, columns counted in characters) locate the offending
/// token. Problems reading the file itself are reported at `1:1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtAppError {
    /// The file name as given to [`super::parse`] or [`super::load`].
    pub file: String,
    /// 1-based line of the offending token.
    pub line: u32,
    /// 1-based column (in characters) of the offending token.
    pub column: u32,
    /// What was expected there, on one line.
    pub message: String,
}

impl RtAppError {
    /// Attaches a file name to a reader problem, flattening the message to
    /// one line.
    pub(crate) fn from_fail(file: &str, fail: Fail) -> RtAppError {
        RtAppError {
            file: file.to_string(),
            line: fail.pos.line,
            column: fail.pos.col,
            message: one_line(&fail.msg),
        }
    }
}

impl fmt::Display for RtAppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for RtAppError {}

/// Replaces line breaks and other control characters so a message stays on
/// one line whatever text it quotes.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Renders `pos` in `file` as `file:line:column`.
pub(crate) fn locate(file: &str, pos: Pos) -> String {
    format!("{}:{}:{}", file, pos.line, pos.col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_on_one_line() {
        let e = RtAppError::from_fail("wl.json", Fail::new(Pos { line: 3, col: 7 }, "bad\nthing"));
        assert_eq!(e.to_string(), "wl.json:3:7: bad thing");
    }
}
