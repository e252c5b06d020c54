//! The binary-argument printf used by `bpf_trace_printk`, `bpf_snprintf`
//! and the `scx_bpf_{exit,error,dump}_bstr` kfuncs.
//!
//! It validates a format the way the kernel's `bpf_bprintf_prepare()` does
//! (same accepted conversions, flags and width, same `-EINVAL`/`-ENOSPC`
//! failures, at most [`MAX_ARGS`] arguments and [`BIN_ARGS_BYTES`] of
//! packed argument space) and renders it like the kernel's `vsnprintf`
//! restricted to those conversions. Plain `%p` prints the raw value in hex
//! (the kernel hashes pointers; a simulator prefers reproducible text).

/// Maximum number of format arguments (`MAX_BPRINTF_VARARGS`).
pub const MAX_ARGS: usize = 12;
/// Packed binary-argument buffer size (`MAX_BPRINTF_BIN_ARGS`).
pub const BIN_ARGS_BYTES: usize = 512;
/// Line buffer of the scx bstr kfuncs (`SCX_EXIT_MSG_LEN`); output is at
/// most one less.
pub const SCX_LINE_LEN: usize = 1024;

/// Field widths are clamped to this (output lines are far shorter).
pub const MAX_WIDTH: usize = 1 << 16;

/// `-EINVAL`.
pub const EINVAL: i32 = -22;
/// `-ENOSPC`.
pub const ENOSPC: i32 = -28;
/// `-EFAULT`.
pub const EFAULT: i32 = -14;

/// One parsed conversion.
#[derive(Debug, Clone, Copy)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    width: usize,
}

/// Reads guest memory for `%s`-like conversions: (address, max bytes) →
/// bytes up to (not including) the NUL, `None` on a bad pointer.
pub type ReadStr<'a> = &'a mut dyn FnMut(u64, usize) -> Option<Vec<u8>>;

fn pad(out: &mut Vec<u8>, body: &[u8], s: &Spec, numeric: bool) {
    let fill = s.width.saturating_sub(body.len());
    if s.left {
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(b' ', fill));
    } else if s.zero && numeric {
        let sign = body
            .first()
            .filter(|c| matches!(c, b'-' | b'+' | b' '))
            .copied();
        let digits = if sign.is_some() { &body[1..] } else { body };
        out.extend(sign);
        out.extend(std::iter::repeat_n(b'0', fill));
        out.extend_from_slice(digits);
    } else {
        out.extend(std::iter::repeat_n(b' ', fill));
        out.extend_from_slice(body);
    }
}

fn signed_body(v: i64, s: &Spec) -> Vec<u8> {
    let mut b = Vec::new();
    if v >= 0 && s.plus {
        b.push(b'+');
    } else if v >= 0 && s.space {
        b.push(b' ');
    }
    b.extend_from_slice(v.to_string().as_bytes());
    b
}

fn ipv4(b: &[u8], lead: bool) -> String {
    let parts: Vec<String> = b
        .iter()
        .map(|x| {
            if lead {
                format!("{x:03}")
            } else {
                x.to_string()
            }
        })
        .collect();
    parts.join(".")
}

fn ipv6(b: &[u8], colons: bool) -> String {
    let groups: Vec<String> = b
        .chunks(2)
        .map(|c| format!("{:02x}{:02x}", c[0], c[1]))
        .collect();
    groups.join(if colons { ":" } else { "" })
}

struct Fmt<'a, 'r> {
    fmt: &'a [u8],
    i: usize,
    args: &'a [u64],
    used: usize,
    space: usize,
    out: Vec<u8>,
    read: ReadStr<'r>,
}

impl Fmt<'_, '_> {
    fn at(&self, k: usize) -> u8 {
        self.fmt.get(k).copied().unwrap_or(0)
    }

    fn next_arg(&mut self, bytes: usize) -> Result<u64, i32> {
        let v = *self.args.get(self.used).ok_or(EINVAL)?;
        self.used += 1;
        let aligned = self.space.next_multiple_of(4);
        if BIN_ARGS_BYTES.saturating_sub(aligned) < bytes {
            return Err(ENOSPC);
        }
        self.space = aligned + bytes;
        Ok(v)
    }

    fn string_arg(&mut self, ptr: u64) -> Result<Vec<u8>, i32> {
        let room = BIN_ARGS_BYTES - self.space;
        if room == 0 {
            return Err(ENOSPC);
        }
        let s = (self.read)(ptr, room - 1).unwrap_or_default();
        self.space += s.len() + 1;
        Ok(s)
    }

