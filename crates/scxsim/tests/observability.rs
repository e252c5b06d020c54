//! The observability outputs end to end: the Perfetto trace checked with
//! Perfetto's own Python bindings, the trace-cmd text, the metrics against
//! the kernel's accounting, determinism, cleanup of failed runs, and the
//! HTML report rendered in headless Chromium.
//!
//! External tools: Python with the `perfetto` package (found through
//! `SCXSIM_PYTHON`, `<target>/pyenv/bin/python` or `python3`) and Chromium
//! (`SCXSIM_CHROMIUM`, `chromium`, `chromium-browser`, `google-chrome`).
//! A test whose tool is missing is skipped with a message, except under CI
//! (`CI` set), where it fails.

use scx_observe::metrics::MetricsReport;
use scxsim::outputs::{OutputPaths, Outputs};
use scxsim::report::kernel_busy_ns;
use scxsim::run::{run_with_sink, RunConfig, RunResult};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const MS: u64 = 1_000_000;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scxsim-obs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn config(sched: &str, args: &[&str], workload: &str, cpus: usize, ms: u64) -> RunConfig {
    let mut cfg = RunConfig::new(sched, args.iter().map(|s| s.to_string()).collect());
    cfg.topo = scx_machine::Topology::flat(cpus).unwrap();
    cfg.workload = Arc::new(scx_workload::presets::build(workload, cpus).unwrap());
    cfg.duration = ms * MS;
    cfg
}

/// Runs `cfg` writing `paths`; returns the result and the finished outputs.
fn run(cfg: &RunConfig, paths: &OutputPaths) -> (RunResult, Outputs) {
    let mut outputs = Outputs::create(paths).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let res = run_with_sink(cfg, &mut out, &mut err, outputs.sink()).unwrap();
    outputs.finish(cfg, &res).unwrap();
    (res, outputs)
}

fn all_paths(dir: &Path) -> OutputPaths {
    OutputPaths {
        trace: Some(dir.join("run.pftrace")),
        ftrace: Some(dir.join("run.ftrace.txt")),
        ftrace_raw: false,
        report: Some(dir.join("run.json")),
        html: Some(dir.join("run.html")),
        summary: true,
    }
}

/// Skips (or under CI fails) when a tool is missing.
fn missing(what: &str, how: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required under CI: {how}");
    }
    eprintln!("SKIPPED: {what} not found ({how})");
}

/// The target directory this test was built in.
fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.to_path_buf())
}

