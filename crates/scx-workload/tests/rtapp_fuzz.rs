//! Property tests: whatever the input — random JSON, random rt-app-shaped
//! documents, or the example files with random damage — the reader never
//! panics, and either returns a valid workload whose warnings are
//! positioned lines, or one positioned single-line error.

mod common;

use common::*;
use proptest::prelude::*;
use scx_workload::rtapp;

const FILE: &str = "wl.json";

/// Runs the reader on `text` and checks the shape of whatever comes out.
fn check(text: &str, nr_cpus: usize) {
    match rtapp::parse(text, FILE, nr_cpus) {
        Ok(w) => {
            w.validate(nr_cpus).unwrap();
            for warning in &w.warnings {
                assert!(warning.starts_with("wl.json:"), "{warning}");
                assert!(!warning.contains('\n'), "{warning:?}");
            }
        }
        Err(e) => assert_positioned(&e, FILE, text),
    }
}

/// A JSON string literal.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Words rt-app files use, as keys and values.
const WORDS: &[&str] = &[
    "tasks",
    "global",
    "resources",
    "phases",
    "loop",
    "instance",
    "delay",
    "cpus",
    "policy",
    "priority",
    "taskgroup",
    "run",
    "runtime",
    "sleep",
    "timer",
    "ref",
    "period",
    "mode",
    "lock",
    "unlock",
    "wait",
    "signal",
    "broad",
    "sync",
    "mutex",
    "suspend",
    "resume",
    "barrier",
    "yield",
    "fork",
    "mem",
    "iorun",
    "duration",
    "default_policy",
    "calibration",
    "util_min",
    "SCHED_FIFO",
    "SCHED_OTHER",
    "SCHED_DEADLINE",
    "absolute",
    "relative",
    "unique",
    "/",
    "/a/b",
    "t0",
    "",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(|w| w.to_string())
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => word(), 1 => "\\PC{0,6}"].prop_map(|k| quoted(&k))
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        (-3i64..100_000).prop_map(|i| i.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        (-1e12f64..1e12).prop_map(|f| format!("{f:e}")),
        word().prop_map(|w| quoted(&w)),
        "\\PC{0,8}".prop_map(|s| quoted(&s)),
    ]
}

/// Any JSON value, biased towards rt-app's vocabulary.
fn json() -> impl Strategy<Value = String> {
    leaf().prop_recursive(5, 80, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((key(), inner), 0..6).prop_map(|kv| {
                let members: Vec<String> =
                    kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", members.join(", "))
            }),
        ]
    })
}

/// A duration, sometimes invalid.
fn duration() -> impl Strategy<Value = String> {
    prop_oneof![8 => (0u32..20_000).prop_map(|d| d.to_string()), 1 => leaf()]
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(&["a", "b", "c", "unique", "uniqueA", "", "t0", "t1", "zz"][..])
        .prop_map(quoted)
}

/// One event as `"key": value`, mostly well formed.
fn event() -> impl Strategy<Value = (String, String)> {
    let obj = |a: String, b: String| format!("{{\"ref\": {a}, \"mutex\": {b}}}");
    prop_oneof![
        3 => duration().prop_map(|d| ("run".to_string(), d)),
        3 => duration().prop_map(|d| ("runtime".to_string(), d)),
        3 => duration().prop_map(|d| ("sleep".to_string(), d)),
        3 => (name(), duration(), prop::sample::select(&["", ", \"mode\": \"absolute\"", ", \"mode\": \"relative\""][..]))
            .prop_map(|(n, p, m)| ("timer".to_string(), format!("{{\"ref\": {n}, \"period\": {p}{m}}}"))),
        3 => name().prop_map(|n| ("lock".to_string(), n)),
        3 => name().prop_map(|n| ("unlock".to_string(), n)),
        3 => name().prop_map(|n| ("signal".to_string(), n)),
        3 => name().prop_map(|n| ("broad".to_string(), n)),
        3 => (name(), name()).prop_map(move |(a, b)| ("wait".to_string(), obj(a, b))),
        3 => (name(), name()).prop_map(move |(a, b)| ("sync".to_string(), obj(a, b))),
        3 => name().prop_map(|n| ("suspend".to_string(), n)),
        3 => name().prop_map(|n| ("resume".to_string(), n)),
        3 => name().prop_map(|n| ("barrier".to_string(), n)),
        3 => Just(("yield".to_string(), "\"\"".to_string())),
        3 => prop::sample::select(&["t0", "t1", "t2", "t0", "t1", "zz"][..]).prop_map(|n| ("fork".to_string(), quoted(n))),
        3 => duration().prop_map(|d| ("mem".to_string(), d)),
        1 => (key(), leaf()),
    ]
}

