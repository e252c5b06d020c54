//! `scx_central` (tools/sched_ext/scx_central{.bpf.c,.c}): every scheduling
//! decision is made on one "central" CPU.
//!
//! BPF side. `select_cpu` always answers the central CPU, so wakeups land
//! on its runqueue. `enqueue` sends per-CPU kthreads straight to the head
//! of their own local DSQ with `SCX_ENQ_PREEMPT` (forward progress: the
//! timer may depend on them); every other task's PID goes to one global BPF
//! queue (`central_q`, 4096 entries; overflow → `FALLBACK_DSQ`), and the
//! central CPU is kicked with `SCX_KICK_PREEMPT` unless the task is running.
//! `dispatch` on the central CPU walks every CPU whose `cpu_gimme_task`
//! flag is set and pops a PID for it (`SCX_DSQ_LOCAL_ON | cpu`, slice
//! `SCX_SLICE_INF`, then `SCX_KICK_IDLE`), then serves itself from
//! `FALLBACK_DSQ` or the queue; running out of dispatch slots counts a
//! retry and self-kicks. `dispatch` on any other CPU only consumes
//! `FALLBACK_DSQ` (tasks that could not run where the central CPU wanted
//! them), else raises its gimme flag and kicks the central CPU.
//! `running`/`stopping` keep `cpu_started_at`. Since every task runs with an
//! infinite slice, a 1 ms BPF timer pinned to the central CPU
//! (`BPF_F_TIMER_CPU_PIN`) preempts non-central CPUs whose task has run
//! `slice_ns` if there is something to run instead. Flags:
//! `SCX_OPS_ENQ_LAST` (a CPU's last task is handed back to `ops.enqueue`
//! when its slice ends, like any other).
//!
//! Tickless operation: the real scheduler's documentation says the
//! infinite slices let the tick stop "on CONFIG_NO_HZ_FULL kernels running
//! with the proper nohz_full parameter" (observable in /proc/interrupts).
//! scxsim models that with the kernel knob `--kernel nohz_full=LIST`; run
//! e.g. `scxsim central --cpus 4 --kernel nohz_full=1-3` so that every CPU
//! but the central one can run without ticks: as in 6.12, a CPU whose
//! current sched_ext task has an infinite slice stops its tick even with
//! other tasks queued on its runqueue for the BPF side (`scx_can_stop_tick()`
//! decides, not `nr_running`; `tests/central.rs` checks it).
//!
//! `ops.init` refuses to run anywhere but on the central CPU
//! (`init from non-central CPU`, `-EINVAL`). In 6.12 `ops.init` is not run
//! by the loader (which pins itself to the central CPU before attaching)
//! but by the `scx_ops_enable_helper` kthread, wherever that happens to
//! run: it is an unbound SCHED_FIFO kthread, and an RT wakeup stays on
//! the task's previous CPU unless that CPU runs an RT task of equal or
//! higher priority, so on a real machine the outcome depends on where the
//! helper happened to be created and last ran. In scxsim the helper is
//! created at the first attach with CPU 0 as its CPU (attaching is
//! out-of-band work with no CPU of its own) and runs there, so `-c 0` (the
//! default) loads and any other central CPU makes `ops.init` fail with
//! `init from non-central CPU` (`ops.init()` returns `-EINVAL`), exactly
//! as the kernel does with its helper on CPU 0. The tests pin this down.
//!
//! Loader: `-s SLICE_US -c CPU -v -h`. Its getopt string is `"s:c:pvh"`
//! but `-p` has no case, so it falls to the help-and-exit-1 branch; here
//! it is a usage error that carries the help text (scxsim's exit status 2:
//! [`ToolError`] has no "help on stderr, status 1" case). Every second it prints
//! `[SEQ n]` and three counter lines. It restarts on restart exit codes
//! without re-applying its flags (`optind` is not reset), and its `seq`
//! keeps counting across restarts (it is declared before `restart:`).
//!
//! Not modelled: the loader pins itself to the central CPU after loading;
//! with a `-c` beyond the machine that pin fails and the real loader stops
//! with `[SCX_BUG] ... Failed to affinitize to central CPU %d (max %d)`
//! before attaching. The `Tool` API has no hook between load and attach,
//! so here the scheduler is attached and `ops.init` fails instead.