fn python() -> Option<PathBuf> {
    let mut cands: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("SCXSIM_PYTHON") {
        cands.push(p.into());
    }
    if let Some(t) = target_dir() {
        cands.push(t.join("pyenv/bin/python"));
    }
    cands.push("python3".into());
    cands.into_iter().find(|p| {
        Command::new(p)
            .args([
                "-c",
                "import perfetto.protos.perfetto.trace.perfetto_trace_pb2",
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn checker() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scx-observe/tests/check_pftrace.py")
}

fn check_pftrace(dir: &Path, extra: &[&str]) {
    let Some(py) = python() else {
        missing(
            "python3 with the perfetto package",
            "python3 -m venv target/pyenv && target/pyenv/bin/pip install perfetto",
        );
        return;
    };
    let out = Command::new(py)
        .arg(checker())
        .arg(dir.join("run.pftrace"))
        .arg(dir.join("run.json"))
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "check_pftrace.py failed:\n{text}");
    assert!(text.contains("pftrace ok"), "{text}");
}

#[test]
fn pftrace_decodes_with_perfettos_bindings_and_matches_the_report() {
    let dir = scratch("pftrace");
    let cfg = config("simple", &[], "default", 2, 400);
    run(&cfg, &all_paths(&dir));
    check_pftrace(&dir, &[]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pftrace_shows_the_dispatch_loop_breaker() {
    let dir = scratch("breaker");
    let cfg = config("qmap", &["-l", "100"], "default", 2, 1000);
    let (res, _) = run(&cfg, &all_paths(&dir));
    assert!(res.stats.dispatch_loop_breaks > 0);
    check_pftrace(&dir, &["--expect-breaker"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Where metrics and the kernel's own accounting describe the same thing,
/// they agree exactly.
fn assert_consistent(cfg: &RunConfig, res: &RunResult, m: &MetricsReport) {
    let k = &res.kernel;
    let s = &res.stats;
    for c in 0..k.nr_cpus() {
        assert_eq!(m.cpus[c].busy_ns, kernel_busy_ns(k, c, m.end_ns), "cpu {c}");
    }
    assert_eq!(m.counts.context_switches, s.context_switches);
    assert_eq!(m.counts.wakeups, s.wakeups);
    assert_eq!(m.counts.op_calls, s.op_calls);
    assert_eq!(m.counts.breaker_kicks, s.dispatch_loop_breaks);
    assert_eq!(m.counts.switch_mismatches, 0);
    for t in &m.tasks {
        let kt = k.task(t.tid);
        assert_eq!(t.pid, kt.pid);
        assert_eq!(t.migrations, kt.nr_migrations, "{} migrations", t.comm);
        assert_eq!(t.voluntary_switches, kt.nvcsw, "{} nvcsw", t.comm);
        assert!(t.involuntary_switches <= kt.nivcsw, "{} nivcsw", t.comm);
    }
    let shares: f64 = m.tasks.iter().map(|t| t.share).sum();
    assert!((shares - m.busy_cpus()).abs() < 1e-9, "{}", cfg.scheduler);
}

#[test]
fn metrics_agree_with_the_kernels_accounting() {
    let cases: &[(&str, &[&str], &str, usize)] = &[
        ("simple", &[], "default", 2),
        ("simple", &["-f"], "hogs", 4),
        ("qmap", &[], "wake_storm", 4),
        ("qmap", &["-b", "4"], "interactive_batch", 3),
    ];
    for (sched, args, workload, cpus) in cases {
        let cfg = config(sched, args, workload, *cpus, 300);
        let paths = OutputPaths {
            summary: true,
            ..Default::default()
        };
        let (res, out) = run(&cfg, &paths);
        assert_consistent(&cfg, &res, out.metrics().unwrap());
        assert!(out.summary().unwrap().contains("wakeup latency"));
    }
}

/// Same inputs, same bytes: traces, ftrace text, HTML, and the report
/// except its `host` section.
#[test]
fn outputs_are_byte_identical_across_runs() {
    let cfg = config("qmap", &[], "default", 2, 300);
    let (a, b) = (scratch("det-a"), scratch("det-b"));
    run(&cfg, &all_paths(&a));
    run(&cfg, &all_paths(&b));
    for f in ["run.pftrace", "run.ftrace.txt", "run.html"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between runs");
    }
    let report = |d: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("run.json")).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("host");
        v
    };
    assert_eq!(report(&a), report(&b));
    for d in [a, b] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// An unfinished run (failure before `finish`) leaves no files behind.
#[test]
fn unfinished_outputs_leave_nothing() {
    let dir = scratch("unfinished");
    let outputs = Outputs::create(&all_paths(&dir)).unwrap();
    drop(outputs);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    let bad = OutputPaths {
        trace: Some(dir.join("no/such/dir/t.pftrace")),
        ..Default::default()
    };
    let e = Outputs::create(&bad).err().unwrap();
    assert!(e.to_string().contains("cannot create trace file"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One `trace-cmd report` line: (comm, pid, cpu, ns, event, fields), parsed
/// the way LISA's `HRTxtTraceParser` header regex does.
fn parse_line(line: &str) -> Option<(String, u32, u32, u64, String, String)> {
    let open = line.find('[')?;
    let (comm, pid) = line[..open].trim().rsplit_once('-')?;
    let close = line.find(']')?;
    let cpu = line[open + 1..close].parse().ok()?;
    let rest = line[close + 1..].trim_start();
    let (ts, rest) = rest.split_once(": ")?;
    let (secs, nsec) = ts.split_once('.')?;
    assert_eq!(nsec.len(), 9, "nanosecond timestamps");
    let ns = secs.parse::<u64>().ok()? * 1_000_000_000 + nsec.parse::<u64>().ok()?;
    let (event, fields) = rest.split_once(':')?;
    Some((
        comm.to_string(),
        pid.parse().ok()?,
        cpu,
        ns,
        event.to_string(),
        fields.trim().to_string(),
    ))
}

fn field<'a>(fields: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=");
    let at = fields
        .split(' ')
        .find(|w| w.starts_with(&key))
        .unwrap_or_else(|| panic!("{name} in {fields}"));
    &at[key.len()..]
}

/// Per-pid on-CPU time from a trace-cmd text's `sched_switch` lines.
fn ftrace_runtimes(text: &str, end: u64, raw: bool) -> std::collections::BTreeMap<u32, u64> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("version = 6"));
    assert!(lines.next().unwrap().starts_with("cpus="));
    let mut since: std::collections::BTreeMap<u32, (u64, u32)> = Default::default();
    let mut rt: std::collections::BTreeMap<u32, u64> = Default::default();
    for line in lines {
        let (_, pid, cpu, ns, event, f) = parse_line(line).unwrap_or_else(|| panic!("{line}"));
        if event != "sched_switch" {
            continue;
        }
        let prev: u32 = field(&f, "prev_pid").parse().unwrap();
        assert_eq!(prev, pid, "common_pid is prev: {line}");
        let state = field(&f, "prev_state");
        if raw {
            assert!(state.parse::<u64>().is_ok(), "{line}");
            assert!(!f.contains("==>"));
        } else {
            assert!(f.contains(" ==> next_comm="), "{line}");
        }
        let start = since.get(&cpu).map_or(0, |s| s.0);
        *rt.entry(prev).or_default() += ns - start;
        since.insert(cpu, (ns, field(&f, "next_pid").parse().unwrap()));
    }
    for (start, pid) in since.values() {
        *rt.entry(*pid).or_default() += end - start;
    }
    rt.remove(&0);
    rt
}

#[test]
fn ftrace_text_reads_like_trace_cmd_report() {
    let dir = scratch("ftrace");
    let cfg = config("simple", &[], "default", 2, 300);
    for raw in [false, true] {
        let paths = OutputPaths {
            ftrace: Some(dir.join("run.ftrace.txt")),
            ftrace_raw: raw,
            summary: true,
            ..Default::default()
        };
        let (_, out) = run(&cfg, &paths);
        let m = out.metrics().unwrap();
        let text = std::fs::read_to_string(dir.join("run.ftrace.txt")).unwrap();
        for ev in [
            "sched_switch",
            "sched_waking",
            "sched_wakeup",
            "sched_wakeup_new",
        ] {
            assert!(text.contains(&format!(" {ev}: ")), "{ev}");
        }
        let rt = ftrace_runtimes(&text, m.end_ns, raw);
        for t in &m.tasks {
            assert_eq!(
                rt.get(&t.pid).copied().unwrap_or(0),
                t.runtime_ns,
                "pid {}",
                t.pid
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ----------------------------------------------------------------------
// HTML in headless Chromium.

fn chromium() -> Option<PathBuf> {
    let mut cands: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("SCXSIM_CHROMIUM") {
        cands.push(p.into());
    }
    cands.extend(["chromium", "chromium-browser", "google-chrome"].map(PathBuf::from));
    cands.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn headless(bin: &Path, profile: &Path, args: &[String]) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap()
}

/// Decodes a PNG into RGBA rows.
fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let rgba: Vec<u8> = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (info.width, info.height, rgba)
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        missing("chromium", "apt-get install chromium");
        return;
    };
    let dir = scratch("html");
    // qmap -e: scx_bpf_error() after 60 enqueues, so the page has an error
    // exit with a debug dump.
    let cfg = config("qmap", &["-e", "60"], "default", 4, 500);
    let (res, _) = run(&cfg, &all_paths(&dir));
    assert!(!res.exits.last().unwrap().info.dump.is_empty());
    let html = dir.join("run.html");
    let page = std::fs::read_to_string(&html).unwrap();
    for fetch in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "<link",
        "<script src",
    ] {
        assert!(!page.contains(fetch), "page fetches something: {fetch}");
    }
    let url = format!("file://{}", html.display());

    let dom = headless(
        &chrome,
        &dir.join("profile-dom"),
        &["--dump-dom".into(), url.clone()],
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "chromium failed: {log}");
    assert!(
        !dom_text.contains("data-js-error=\""),
        "script error: {dom_text:.3000}"
    );
    assert!(!log.contains("Uncaught"), "console error: {log}");
    assert!(
        dom_text.contains("data-rendered=\"1\""),
        "page did not finish rendering"
    );
    for id in ["timeline", "cdf", "dsq", "share", "task-table"] {
        assert!(
            dom_text.contains(&format!("id=\"{id}\""))
                && !dom_text.contains("data-chart=\"pending\""),
            "chart {id} not ready"
        );
    }
    assert!(dom_text.matches("<svg").count() >= 3, "SVG charts missing");
    assert!(
        dom_text.matches("<path").count() >= 4,
        "chart lines missing"
    );
    assert!(dom_text.contains("SCX_EXIT_ERROR_BPF") && dom_text.contains("Debug dump"));

    let png_path = dir.join("shot.png");
    let shot = headless(
        &chrome,
        &dir.join("profile-shot"),
        &[
            "--window-size=1400,1800".into(),
            format!("--screenshot={}", png_path.display()),
            url,
        ],
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let (w, h, px) = decode_png(&png_path);
    assert_eq!((w, h), (1400, 1800));
    let mut colours = std::collections::BTreeSet::new();
    let (mut sum, mut sq) = (0f64, 0f64);
    let mut palette_hits = 0;
    for p in px.chunks(4) {
        let l = 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]);
        sum += l;
        sq += l * l;
        colours.insert((p[0] >> 3, p[1] >> 3, p[2] >> 3));
        // The first group colour (#4e79a7), drawn by the timeline and charts.
        if p[0].abs_diff(0x4e) < 6 && p[1].abs_diff(0x79) < 6 && p[2].abs_diff(0xa7) < 6 {
            palette_hits += 1;
        }
    }
    let n = f64::from(w * h);
    let var = sq / n - (sum / n).powi(2);
    assert!(
        var > 500.0,
        "screenshot looks blank (luma variance {var:.0})"
    );
    assert!(colours.len() > 100, "too few colours ({})", colours.len());
    assert!(
        palette_hits > 2000,
        "charts not drawn ({palette_hits} chart pixels)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