    fn spec(&mut self) -> Spec {
        let mut s = Spec {
            left: false,
            zero: false,
            plus: false,
            space: false,
            width: 0,
        };
        loop {
            match self.at(self.i) {
                b'-' => s.left = true,
                b'0' => s.zero = true,
                b'+' => s.plus = true,
                b' ' => s.space = true,
                _ => break,
            }
            self.i += 1;
        }
        if (b'1'..=b'9').contains(&self.at(self.i)) {
            while self.at(self.i).is_ascii_digit() {
                s.width = (s.width * 10 + (self.at(self.i) - b'0') as usize).min(MAX_WIDTH);
                self.i += 1;
            }
        }
        s
    }

    /// After `%s`/`%pks`: the next char must end the word.
    fn word_end_ok(&self, k: usize) -> bool {
        let c = self.at(k);
        c == 0 || c.is_ascii_whitespace() || c.is_ascii_punctuation()
    }

    fn pointer(&mut self, s: &Spec) -> Result<(), i32> {
        let next = self.at(self.i + 1);
        if self.word_end_ok(self.i + 1) {
            let v = self.next_arg(8)?;
            pad(&mut self.out, format!("{v:#x}").as_bytes(), s, false);
            return Ok(());
        }
        match next {
            b'k' | b'u' if self.at(self.i + 2) == b's' => {
                self.i += 2;
                self.string(s)
            }
            b'K' | b'x' | b's' | b'S' | b'B' => {
                self.i += 1;
                let v = self.next_arg(8)?;
                pad(&mut self.out, format!("{v:#x}").as_bytes(), s, false);
                Ok(())
            }
            b'i' | b'I' if matches!(self.at(self.i + 2), b'4' | b'6') => {
                let v4 = self.at(self.i + 2) == b'4';
                self.i += 2;
                let ptr = self.next_arg(0)?;
                let n = if v4 { 4 } else { 16 };
                let raw = (self.read)(ptr, n)
                    .filter(|b| b.len() == n)
                    .unwrap_or_else(|| vec![0; n]);
                let text = if v4 {
                    ipv4(&raw, next == b'i')
                } else {
                    ipv6(&raw, next == b'I')
                };
                self.space += text.len() + 1;
                pad(&mut self.out, text.as_bytes(), s, false);
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }

    fn string(&mut self, s: &Spec) -> Result<(), i32> {
        if !self.word_end_ok(self.i + 1) {
            return Err(EINVAL);
        }
        let ptr = *self.args.get(self.used).ok_or(EINVAL)?;
        self.used += 1;
        let body = self.string_arg(ptr)?;
        pad(&mut self.out, &body, s, false);
        Ok(())
    }

    fn integer(&mut self, s: &Spec) -> Result<(), i32> {
        let mut long = 0;
        while self.at(self.i) == b'l' && long < 2 {
            long += 1;
            self.i += 1;
        }
        let conv = self.at(self.i);
        if !matches!(conv, b'i' | b'd' | b'u' | b'x' | b'X') {
            return Err(EINVAL);
        }
        let v = self.next_arg(if long == 0 { 4 } else { 8 })?;
        let v = if long == 0 { v as u32 as u64 } else { v };
        let body = match conv {
            b'i' | b'd' if long == 0 => signed_body(v as u32 as i32 as i64, s),
            b'i' | b'd' => signed_body(v as i64, s),
            b'u' => v.to_string().into_bytes(),
            b'x' => format!("{v:x}").into_bytes(),
            _ => format!("{v:X}").into_bytes(),
        };
        pad(&mut self.out, &body, s, true);
        Ok(())
    }

    fn conversion(&mut self) -> Result<(), i32> {
        if self.used >= self.args.len() {
            return Err(EINVAL);
        }
        self.i += 1;
        if !self.at(self.i).is_ascii() {
            return Err(EINVAL);
        }
        let s = self.spec();
        match self.at(self.i) {
            b'p' => self.pointer(&s),
            b's' => self.string(&s),
            b'c' => {
                let v = self.next_arg(1)?;
                pad(&mut self.out, &[v as u8], &s, false);
                Ok(())
            }
            _ => self.integer(&s),
        }
    }

    fn run(mut self) -> Result<Vec<u8>, i32> {
        while self.i < self.fmt.len() {
            let c = self.fmt[self.i];
            if c.is_ascii() && !(c.is_ascii_graphic() || c == b' ') && !c.is_ascii_whitespace() {
                return Err(EINVAL);
            }
            if c != b'%' {
                self.out.push(c);
            } else if self.at(self.i + 1) == b'%' {
                self.out.push(b'%');
                self.i += 1;
            } else {
                self.conversion()?;
            }
            self.i += 1;
        }
        Ok(self.out)
    }
}

/// Format `fmt` (bytes up to its NUL) with `args`, truncating the result to
/// `line_len - 1` bytes. Errors are negative errno values.
pub fn format(fmt: &[u8], args: &[u64], line_len: usize, read: ReadStr<'_>) -> Result<String, i32> {
    let end = fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len());
    let f = Fmt {
        fmt: &fmt[..end],
        i: 0,
        args,
        used: 0,
        space: 0,
        out: Vec::new(),
        read,
    };
    let mut out = f.run()?;
    out.truncate(line_len.saturating_sub(1));
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Check the `(data, data__sz)` pair the way `__bstr_format()` does.
pub fn check_data(data: u64, data_sz: u32) -> Result<usize, i32> {
    if !data_sz.is_multiple_of(8) || data_sz as usize > MAX_ARGS * 8 || (data_sz != 0 && data == 0)
    {
        return Err(EINVAL);
    }
    Ok(data_sz as usize / 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[u64]) -> Result<String, i32> {
        let mut read = |p: u64, max: usize| -> Option<Vec<u8>> {
            match p {
                1 => Some(b"hello".iter().copied().take(max).collect()),
                2 => Some(vec![10, 0, 0, 1]),
                _ => None,
            }
        };
        format(fmt.as_bytes(), args, SCX_LINE_LEN, &mut read)
    }

    #[test]
    fn conversions() {
        assert_eq!(f("a %d b", &[(-5i64) as u64]).unwrap(), "a -5 b");
        assert_eq!(f("%d", &[0xffff_ffff_0000_0007]).unwrap(), "7");
        assert_eq!(f("%ld %lld", &[u64::MAX, 3]).unwrap(), "-1 3");
        assert_eq!(
            f("%u %lu", &[u64::MAX, u64::MAX]).unwrap(),
            "4294967295 18446744073709551615"
        );
        assert_eq!(
            f("%x %X %llx", &[255, 255, 0x1_0000_0000]).unwrap(),
            "ff FF 100000000"
        );
        assert_eq!(
            f("%i %c %s %%", &[42, b'Z' as u64, 1]).unwrap(),
            "42 Z hello %"
        );
        assert_eq!(
            f("[%5d|%-4d|%05d|%+d]", &[7, 7, (-7i64) as u64, 7]).unwrap(),
            "[    7|7   |-0007|+7]"
        );
        assert_eq!(f("%p", &[0x1234]).unwrap(), "0x1234");
        assert_eq!(f("%pI4 %pi4", &[2, 2]).unwrap(), "10.0.0.1 010.000.000.001");
        assert_eq!(
            f("%s!", &[99]).unwrap(),
            "!",
            "bad string pointer prints empty"
        );
    }

    #[test]
    fn failures() {
        assert_eq!(f("%d %d", &[1]), Err(EINVAL), "too few args");
        assert_eq!(f("%q", &[1]), Err(EINVAL));
        assert_eq!(f("%.3d", &[1]), Err(EINVAL), "no precision");
        assert_eq!(f("%sx", &[1]), Err(EINVAL), "%s must end a word");
        assert_eq!(f("a\x01b", &[]), Err(EINVAL), "control characters rejected");
        assert_eq!(f("%lllx", &[1]), Err(EINVAL));
        assert_eq!(check_data(1, 12), Err(EINVAL));
        assert_eq!(check_data(1, 104), Err(EINVAL));
        assert_eq!(check_data(0, 8), Err(EINVAL));
        assert_eq!(check_data(0, 0), Ok(0));
        assert_eq!(check_data(5, 96), Ok(12));
    }

    #[test]
    fn truncates_to_line() {
        let long = "x".repeat(2000);
        let mut read = |_: u64, _: usize| None;
        assert_eq!(
            format(long.as_bytes(), &[], SCX_LINE_LEN, &mut read)
                .unwrap()
                .len(),
            1023
        );
    }
}
