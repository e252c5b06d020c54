//! The scx_central and scx_flatcg loaders: flags, help texts, what they
//! print and when, and what they keep across a restart.

mod common;

use common::*;
use scx_kernel::ops::downcast_ref;
use scx_machine::clock::{NSEC_PER_MSEC, NSEC_PER_SEC};
use scx_scheds::central::{Central, CentralTool};
use scx_scheds::flatcg::{Flatcg, FlatcgTool, Stat, FCG_NR_STATS};
use scx_scheds::tool::{make_tool, tool_help, with_sched, Tool, ToolError, TOOLS};
use scx_workload::{Repeat, Step, TaskSpec, Workload};

const CENTRAL_HELP: &str = "A central FIFO sched_ext scheduler.

See the top-level comment in .bpf.c for more details.

Usage: scx_central [-s SLICE_US] [-c CPU]

  -s SLICE_US   Override slice duration
  -c CPU        Override the central CPU (default: 0)
  -v            Print libbpf debug messages
  -h            Display this help and exit
";

const FLATCG_HELP: &str = "A flattened cgroup hierarchy sched_ext scheduler.

See the top-level comment in .bpf.c for more details.

Usage: scx_flatcg [-s SLICE_US] [-i INTERVAL] [-f] [-v]

  -s SLICE_US   Override slice duration
  -i INTERVAL   Report interval
  -f            Use FIFO scheduling instead of weighted vtime scheduling
  -v            Print libbpf debug messages
  -h            Display this help and exit
";

fn hogs(n: u32) -> Workload {
    let spin = Step::Loop {
        repeat: Repeat::Forever,
        body: vec![Step::Run(NSEC_PER_SEC)],
    };
    let mut w = Workload::default();
    w.tasks.push(TaskSpec::new("hog", vec![spin]).instances(n));
    w
}

fn usage_of(name: &str, a: &[&str]) -> String {
    match make_tool(name, &args(a)) {
        Err(ToolError::Usage(u)) => u,
        Err(ToolError::Help(_)) => panic!("{a:?}: help instead of a usage error"),
        Ok(_) => panic!("{a:?}: accepted"),
    }
}

/// True if `line` has the layout of `template`, where `{N}` stands for a
/// number right-aligned in exactly N columns and `{}` for any number.
fn has_layout(line: &str, template: &str) -> bool {
    let mut rest = line;
    let mut t = template;
    while !t.is_empty() {
        if let Some(after) = t.strip_prefix('{') {
            let (width, tail) = after.split_once('}').expect("template");
            let field_len = match width.parse::<usize>() {
                Ok(w) => w,
                Err(_) => rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len()),
            };
            let Some(field) = rest.get(..field_len) else {
                return false;
            };
            let digits = field.trim_start_matches(' ');
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return false;
            }
            rest = &rest[field_len..];
            t = tail;
        } else {
            let lit_len = t.find('{').unwrap_or(t.len());
            let Some(r) = rest.strip_prefix(&t[..lit_len]) else {
                return false;
            };
            rest = r;
            t = &t[lit_len..];
        }
    }
    rest.is_empty()
}

#[test]
fn layout_matcher_works() {
    assert!(has_layout("total   :        13 x", "total   :{10} x"));
    assert!(!has_layout("total   :       13 x", "total   :{10} x"));
    assert!(has_layout("[SEQ 12]", "[SEQ {}]"));
    assert!(!has_layout("[SEQ ]", "[SEQ {}]"));
}

#[test]
fn both_tools_are_registered() {
    let names: Vec<&str> = TOOLS.iter().map(|(n, _)| *n).collect();
    assert!(
        names.contains(&"central") && names.contains(&"flatcg"),
        "{names:?}"
    );
    for (name, prog) in [
        ("central", "scx_central"),
        ("scx_central", "scx_central"),
        ("flatcg", "scx_flatcg"),
        ("scx_flatcg", "scx_flatcg"),
    ] {
        let t = make_tool(name, &[]).unwrap_or_else(|_| panic!("{name}"));
        assert_eq!(t.program_name(), prog);
    }
}

// ---------------------------------------------------------------------
// scx_central

#[test]
fn central_help_is_the_real_text() {
    assert_eq!(tool_help("central").as_deref(), Some(CENTRAL_HELP));
}

#[test]
fn central_flags_fill_the_rodata() {
    let t = CentralTool::parse(&args(&["-s", "5000", "-c2", "-v"])).expect("flags");
    assert_eq!(t.knobs().slice_ns, 5_000_000);
    assert_eq!(t.knobs().central_cpu, 2);
    let t = CentralTool::parse(&args(&["-s", "0x10"])).expect("hex");
    assert_eq!(t.knobs().slice_ns, 16_000);
    let d = CentralTool::parse(&[]).expect("defaults");
    assert_eq!(d.knobs().slice_ns, scx_kernel::consts::SCX_SLICE_DFL);
    assert_eq!(d.knobs().central_cpu, 0);
}

