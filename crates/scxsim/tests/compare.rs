//! `scxsim compare` on a standard workload: the table is internally
//! consistent and agrees with single runs' reports.

use scxsim::compare::{compare, SchedSpec};
use scxsim::outputs::{OutputPaths, Outputs};
use scxsim::run::{run_with_sink, RunConfig};
use std::sync::Arc;

fn base() -> RunConfig {
    let mut cfg = RunConfig::new("simple", vec![]);
    cfg.topo = scx_machine::Topology::flat(4).unwrap();
    cfg.workload = Arc::new(scx_workload::presets::build("interactive_batch", 4).unwrap());
    cfg.duration = 500_000_000;
    cfg
}

/// The report a single run with the same inputs writes.
fn single_report(spec: &SchedSpec) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("scxsim-cmp-{}-{}", std::process::id(), spec.name));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.json");
    let cfg = scxsim::compare::config_for(&base(), spec);
    let paths = OutputPaths {
        report: Some(path.clone()),
        ..Default::default()
    };
    let mut outputs = Outputs::create(&paths).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let res = run_with_sink(&cfg, &mut out, &mut err, outputs.sink()).unwrap();
    outputs.finish(&cfg, &res).unwrap();
    let v = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    v
}

#[test]
fn comparison_table_is_consistent() {
    let specs =
        SchedSpec::parse_list(&["simple".into(), "qmap -b 4".into(), "simple -f".into()]).unwrap();
    let table = compare(&base(), &specs, 2).unwrap();
    assert_eq!(table.rows.len(), 3);
    for row in &table.rows {
        let m = &row.metrics;
        // Shares add up to the busy CPUs, which is utilisation × CPUs.
        assert!(
            (row.share_sum() - row.busy_cpus()).abs() < 1e-9,
            "{}",
            row.spec.label
        );
        assert!((row.busy_cpus() - m.utilization * f64::from(m.nr_cpus)).abs() < 1e-9);
        assert!(row.throughput() <= row.busy_cpus() + 1e-12);
        assert!(
            row.throughput() > 0.5,
            "{}: {}",
            row.spec.label,
            row.throughput()
        );
        assert!(m.fairness.jain > 0.0 && m.fairness.jain <= 1.0 + 1e-12);
        assert!(m.wakeup_latency.p50_ns <= m.wakeup_latency.p99_ns);
        assert!(m.run_delay.p99_ns <= m.run_delay.max_ns);
        assert_eq!(
            m.counts.context_switches,
            m.counts.voluntary_switches + m.counts.involuntary_switches + m.counts.idle_switches
        );
        assert_eq!(row.exit_kind, "SCX_EXIT_UNREG");
        // The counts are the ones a single run's report gives.
        let r = single_report(&row.spec);
        let totals = &r["metrics"]["totals"];
        assert_eq!(totals["context_switches"], m.counts.context_switches);
        assert_eq!(totals["migrations"], m.counts.migrations);
        assert_eq!(totals["wakeups"], m.counts.wakeups);
        assert_eq!(totals["op_calls"], m.counts.op_calls);
        assert_eq!(r["totals"]["context_switches"], m.counts.context_switches);
        assert_eq!(
            r["metrics"]["fairness"]["jain"].as_f64().unwrap(),
            m.fairness.jain
        );
        assert_eq!(
            r["metrics"]["totals"]["wakeup_latency"]["p99_ns"],
            m.wakeup_latency.p99_ns
        );
    }
    // Same inputs, different schedulers: different schedules.
    assert_ne!(
        table.rows[0].metrics.counts.context_switches,
        table.rows[1].metrics.counts.context_switches
    );
    let text = table.to_text();
    assert!(
        text.contains("qmap -b 4") && text.contains("wakeup latency p99"),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("fairness (Jain)"))
            .count(),
        1
    );
    let json = table.to_json();
    assert_eq!(json["schema"], "scxsim-compare/1");
    assert_eq!(json["rows"].as_array().unwrap().len(), 3);
    assert_eq!(json["rows"][1]["label"], "qmap -b 4");
}

#[test]
fn comparison_does_not_depend_on_parallelism() {
    let specs = SchedSpec::parse_list(&["simple,qmap".into()]).unwrap();
    let one = compare(&base(), &specs, 1).unwrap();
    let two = compare(&base(), &specs, 2).unwrap();
    for (a, b) in one.rows.iter().zip(&two.rows) {
        assert_eq!(a.metrics, b.metrics);
    }
    let strip = |t: &scxsim::compare::Table| {
        let mut v = t.to_json();
        for r in v["rows"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("host");
        }
        v
    };
    assert_eq!(strip(&one), strip(&two));
}

#[test]
fn bad_scheduler_flags_are_reported() {
    let specs = SchedSpec::parse_list(&["simple".into(), "qmap -Z".into()]).unwrap();
    let e = compare(&base(), &specs, 2).unwrap_err();
    assert!(e.to_string().starts_with("qmap -Z: "), "{e}");
}
