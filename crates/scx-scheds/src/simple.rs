//! `scx_simple` (tools/sched_ext/scx_simple{.bpf.c,.c}): a global weighted
//! vtime scheduler, or global FIFO with `-f`, over one user DSQ.
//!
//! BPF side: `select_cpu` uses the default selection and dispatches to the
//! local DSQ when it found an idle CPU (stat 0); `enqueue` (stat 1) queues
//! on `SHARED_DSQ` (0), FIFO or by vtime with at most one slice of idle
//! credit; `dispatch` consumes it; `running`/`stopping`/`enable` keep the
//! vtime. Loader: `-f`, `-v`, `-h`; prints `local=N global=N` every second;
//! restarts on restart exit codes without re-applying its flags, as the
//! real loader does (`getopt`'s `optind` is not reset).

use crate::getopt::getopt;
use crate::tool::{uei_ecode_restart, with_sched, Tool, ToolError};
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_kernel::Kernel;

/// `SHARED_DSQ`.
pub const SHARED_DSQ: u64 = 0;

const HELP: &str = "A simple sched_ext scheduler.

See the top-level comment in .bpf.c for more details.

Usage: %s [-f] [-v]

  -f            Use FIFO scheduling instead of weighted vtime scheduling
  -v            Print libbpf debug messages
  -h            Display this help and exit
";

/// The BPF side.
pub struct Simple {
    /// `fifo_sched` (rodata).
    pub fifo_sched: bool,
    /// `vtime_now`.
    pub vtime_now: u64,
    /// Per-CPU `stats[2]`: local and global queueing counts.
    pub stats: PerCpu<[u64; 2]>,
    /// `ops.hotplug_seq`, set by `SCX_OPS_OPEN()` from sysfs.
    pub hotplug_seq: u64,
}

fn vtime_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

impl Simple {
    /// A new instance for `nr_cpus` CPUs.
    pub fn new(nr_cpus: usize, fifo_sched: bool) -> Simple {
        Simple {
            fifo_sched,
            vtime_now: 0,
            stats: PerCpu::new(nr_cpus, [0, 0]),
            hotplug_seq: 0,
        }
    }

    fn stat_inc(&mut self, cx: &Cx, idx: usize) {
        self.stats.get_mut(cx.smp_processor_id() as usize)[idx] += 1;
    }

    /// Sums of the per-CPU counters: `[local, global]`.
    pub fn totals(&self) -> [u64; 2] {
        self.stats
            .iter()
            .fold([0, 0], |a, s| [a[0] + s[0], a[1] + s[1]])
    }
}

impl Scheduler for Simple {
    fn info(&self) -> OpsInfo {
        let mut i = OpsInfo::new(
            "simple",
            &[
                Op::SelectCpu,
                Op::Enqueue,
                Op::Dispatch,
                Op::Running,
                Op::Stopping,
                Op::Enable,
                Op::Init,
                Op::Exit,
            ],
        );
        i.hotplug_seq = self.hotplug_seq;
        i
    }

    fn select_cpu(&mut self, cx: &mut Cx, p: Task, prev_cpu: i32, wake_flags: u64) -> i32 {
        let (cpu, is_idle) = cx.select_cpu_dfl(p, prev_cpu, wake_flags);
        if is_idle {
            self.stat_inc(cx, 0);
            cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
        }
        cpu
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        self.stat_inc(cx, 1);
        if self.fifo_sched {
            cx.dispatch(p, SHARED_DSQ, SCX_SLICE_DFL, enq_flags);
        } else {
            let mut vtime = cx.task(p).dsq_vtime();
            let floor = self.vtime_now.wrapping_sub(SCX_SLICE_DFL);
            if vtime_before(vtime, floor) {
                vtime = floor;
            }
            cx.dispatch_vtime(p, SHARED_DSQ, SCX_SLICE_DFL, vtime, enq_flags);
        }
    }

    fn dispatch(&mut self, cx: &mut Cx, _cpu: i32, _prev: Option<Task>) {
        cx.consume(SHARED_DSQ);
    }

    fn running(&mut self, cx: &mut Cx, p: Task) {
        if self.fifo_sched {
            return;
        }
        let v = cx.task(p).dsq_vtime();
        if vtime_before(self.vtime_now, v) {
            self.vtime_now = v;
        }
    }

    fn stopping(&mut self, cx: &mut Cx, p: Task, _runnable: bool) {
        if self.fifo_sched {
            return;
        }
        let t = cx.task(p);
        let charge = (SCX_SLICE_DFL.wrapping_sub(t.slice())).wrapping_mul(100)
            / u64::from(t.weight().max(1));
        let v = t.dsq_vtime().wrapping_add(charge);
        cx.set_dsq_vtime(p, v);
    }

    fn enable(&mut self, cx: &mut Cx, p: Task) {
        cx.set_dsq_vtime(p, self.vtime_now);
    }

    fn init(&mut self, cx: &mut Cx) -> i32 {
        cx.create_dsq(SHARED_DSQ, -1)
    }

    fn exit(&mut self, _cx: &mut Cx, _info: &ExitInfo) {}
}

/// The loader.
pub struct SimpleTool {
    fifo_sched: bool,
}

impl SimpleTool {
    /// Parses scx_simple's flags.
    pub fn parse(args: &[String]) -> Result<SimpleTool, ToolError> {
        let opts = getopt(args, "fvh").map_err(|e| ToolError::Usage(format!("scx_simple: {e}")))?;
        let mut t = SimpleTool { fifo_sched: false };
        for o in opts {
            match o.letter {
                'f' => t.fifo_sched = true,
                'v' => {}
                _ => return Err(ToolError::Help(HELP.replace("%s", "scx_simple"))),
            }
        }
        Ok(t)
    }

    /// `-f`: the loader sets `fifo_sched`.
    pub fn fifo_sched(&self) -> bool {
        self.fifo_sched
    }
}

impl Tool for SimpleTool {
    fn program_name(&self) -> &'static str {
        "scx_simple"
    }

    fn scheduler(&self, k: &Kernel, restart: bool) -> Box<dyn Scheduler> {
        let fifo = self.fifo_sched && !restart;
        let mut s = Simple::new(k.nr_cpus(), fifo);
        s.hotplug_seq = k.scx.hotplug_seq;
        Box::new(s)
    }

    fn stats(&mut self, k: &mut Kernel) -> Vec<String> {
        let [local, global] = with_sched(k, |s: &Simple| s.totals()).unwrap_or([0, 0]);
        vec![format!("local={local} global={global}")]
    }

    fn restarts_on(&self, exit_code: i64) -> bool {
        uei_ecode_restart(exit_code)
    }
}