#[test]
fn central_p_is_accepted_by_getopt_but_unhandled() {
    let u = usage_of("central", &["-p"]);
    assert!(
        u.starts_with("scx_central: unhandled option -- 'p'\n"),
        "{u}"
    );
    assert!(u.ends_with(CENTRAL_HELP), "{u}");
    assert_eq!(
        usage_of("central", &["-z"]),
        "scx_central: invalid option -- 'z'"
    );
    assert_eq!(
        usage_of("central", &["-s"]),
        "scx_central: option requires an argument -- 's'"
    );
}

#[test]
fn central_prints_its_counters_every_second() {
    let cfg = config("central", &[], 2, hogs(3), 3500 * NSEC_PER_MSEC);
    let o = run_quiet(&cfg);
    assert_eq!(o.res.exit_code(), 0);
    assert_eq!(o.err, "EXIT: unregistered from user space\n");
    let lines: Vec<&str> = o
        .out
        .lines()
        .filter(|l| !l.starts_with('[') || l.starts_with("[SEQ"))
        .collect();
    assert_eq!(lines.len(), 4 * 4, "{}", o.out);
    for (seq, block) in lines.chunks(4).enumerate() {
        assert_eq!(block[0], format!("[SEQ {seq}]"));
        assert!(
            has_layout(
                block[1],
                "total   :{10}    local:{10}   queued:{10}  lost:{10}"
            ),
            "{}",
            block[1]
        );
        assert!(
            has_layout(
                block[2],
                "timer   :{10} dispatch:{10} mismatch:{10} retry:{10}"
            ),
            "{}",
            block[2]
        );
        assert!(has_layout(block[3], "overflow:{10}"), "{}", block[3]);
    }
    // The last block is printed at 3.02 s: about 3000 timer runs.
    let timers: u64 = lines[14]["timer   :".len().."timer   :".len() + 10]
        .trim()
        .parse()
        .expect("timer");
    assert!((2990..=3000).contains(&timers), "{timers}");
    assert!(
        !o.out.contains("WARNING"),
        "the timer is always pinned in scxsim"
    );
}

#[test]
fn central_restart_forgets_the_flags() {
    let k = attached("simple", &[], 2, hogs(1));
    let t = CentralTool::parse(&args(&["-c", "1", "-s", "1000"])).expect("flags");
    let first = t.scheduler(&k, false);
    let c = downcast_ref::<Central>(&*first).expect("central");
    assert_eq!(
        (c.knobs.central_cpu, c.knobs.slice_ns, c.knobs.nr_cpu_ids),
        (1, 1_000_000, 2)
    );
    let again = t.scheduler(&k, true);
    let c = downcast_ref::<Central>(&*again).expect("central");
    assert_eq!(
        (c.knobs.central_cpu, c.knobs.slice_ns, c.knobs.nr_cpu_ids),
        (0, 20_000_000, 2)
    );
    assert_eq!(c.cpu_gimme_task.len(), 2);
    assert!(t.restarts_on(1 << 48));
    assert!(!t.restarts_on(0));
}

// ---------------------------------------------------------------------
// scx_flatcg

#[test]
fn flatcg_help_is_the_real_text() {
    assert_eq!(tool_help("flatcg").as_deref(), Some(FLATCG_HELP));
}

#[test]
fn flatcg_flags_and_preamble() {
    let t =
        FlatcgTool::parse(&args(&["-s", "2500.5", "-i", "0.5", "-d", "-f", "-v"])).expect("flags");
    assert_eq!(t.knobs().cgrp_slice_ns, 2_500_500);
    assert!(t.knobs().fifo_sched);
    assert_eq!(t.interval(), 500 * NSEC_PER_MSEC);
    assert_eq!(
        t.preamble().as_deref(),
        Some("slice=2.5ms intv=0.5s dump_cgrps=1")
    );
    let d = FlatcgTool::parse(&[]).expect("defaults");
    assert_eq!(
        d.preamble().as_deref(),
        Some("slice=20.0ms intv=2.0s dump_cgrps=0")
    );
    assert_eq!(d.interval(), 2 * NSEC_PER_SEC);
    assert!(!d.knobs().fifo_sched);
    assert_eq!(
        usage_of("flatcg", &["-z"]),
        "scx_flatcg: invalid option -- 'z'"
    );
    assert!(usage_of("flatcg", &["-i", "0"]).contains("must be positive"));
    assert!(usage_of("flatcg", &["-s", "fast"]).contains("expected a number"));
}