/// Optional task or phase properties, each at most once.
fn properties() -> impl Strategy<Value = Vec<String>> {
    let cpus = prop::collection::vec(0i64..6, 1..4).prop_map(|c| {
        let list: Vec<String> = c.iter().map(|c| c.to_string()).collect();
        format!("\"cpus\": [{}]", list.join(", "))
    });
    let policies = &[
        "SCHED_OTHER",
        "SCHED_FIFO",
        "SCHED_RR",
        "SCHED_IDLE",
        "SCHED_BATCH",
        "SCHED_OTHER",
        "SCHED_FIFO",
        "SCHED_OTHER",
        "SCHED_DEADLINE",
        "bad",
    ][..];
    let policy = prop::sample::select(policies).prop_map(|p| format!("\"policy\": \"{p}\""));
    let groups = &["", "/", "/a", "/a/b", "//a//", "/c", "/a", "x"][..];
    let tg = prop::sample::select(groups).prop_map(|t| format!("\"taskgroup\": \"{t}\""));
    let some = |p: f64| p;
    (
        prop::option::weighted(some(0.3), (-3i64..5).prop_map(|l| format!("\"loop\": {l}"))),
        prop::option::weighted(some(0.3), cpus),
        prop::option::weighted(some(0.3), policy),
        prop::option::weighted(
            some(0.3),
            prop_oneof![4 => 1i64..20, 1 => -25i64..105].prop_map(|p| format!("\"priority\": {p}")),
        ),
        prop::option::weighted(some(0.2), tg),
        prop::option::weighted(
            some(0.1),
            (-1i64..3).prop_map(|i| format!("\"util_min\": {i}")),
        ),
    )
        .prop_map(|(a, b, c, d, e, f)| [a, b, c, d, e, f].into_iter().flatten().collect())
}

/// The members of an object holding properties and numbered events.
fn body() -> impl Strategy<Value = String> {
    (properties(), prop::collection::vec(event(), 1..6)).prop_map(|(props, events)| {
        let evs = events.into_iter().enumerate().map(|(i, (k, v))| {
            let k = if k.starts_with('"') {
                k
            } else {
                quoted(&format!("{k}{i}"))
            };
            format!("{k}: {v}")
        });
        props.into_iter().chain(evs).collect::<Vec<_>>().join(", ")
    })
}

fn task() -> impl Strategy<Value = String> {
    let phases = prop::collection::vec(body(), 1..4).prop_map(|ps| {
        let list: Vec<String> = ps
            .iter()
            .enumerate()
            .map(|(i, p)| format!("\"p{i}\": {{{p}}}"))
            .collect();
        format!("\"phases\": {{{}}}", list.join(", "))
    });
    (
        0u32..3,
        prop::option::of(0u32..1000),
        body(),
        prop::option::of(phases),
    )
        .prop_map(|(inst, delay, b, phases)| {
            let mut parts = vec![format!("\"instance\": {inst}")];
            parts.extend(delay.map(|d| format!("\"delay\": {d}")));
            parts.extend(phases);
            if !b.is_empty() {
                parts.push(b);
            }
            format!("{{{}}}", parts.join(", "))
        })
}

/// A document shaped like an rt-app file.
fn rtapp_doc() -> impl Strategy<Value = String> {
    let global = prop::option::of(
        (-2i64..5, prop::sample::select(&["SCHED_OTHER", "SCHED_FIFO", "SCHED_DEADLINE"][..]))
            .prop_map(|(d, p)| format!("\"global\": {{\"duration\": {d}, \"default_policy\": \"{p}\", \"calibration\": \"CPU0\"}}")),
    );
    (global, prop::collection::vec(task(), 1..4)).prop_map(|(g, tasks)| {
        let list: Vec<String> = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| format!("\"t{i}\": {t}"))
            .collect();
        let mut parts: Vec<String> = g.into_iter().collect();
        parts.push(format!("\"tasks\": {{{}}}", list.join(", ")));
        format!("{{{}}}", parts.join(", "))
    })
}

/// A change to a text.
#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let tokens = &[
        ",",
        "}",
        "{",
        "]",
        "[",
        "\"",
        ":",
        "-1",
        "0",
        "1.5",
        "\"run\": 5",
        "/*",
        "*/",
        "//",
        "\n",
        "é",
        "null",
        "\\",
    ][..];
    prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), prop::sample::select(tokens)).prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Edit::Duplicate(a, n)),
    ]
}

/// Applies `e` to `text` at character positions (wrapping around).
fn apply(text: &str, e: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |a: usize| {
        if chars.is_empty() {
            0
        } else {
            a % (chars.len() + 1)
        }
    };
    let split = |a: usize| -> (String, String) {
        (chars[..a].iter().collect(), chars[a..].iter().collect())
    };
    match *e {
        Edit::Delete(a, n) => {
            let a = at(a);
            let end = (a + n).min(chars.len());
            chars[..a].iter().chain(&chars[end..]).collect()
        }
        Edit::Insert(a, t) => {
            let (h, tl) = split(at(a));
            format!("{h}{t}{tl}")
        }
        Edit::Duplicate(a, n) => {
            let a = at(a);
            let end = (a + n).min(chars.len());
            let piece: String = chars[a..end].iter().collect();
            let (h, tl) = split(end);
            format!("{h}{piece}{tl}")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_json_never_panics(text in json(), nr_cpus in 0usize..9) {
        check(&text, nr_cpus);
        check(&format!("{{\"tasks\": {text}}}"), nr_cpus);
    }

    #[test]
    fn rtapp_shaped_documents_never_panic(text in rtapp_doc(), nr_cpus in 1usize..9) {
        check(&text, nr_cpus);
    }

    #[test]
    fn damaged_examples_never_panic(
        which in prop::sample::select(EXAMPLES),
        edits in prop::collection::vec(edit(), 1..5),
        nr_cpus in 1usize..9,
    ) {
        let mut text = example_text(which);
        for e in &edits {
            text = apply(&text, e);
        }
        check(&text, nr_cpus);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text, 4);
    }
}

#[test]
fn generated_documents_sometimes_parse() {
    // Guards the generators: a fuzzer that only ever produces errors would
    // not exercise the lowering.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = rtapp_doc();
    let mut ok = 0;
    for _ in 0..300 {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        ok += usize::from(rtapp::parse(&text, FILE, 8).is_ok());
    }
    assert!(ok >= 60, "only {ok} of 300 generated documents parsed");
}
