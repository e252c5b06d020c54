//! Fuzz target for `scx_workload::rtapp::parse`: any input must give either
//! a valid workload or one positioned, single-line error, and never panic.
//! The machine size comes from the first byte so CPU checks are exercised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scx_workload::rtapp;

fuzz_target!(|data: &[u8]| {
    let Some((&cpus, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let nr_cpus = usize::from(cpus % 17);
    match rtapp::parse(text, "fuzz.json", nr_cpus) {
        Ok(w) => {
            if let Err(e) = w.validate(nr_cpus) {
                panic!("invalid workload: {e}");
            }
            assert!(w
                .warnings
                .iter()
                .all(|x| x.starts_with("fuzz.json:") && !x.contains('\n')));
        }
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n') && !s.contains('\r'), "{s:?}");
            assert!(e.line >= 1 && e.column >= 1, "{s}");
            assert!(
                s.starts_with(&format!("fuzz.json:{}:{}: ", e.line, e.column)),
                "{s}"
            );
            let lines = text.split('\n').count() as u32;
            assert!(e.line <= lines.max(1), "{s}");
        }
    }
});
