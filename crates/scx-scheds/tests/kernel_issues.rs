//! Regression tests for simulator bugs met while porting the schedulers
//! that are not about one scheduler; each doc comment says what went wrong
//! and what the kernel does.

mod common;

use common::*;
use scx_kernel::config::KernelConfig;
use scx_kernel::Kernel;
use scx_machine::clock::NSEC_PER_MSEC;
use scx_machine::Topology;
use scx_workload::{Repeat, Step, TaskSpec, Workload};

/// Regression (scx-kernel `Kernel::run_until`, hit through `scxsim::run`):
/// `run_until(t)` used to set `now = t` when the next event was later than
/// `t`, even if `now` was already past `t`, so simulated time went
/// backwards. The runner did exactly that at the end of every run
/// (detaching processes events after `duration`, then the final
/// `advance(duration)`), after which `Kernel::cpu_busy_ns()` underflowed.
#[test]
fn run_until_never_moves_time_backwards() {
    let mut k = Kernel::new(
        KernelConfig::default(),
        Topology::flat(2).expect("2 CPUs"),
        1,
    );
    k.boot(None, 1).expect("boot");
    k.run_until(10 * NSEC_PER_MSEC);
    k.run_until(5 * NSEC_PER_MSEC);
    assert_eq!(k.now, 10 * NSEC_PER_MSEC, "time went backwards");
}

/// The same regression as the runner exposed it: any run whose CPUs are
/// busy at the end.
#[test]
fn after_a_run_the_clock_is_not_behind_the_last_event() {
    let mut w = Workload::default();
    let spin = Step::Loop {
        repeat: Repeat::Forever,
        body: vec![Step::Run(NSEC_PER_MSEC)],
    };
    w.tasks.push(TaskSpec::new("hog", vec![spin]).instances(4));
    let cfg = config("simple", &[], 2, w, 200 * NSEC_PER_MSEC);
    let o = run(&cfg);
    let last_event = o.events.last().map(|(t, _)| *t).expect("events");
    assert!(
        o.res.kernel.now >= last_event,
        "now {} < last event {last_event}",
        o.res.kernel.now
    );
    for cpu in 0..2 {
        let busy = o.res.kernel.cpu_busy_ns(cpu);
        assert!(busy <= o.res.kernel.now, "CPU {cpu} busy {busy} ns");
    }
}