use crate::getopt::{getopt, strtoul};
use crate::tool::{uei_ecode_restart, with_sched, Tool, ToolError};
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_kernel::Kernel;
use std::cell::Cell;

/// `FALLBACK_DSQ_ID`.
pub const FALLBACK_DSQ_ID: u64 = 0;
/// `TIMER_INTERVAL_NS`: the central timer's period (1 ms).
pub const TIMER_INTERVAL_NS: u64 = 1_000_000;
/// Id of the scheduler's one BPF timer (`central_timer`).
const CENTRAL_TIMER: u64 = 0;
/// `max_entries` of `central_q`.
const CENTRAL_Q_ENTRIES: usize = 4096;
/// `BPF_MAX_LOOPS`, the bound of `bpf_repeat()`.
const BPF_MAX_LOOPS: u32 = 8 * 1024 * 1024;

const HELP: &str = "A central FIFO sched_ext scheduler.

See the top-level comment in .bpf.c for more details.

Usage: %s [-s SLICE_US] [-c CPU]

  -s SLICE_US   Override slice duration
  -c CPU        Override the central CPU (default: 0)
  -v            Print libbpf debug messages
  -h            Display this help and exit
";

/// The rodata the loader fills in, plus `ops.hotplug_seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knobs {
    /// `central_cpu`.
    pub central_cpu: i32,
    /// `nr_cpu_ids` (the loader sets the number of possible CPUs).
    pub nr_cpu_ids: u32,
    /// `slice_ns`.
    pub slice_ns: u64,
    /// `ops.hotplug_seq`, set by `SCX_OPS_OPEN()` from sysfs.
    pub hotplug_seq: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            central_cpu: 0,
            nr_cpu_ids: 1,
            slice_ns: SCX_SLICE_DFL,
            hotplug_seq: 0,
        }
    }
}

/// The bss counters the loader prints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// `nr_total`: `ops.enqueue()` calls.
    pub nr_total: u64,
    /// `nr_locals`: per-CPU kthreads dispatched to their local DSQ.
    pub nr_locals: u64,
    /// `nr_queued`: PIDs currently in `central_q`.
    pub nr_queued: u64,
    /// `nr_lost_pids`: popped PIDs whose task was gone.
    pub nr_lost_pids: u64,
    /// `nr_timers`: central timer runs.
    pub nr_timers: u64,
    /// `nr_dispatches`: `ops.dispatch()` calls on the central CPU.
    pub nr_dispatches: u64,
    /// `nr_mismatches`: popped tasks that could not run on the target CPU.
    pub nr_mismatches: u64,
    /// `nr_retries`: dispatch slots ran out; the central CPU self-kicked.
    pub nr_retries: u64,
    /// `nr_overflows`: `central_q` was full.
    pub nr_overflows: u64,
}

/// The BPF side of scx_central.
pub struct Central {
    /// Knobs.
    pub knobs: Knobs,
    /// Counters.
    pub stats: Counters,
    /// `timer_pinned` (data): false if `BPF_F_TIMER_CPU_PIN` was refused.
    pub timer_pinned: bool,
    /// `central_q`: PIDs waiting for the central CPU.
    pub central_q: BpfQueue<i32>,
    /// `cpu_gimme_task[nr_cpu_ids]`: CPUs asking the central CPU for work.
    pub cpu_gimme_task: Vec<bool>,
    /// `cpu_started_at[nr_cpu_ids]`: when each CPU's task started (0 =
    /// none).
    pub cpu_started_at: Vec<u64>,
}

/// `vtime_before()`.
fn vtime_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

impl Central {
    /// A fresh instance with `knobs` (arrays sized to `knobs.nr_cpu_ids`,
    /// as `RESIZE_ARRAY()` does).
    pub fn new(knobs: Knobs) -> Central {
        let n = knobs.nr_cpu_ids as usize;
        Central {
            knobs,
            stats: Counters::default(),
            timer_pinned: true,
            central_q: BpfQueue::new(CENTRAL_Q_ENTRIES),
            cpu_gimme_task: vec![false; n],
            cpu_started_at: vec![0; n],
        }
    }

    fn central_cpu(&self) -> i32 {
        self.knobs.central_cpu
    }

