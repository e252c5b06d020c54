//! The demo workload: on every CPU a `heavy` hog (nice -5) and a `light`
//! hog (nice 0) that never sleep, plus one `blip` task that wakes up every
//! 5 ms to run for half a millisecond.

use scx_machine::clock::{NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC};
use scx_workload::{Repeat, Step, TaskSpec, Workload};

fn forever(body: Vec<Step>) -> Step {
    Step::Loop {
        repeat: Repeat::Forever,
        body,
    }
}

/// The workload for a machine of `nr_cpus` CPUs.
pub fn weighted_hogs(nr_cpus: usize) -> Workload {
    let n = nr_cpus as u32;
    let hog = || vec![forever(vec![Step::Run(NSEC_PER_SEC)])];
    let mut w = Workload {
        name: "weighted_hogs".into(),
        description: "nice -5 and nice 0 hogs on every CPU, and a task waking every 5 ms".into(),
        ..Workload::default()
    };
    w.tasks
        .push(TaskSpec::new("heavy", hog()).nice(-5).instances(n));
    w.tasks.push(TaskSpec::new("light", hog()).instances(n));
    let blip = forever(vec![
        Step::Run(500 * NSEC_PER_USEC),
        Step::Sleep(5 * NSEC_PER_MSEC),
    ]);
    w.tasks.push(TaskSpec::new("blip", vec![blip]));
    w
}
