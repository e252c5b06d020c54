//! POSIX `getopt()` as the example loaders use it, with `strtoul(.., 0)`
//! number parsing.
//!
//! Like glibc's, options may be clustered (`-Pv`) and an option argument
//! may be attached (`-l100`) or separate (`-l 100`); `--` ends options.
//! Unlike glibc's, a non-option argument is an error (the loaders take
//! none), and so is a number `strtoul` would silently read as 0.

/// One parsed option: the letter and its argument, if it takes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    /// Option letter.
    pub letter: char,
    /// Its argument.
    pub arg: Option<String>,
}

/// Parses `args` against a getopt option string such as `"s:e:t:Pvh"`.
/// Errors are one line, as glibc words them (without the program name).
pub fn getopt(args: &[String], optstring: &str) -> Result<Vec<Opt>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            if i < args.len() {
                return Err(format!("unexpected argument '{}'", args[i]));
            }
            break;
        }
        let Some(body) = a.strip_prefix('-').filter(|b| !b.is_empty()) else {
            return Err(format!("unexpected argument '{a}'"));
        };
        let chars: Vec<char> = body.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            let Some(pos) = optstring.find(c).filter(|_| c != ':') else {
                return Err(format!("invalid option -- '{c}'"));
            };
            let takes_arg = optstring[pos + c.len_utf8()..].starts_with(':');
            if !takes_arg {
                out.push(Opt {
                    letter: c,
                    arg: None,
                });
                continue;
            }
            let arg = if j < chars.len() {
                let rest: String = chars[j..].iter().collect();
                j = chars.len();
                rest
            } else if i < args.len() {
                i += 1;
                args[i - 1].clone()
            } else {
                return Err(format!("option requires an argument -- '{c}'"));
            };
            out.push(Opt {
                letter: c,
                arg: Some(arg),
            });
        }
    }
    Ok(out)
}

/// `strtoull(s, NULL, 0)`: decimal, `0x` hex or `0` octal, with an
/// optional sign (negative values wrap as in C).
pub fn strtoul(s: &str, what: char) -> Result<u64, String> {
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8)
    } else {
        t.parse::<u64>()
    };
    let v = v.map_err(|_| format!("option -{what}: expected a number, got '{s}'"))?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// `strtol(s, NULL, 0)` as a signed value.
pub fn strtol(s: &str, what: char) -> Result<i64, String> {
    strtoul(s, what).map(|v| v as i64)
}

/// `strtod(s)` for options taking a float (scx_flatcg's `-s`, `-i`).
pub fn strtod(s: &str, what: char) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("option -{what}: expected a number, got '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_like_getopt() {
        let o = getopt(&v(&["-l", "100", "-Pv", "-b5"]), "l:b:Pv").unwrap();
        assert_eq!(
            o,
            vec![
                Opt {
                    letter: 'l',
                    arg: Some("100".into())
                },
                Opt {
                    letter: 'P',
                    arg: None
                },
                Opt {
                    letter: 'v',
                    arg: None
                },
                Opt {
                    letter: 'b',
                    arg: Some("5".into())
                },
            ]
        );
    }

    #[test]
    fn errors_are_glibc_worded() {
        assert_eq!(
            getopt(&v(&["-z"]), "l:").unwrap_err(),
            "invalid option -- 'z'"
        );
        assert_eq!(
            getopt(&v(&["-l"]), "l:").unwrap_err(),
            "option requires an argument -- 'l'"
        );
        assert!(getopt(&v(&["stray"]), "l:").is_err());
    }

    #[test]
    fn numbers_like_strtoul() {
        assert_eq!(strtoul("100", 'l').unwrap(), 100);
        assert_eq!(strtoul("0x10", 'l').unwrap(), 16);
        assert_eq!(strtoul("010", 'l').unwrap(), 8);
        assert_eq!(strtol("-1", 'd').unwrap(), -1);
        assert!(strtoul("abc", 'l').is_err());
    }
}