    /// `ARRAY_ELEM_PTR(cpu_gimme_task, cpu, nr_cpu_ids)`.
    fn gimme(&mut self, cpu: i32) -> Option<&mut bool> {
        usize::try_from(cpu)
            .ok()
            .and_then(|c| self.cpu_gimme_task.get_mut(c))
    }

    /// `ARRAY_ELEM_PTR(cpu_started_at, cpu, nr_cpu_ids)`.
    fn started_at(&mut self, cpu: i32) -> Option<&mut u64> {
        usize::try_from(cpu)
            .ok()
            .and_then(|c| self.cpu_started_at.get_mut(c))
    }

    /// `dispatch_to_cpu()`: pops PIDs until one can run on `cpu` and
    /// dispatches it there. False if the queue ran dry.
    fn dispatch_to_cpu(&mut self, cx: &mut Cx, cpu: i32) -> bool {
        for _ in 0..BPF_MAX_LOOPS {
            let Some(pid) = self.central_q.pop() else {
                break;
            };
            self.stats.nr_queued = self.stats.nr_queued.wrapping_sub(1);
            let Some(p) = cx.task_from_pid(pid) else {
                self.stats.nr_lost_pids += 1;
                continue;
            };
            if !task_allows(cx, p, cpu) {
                self.stats.nr_mismatches += 1;
                cx.dispatch(p, FALLBACK_DSQ_ID, SCX_SLICE_INF, 0);
                if cx.dispatch_nr_slots() == 0 {
                    break;
                }
                continue;
            }
            cx.dispatch(p, SCX_DSQ_LOCAL_ON | cpu as u32 as u64, SCX_SLICE_INF, 0);
            if cpu != self.central_cpu() {
                cx.kick_cpu(cpu, SCX_KICK_IDLE);
            }
            return true;
        }
        false
    }

    /// `ops.dispatch()` on the central CPU: serve every CPU asking for
    /// work, then itself.
    fn dispatch_central(&mut self, cx: &mut Cx) {
        self.stats.nr_dispatches += 1;
        for cpu in 0..self.knobs.nr_cpu_ids as i32 {
            if cx.dispatch_nr_slots() == 0 {
                break;
            }
            if !self.gimme(cpu).is_some_and(|g| *g) {
                continue;
            }
            if self.dispatch_to_cpu(cx, cpu) {
                if let Some(g) = self.gimme(cpu) {
                    *g = false;
                }
            }
        }
        if cx.dispatch_nr_slots() == 0 {
            self.stats.nr_retries += 1;
            cx.kick_cpu(self.central_cpu(), SCX_KICK_PREEMPT);
            return;
        }
        if cx.consume(FALLBACK_DSQ_ID) {
            return;
        }
        let me = self.central_cpu();
        self.dispatch_to_cpu(cx, me);
    }

    /// `ops.dispatch()` on any other CPU: only the fallback DSQ, else ask
    /// the central CPU.
    fn dispatch_other(&mut self, cx: &mut Cx, cpu: i32) {
        if cx.consume(FALLBACK_DSQ_ID) {
            return;
        }
        if let Some(g) = self.gimme(cpu) {
            *g = true;
        }
        cx.kick_cpu(self.central_cpu(), SCX_KICK_PREEMPT);
    }

    /// Whether the timer should kick `cpu`; `nr_to_kick` is the budget of
    /// kicks justified by queued work alone.
    fn timer_should_kick(&mut self, cx: &mut Cx, cpu: i32, now: u64, nr_to_kick: &mut u64) -> bool {
        let slice_ns = self.knobs.slice_ns;
        if let Some(&mut at) = self.started_at(cpu) {
            if at != 0 && vtime_before(now, at.wrapping_add(slice_ns)) {
                return false;
            }
        }
        let local = SCX_DSQ_LOCAL_ON | cpu as u32 as u64;
        if cx.dsq_nr_queued(FALLBACK_DSQ_ID) != 0 || cx.dsq_nr_queued(local) != 0 {
            return true;
        }
        if *nr_to_kick != 0 {
            *nr_to_kick -= 1;
            return true;
        }
        false
    }

    /// `bpf_timer_start()` of the central timer, pinned if possible.
    fn arm_timer(&mut self, cx: &mut Cx) -> i32 {
        cx.timer_start(CENTRAL_TIMER, TIMER_INTERVAL_NS, self.timer_pinned)
    }
}