#[test]
fn flatcg_prints_its_block_every_interval() {
    let cfg = config("flatcg", &["-i", "1"], 4, hogs(2), 3500 * NSEC_PER_MSEC);
    let o = run_quiet(&cfg);
    assert_eq!(o.res.exit_code(), 0);
    assert_eq!(o.err, "EXIT: unregistered from user space\n");
    // The preamble has no newline: stdout is line-buffered, so it waits
    // for the first block's leading newline, and the kernel log line
    // printed meanwhile comes first.
    let out: Vec<&str> = o.out.lines().filter(|l| !l.starts_with("[ ")).collect();
    assert_eq!(out[0], "slice=20.0ms intv=1.0s dump_cgrps=0", "{}", o.out);
    assert!(o.out.find("dump_cgrps=0").unwrap() > o.out.find("enabled").unwrap());
    // The newline that ended the preamble is the first block's leading one.
    let lines: Vec<&str> = std::iter::once("")
        .chain(out[1..].iter().copied())
        .collect();
    assert_eq!(lines.len(), 4 * 8, "{}", o.out);
    for (seq, block) in lines.chunks(8).enumerate() {
        assert_eq!(block[0], "", "each block starts with a newline");
        assert!(
            block[1].starts_with(&format!("[SEQ {seq:6} cpu=")),
            "{}",
            block[1]
        );
        assert!(
            has_layout(block[1], "[SEQ {6} cpu={5} hweight_gen={}]"),
            "{}",
            block[1]
        );
        assert!(
            has_layout(block[2], "       act:{6}  deact:{6} global:{6} local:{6}"),
            "{}",
            block[2]
        );
        assert!(
            has_layout(block[3], "HWT  cache:{6} update:{6}   skip:{6}  race:{6}"),
            "{}",
            block[3]
        );
        assert!(
            has_layout(block[4], "ENQ   skip:{6}   race:{6}"),
            "{}",
            block[4]
        );
        assert!(
            has_layout(block[5], "CNS   keep:{6} expire:{6}  empty:{6}  gone:{6}"),
            "{}",
            block[5]
        );
        assert!(
            has_layout(
                block[6],
                "PNC   next:{6}  empty:{6} nocgrp:{6}  gone:{6} race:{6} fail:{6}"
            ),
            "{}",
            block[6]
        );
        assert!(has_layout(block[7], "BAD remove:{6}"), "{}", block[7]);
    }
    // Two hogs on four CPUs: the machine is half busy once they run.
    let util: f64 = lines[25]["[SEQ      3 cpu=".len()..][..5]
        .trim()
        .parse()
        .expect("cpu=");
    assert!((48.0..=53.0).contains(&util), "cpu={util}");
}

#[test]
fn flatcg_blocks_are_deltas_except_bad_remove() {
    let mut k = attached("flatcg", &[], 2, hogs(3));
    let mut t = FlatcgTool::parse(&[]).expect("defaults");
    let totals =
        |k: &mut scx_kernel::Kernel| with_sched(k, |f: &Flatcg| f.totals()).expect("flatcg");
    k.run_until(500 * NSEC_PER_MSEC);
    let first = t.stats(&mut k);
    let acc1 = totals(&mut k);
    k.run_until(1500 * NSEC_PER_MSEC);
    let second = t.stats(&mut k);
    let acc2 = totals(&mut k);
    let field = |block: &[String], line: usize, label: &str| -> u64 {
        let l = &block[line];
        let at = l.find(label).unwrap_or_else(|| panic!("{label} in {l}")) + label.len();
        l[at..at + 6].trim().parse().expect("number")
    };
    let next = Stat::PncNext as usize;
    let expire = Stat::CnsExpire as usize;
    assert_eq!(field(&first, 6, "PNC   next:"), acc1[next]);
    assert_eq!(field(&second, 6, "PNC   next:"), acc2[next] - acc1[next]);
    assert_eq!(field(&second, 5, "expire:"), acc2[expire] - acc1[expire]);
    assert!(acc2[next] > acc1[next]);
    assert_eq!(acc2.len(), FCG_NR_STATS);
    assert_eq!(
        first[1],
        format!("[SEQ      0 cpu=100.0 hweight_gen={}]", 1)
    );
    assert!(second[1].starts_with("[SEQ      1 cpu=100.0 hweight_gen="));
}

#[test]
fn flatcg_restart_keeps_the_interval_but_not_the_knobs() {
    let k = attached("simple", &[], 2, hogs(1));
    let t = FlatcgTool::parse(&args(&["-s", "5000", "-i", "3", "-f", "-d"])).expect("flags");
    assert_eq!(
        t.preamble().as_deref(),
        Some("slice=5.0ms intv=3.0s dump_cgrps=1")
    );
    let first = t.scheduler(&k, false);
    let f = downcast_ref::<Flatcg>(&*first).expect("flatcg");
    assert_eq!(
        (f.knobs.cgrp_slice_ns, f.knobs.fifo_sched, f.knobs.nr_cpus),
        (5_000_000, true, 2)
    );
    // What the loader prints when it comes back after a restart.
    assert_eq!(
        t.preamble().as_deref(),
        Some("slice=20.0ms intv=3.0s dump_cgrps=1")
    );
    let again = t.scheduler(&k, true);
    let f = downcast_ref::<Flatcg>(&*again).expect("flatcg");
    assert_eq!(
        (f.knobs.cgrp_slice_ns, f.knobs.fifo_sched),
        (20_000_000, false)
    );
    assert_eq!(t.interval(), 3 * NSEC_PER_SEC);
    assert!(t.restarts_on(1 << 48 | 1));
}