/// `bpf_cpumask_test_cpu(cpu, p->cpus_ptr)`.
fn task_allows(cx: &Cx, p: Task, cpu: i32) -> bool {
    usize::try_from(cpu).is_ok_and(|c| cx.task(p).cpus_ptr().test(c))
}

impl Scheduler for Central {
    fn info(&self) -> OpsInfo {
        let mut i = OpsInfo::new(
            "central",
            &[
                Op::SelectCpu,
                Op::Enqueue,
                Op::Dispatch,
                Op::Running,
                Op::Stopping,
                Op::Init,
                Op::Exit,
            ],
        );
        i.flags = SCX_OPS_ENQ_LAST;
        i.hotplug_seq = self.knobs.hotplug_seq;
        i
    }

    fn select_cpu(&mut self, _cx: &mut Cx, _p: Task, _prev_cpu: i32, _wake_flags: u64) -> i32 {
        self.central_cpu()
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        self.stats.nr_total += 1;
        let (pid, per_cpu_kthread) = {
            let t = cx.task(p);
            (t.pid(), t.is_kthread() && t.nr_cpus_allowed() == 1)
        };
        if per_cpu_kthread {
            self.stats.nr_locals += 1;
            cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_INF, enq_flags | SCX_ENQ_PREEMPT);
            return;
        }
        if self.central_q.push(pid).is_err() {
            self.stats.nr_overflows += 1;
            cx.dispatch(p, FALLBACK_DSQ_ID, SCX_SLICE_INF, enq_flags);
            return;
        }
        self.stats.nr_queued += 1;
        if !cx.task_running(p) {
            cx.kick_cpu(self.central_cpu(), SCX_KICK_PREEMPT);
        }
    }

    fn dispatch(&mut self, cx: &mut Cx, cpu: i32, _prev: Option<Task>) {
        if cpu == self.central_cpu() {
            self.dispatch_central(cx);
        } else {
            self.dispatch_other(cx, cpu);
        }
    }

    fn running(&mut self, cx: &mut Cx, p: Task) {
        let cpu = cx.task_cpu(p);
        let now = cx.ktime_get_ns();
        if let Some(at) = self.started_at(cpu) {
            *at = if now == 0 { 1 } else { now };
        }
    }

    fn stopping(&mut self, cx: &mut Cx, p: Task, _runnable: bool) {
        let cpu = cx.task_cpu(p);
        if let Some(at) = self.started_at(cpu) {
            *at = 0;
        }
    }

    fn init(&mut self, cx: &mut Cx) -> i32 {
        let ret = cx.create_dsq(FALLBACK_DSQ_ID, -1);
        if ret != 0 {
            return ret;
        }
        if cx.smp_processor_id() != self.central_cpu() {
            cx.error("init from non-central CPU");
            return -EINVAL;
        }
        let mut ret = self.arm_timer(cx);
        if ret == -EINVAL {
            self.timer_pinned = false;
            ret = self.arm_timer(cx);
        }
        if ret != 0 {
            cx.error(&format!("bpf_timer_start failed ({ret})"));
        }
        ret
    }

    fn exit(&mut self, _cx: &mut Cx, _info: &ExitInfo) {}

    fn timer_fired(&mut self, cx: &mut Cx, _timer: u64) {
        let now = cx.ktime_get_ns();
        let mut nr_to_kick = self.stats.nr_queued;
        let curr_cpu = cx.smp_processor_id();
        if self.timer_pinned && curr_cpu != self.central_cpu() {
            cx.error(&format!(
                "Central timer ran on CPU {curr_cpu}, not central CPU {}",
                self.central_cpu()
            ));
            return;
        }
        let n = u64::from(self.knobs.nr_cpu_ids);
        for i in 0..n {
            let cpu = (self.stats.nr_timers.wrapping_add(i) % n) as i32;
            if cpu == self.central_cpu() {
                continue;
            }
            if self.timer_should_kick(cx, cpu, now, &mut nr_to_kick) {
                cx.kick_cpu(cpu, SCX_KICK_PREEMPT);
            }
        }
        let ret = self.arm_timer(cx);
        if ret != 0 {
            cx.error(&format!("bpf_timer_start failed ({ret})"));
        }
        self.stats.nr_timers += 1;
    }
}

/// The loader.
pub struct CentralTool {
    knobs: Knobs,
    seq: u64,
    fresh_instance: Cell<bool>,
}

impl CentralTool {
    /// Parses scx_central's flags (`"s:c:pvh"`).
    pub fn parse(args: &[String]) -> Result<CentralTool, ToolError> {
        let usage = |e: String| ToolError::Usage(format!("scx_central: {e}"));
        let opts = getopt(args, "s:c:pvh").map_err(usage)?;
        let mut k = Knobs::default();
        for o in opts {
            let arg = o.arg.clone().unwrap_or_default();
            match o.letter {
                's' => k.slice_ns = strtoul(&arg, 's').map_err(usage)?.wrapping_mul(1000),
                'c' => k.central_cpu = strtoul(&arg, 'c').map_err(usage)? as i32,
                'v' => {}
                'h' => return Err(ToolError::Help(help())),
                c => return Err(unhandled_option(c)),
            }
        }
        Ok(CentralTool {
            knobs: k,
            seq: 0,
            fresh_instance: Cell::new(false),
        })
    }

    /// The knobs the loader set.
    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }
}

fn help() -> String {
    HELP.replace("%s", "scx_central")
}

/// An option getopt accepts but the loader's `switch` has no case for:
/// the real tool prints its help to stderr and exits 1.
fn unhandled_option(c: char) -> ToolError {
    ToolError::Usage(format!(
        "scx_central: unhandled option -- '{c}'\n{}",
        help()
    ))
}

/// The loader's periodic block for `seq` and counters `s`.
pub fn format_stats(seq: u64, s: &Counters) -> Vec<String> {
    vec![
        format!("[SEQ {seq}]"),
        format!(
            "total   :{:>10}    local:{:>10}   queued:{:>10}  lost:{:>10}",
            s.nr_total, s.nr_locals, s.nr_queued, s.nr_lost_pids
        ),
        format!(
            "timer   :{:>10} dispatch:{:>10} mismatch:{:>10} retry:{:>10}",
            s.nr_timers, s.nr_dispatches, s.nr_mismatches, s.nr_retries
        ),
        format!("overflow:{:>10}", s.nr_overflows),
    ]
}

impl Tool for CentralTool {
    fn program_name(&self) -> &'static str {
        "scx_central"
    }

    fn scheduler(&self, k: &Kernel, restart: bool) -> Box<dyn Scheduler> {
        let mut knobs = if restart {
            Knobs::default()
        } else {
            self.knobs.clone()
        };
        knobs.nr_cpu_ids = k.nr_cpus() as u32;
        knobs.hotplug_seq = k.scx.hotplug_seq;
        self.fresh_instance.set(true);
        Box::new(Central::new(knobs))
    }

    fn stats(&mut self, k: &mut Kernel) -> Vec<String> {
        let Some((pinned, counters)) =
            with_sched(k, |c: &Central| (c.timer_pinned, c.stats.clone()))
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if self.fresh_instance.replace(false) && !pinned {
            out.push(
                "WARNING : BPF_F_TIMER_CPU_PIN not available, timer not pinned to central"
                    .to_string(),
            );
        }
        out.extend(format_stats(self.seq, &counters));
        self.seq += 1;
        out
    }

    fn restarts_on(&self, exit_code: i64) -> bool {
        uei_ecode_restart(exit_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vtime_before_wraps() {
        assert!(vtime_before(1, 2));
        assert!(!vtime_before(2, 1));
        assert!(vtime_before(u64::MAX, 0));
    }

    #[test]
    fn stats_block_layout() {
        let c = Counters {
            nr_total: 13,
            nr_timers: 45,
            nr_dispatches: 29,
            nr_mismatches: 11,
            ..Counters::default()
        };
        let lines = format_stats(0, &c);
        assert_eq!(lines[0], "[SEQ 0]");
        assert_eq!(
            lines[1],
            "total   :        13    local:         0   queued:         0  lost:         0"
        );
        assert_eq!(
            lines[2],
            "timer   :        45 dispatch:        29 mismatch:        11 retry:         0"
        );
        assert_eq!(lines[3], "overflow:         0");
    }
}
