//! `scx_qmap` (tools/sched_ext/scx_qmap{.bpf.c,.c}): five weighted FIFO
//! queues of PIDs, dispatch batching, a shared and a high-priority DSQ,
//! core-sched ordering, cpuperf demonstration, and fault-injection knobs.
//!
//! Every knob of the real loader is supported: `-s SLICE_US -e COUNT
//! -t COUNT -T COUNT -l COUNT -b COUNT -P -H -d PID -D LEN -S -p -v -h`.
//! `-l COUNT` makes `ops.dispatch()` "dispatch" kthreadd (PID 2) forever
//! once `nr_dispatched > COUNT`, the loop the kernel's dispatch-loop breaker
//! exists for.
//!
//! The port keeps a mutation generation over all of its state so
//! [`Scheduler::state_digest`] can tell the lockup model when a dispatch
//! round changed nothing.

use crate::getopt::{getopt, strtol, strtoul};
use crate::tool::{with_sched, Tool, ToolError};
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_kernel::Kernel;

const SHARED_DSQ: u64 = 0;
const HIGHPRI_DSQ: u64 = 1;
const HIGHPRI_WEIGHT: u32 = 8668;
const ONE_SEC_IN_NS: u64 = 1_000_000_000;
const MONITOR_TIMER: u64 = 0;
/// `BPF_MAX_LOOPS`, the bound of `bpf_repeat()`.
const BPF_MAX_LOOPS: u32 = 8 * 1024 * 1024;

const HELP: &str = "A simple five-level FIFO queue sched_ext scheduler.

See the top-level comment in .bpf.c for more details.

Usage: %s [-s SLICE_US] [-e COUNT] [-t COUNT] [-T COUNT] [-l COUNT] [-b COUNT]
       [-P] [-d PID] [-D LEN] [-p] [-v]

  -s SLICE_US   Override slice duration
  -e COUNT      Trigger scx_bpf_error() after COUNT enqueues
  -t COUNT      Stall every COUNT'th user thread
  -T COUNT      Stall every COUNT'th kernel thread
  -l COUNT      Trigger dispatch infinite looping after COUNT dispatches
  -b COUNT      Dispatch upto COUNT tasks together
  -P            Print out DSQ content to trace_pipe every second, use with -b
  -H            Boost nice -20 tasks in SHARED_DSQ, use with -b
  -d PID        Disallow a process from switching into SCHED_EXT (-1 for self)
  -D LEN        Set scx_exit_info.dump buffer length
  -S            Suppress qmap-specific debug dump
  -p            Switch only tasks on SCHED_EXT policy instead of all
  -v            Print libbpf debug messages
  -h            Display this help and exit
";

/// The `const volatile` knobs (rodata) and struct_ops fields the loader
/// sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knobs {
    /// `slice_ns`.
    pub slice_ns: u64,
    /// `stall_user_nth`.
    pub stall_user_nth: u32,
    /// `stall_kernel_nth`.
    pub stall_kernel_nth: u32,
    /// `dsp_inf_loop_after`.
    pub dsp_inf_loop_after: u32,
    /// `dsp_batch`.
    pub dsp_batch: u32,
    /// `highpri_boosting`.
    pub highpri_boosting: bool,
    /// `print_shared_dsq`.
    pub print_shared_dsq: bool,
    /// `disallow_tgid`.
    pub disallow_tgid: i32,
    /// `suppress_dump`.
    pub suppress_dump: bool,
    /// `test_error_cnt` (bss, set by the loader).
    pub test_error_cnt: u32,
    /// `ops.exit_dump_len`.
    pub exit_dump_len: u32,
    /// `ops.flags`.
    pub flags: u64,
    /// `ops.hotplug_seq`, set by `SCX_OPS_OPEN()` from sysfs.
    pub hotplug_seq: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            slice_ns: SCX_SLICE_DFL,
            stall_user_nth: 0,
            stall_kernel_nth: 0,
            dsp_inf_loop_after: 0,
            dsp_batch: 0,
            highpri_boosting: false,
            print_shared_dsq: false,
            disallow_tgid: 0,
            suppress_dump: false,
            test_error_cnt: 0,
            exit_dump_len: 0,
            flags: 0,
            hotplug_seq: 0,
        }
    }
}

/// `struct task_ctx`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaskCtx {
    /// `force_local`.
    pub force_local: bool,
    /// `highpri`.
    pub highpri: bool,
    /// `core_sched_seq`.
    pub core_sched_seq: u64,
}

/// `struct cpu_ctx`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CpuCtx {
    /// `dsp_idx`.
    pub dsp_idx: u64,
    /// `dsp_cnt`.
    pub dsp_cnt: u64,
    /// `avg_weight`.
    pub avg_weight: u32,
    /// `cpuperf_target`.
    pub cpuperf_target: u32,
}

/// The statistics the loader prints (bss).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `nr_enqueued`.
    pub nr_enqueued: u64,
    /// `nr_dispatched`.
    pub nr_dispatched: u64,
    /// `nr_reenqueued`.
    pub nr_reenqueued: u64,
    /// `nr_dequeued`.
    pub nr_dequeued: u64,
    /// `nr_ddsp_from_enq`.
    pub nr_ddsp_from_enq: u64,
    /// `nr_core_sched_execed`.
    pub nr_core_sched_execed: u64,
    /// `nr_expedited_local`.
    pub nr_expedited_local: u64,
    /// `nr_expedited_remote`.
    pub nr_expedited_remote: u64,
    /// `nr_expedited_lost`.
    pub nr_expedited_lost: u64,
    /// `nr_expedited_from_timer`.
    pub nr_expedited_from_timer: u64,
    /// `cpuperf_min/avg/max`.
    pub cpuperf: [u32; 3],
    /// `cpuperf_target_min/avg/max`.
    pub cpuperf_target: [u32; 3],
}

/// The BPF side of scx_qmap.
pub struct Qmap {
    /// Knobs.
    pub knobs: Knobs,
    /// `queue0..queue4`.
    pub queues: [BpfQueue<u32>; 5],
    /// `task_ctx_stor`.
    pub tctx: TaskStorage<TaskCtx>,
    /// `cpu_ctx_stor`.
    pub cpuc: PerCpu<CpuCtx>,
    /// Statistics.
    pub stats: Stats,
    /// `nr_highpri_queued`.
    pub nr_highpri_queued: u64,
    /// `test_error_cnt`.
    pub test_error_cnt: u32,
    core_sched_head_seqs: [u64; 5],
    core_sched_tail_seqs: [u64; 5],
    user_cnt: u32,
    kernel_cnt: u32,
    highpri_seq: u64,
    generation: u64,
}

/// `weight_to_idx()`.
fn weight_to_idx(weight: u32) -> usize {
    match weight {
        0..=25 => 0,
        26..=50 => 1,
        51..=199 => 2,
        200..=399 => 3,
        _ => 4,
    }
}

/// `qidx_to_cpuperf_target[]`.
const QIDX_TO_CPUPERF_TARGET: [u32; 5] = [0, 256, 512, 768, 1024];

impl Qmap {
    /// A fresh instance with `knobs` for `nr_cpus` CPUs.
    pub fn new(nr_cpus: usize, knobs: Knobs) -> Qmap {
        let test_error_cnt = knobs.test_error_cnt;
        Qmap {
            knobs,
            queues: std::array::from_fn(|_| BpfQueue::new(4096)),
            tctx: TaskStorage::default(),
            cpuc: PerCpu::new(nr_cpus, CpuCtx::default()),
            stats: Stats::default(),
            nr_highpri_queued: 0,
            test_error_cnt,
            core_sched_head_seqs: [0; 5],
            core_sched_tail_seqs: [0; 5],
            user_cnt: 0,
            kernel_cnt: 0,
            highpri_seq: 0,
            generation: 0,
        }
    }

    fn touch(&mut self) {
        self.generation += 1;
    }

    /// `lookup_task_ctx()`.
    fn lookup_task_ctx(&mut self, cx: &mut Cx, p: Task) -> Option<TaskCtx> {
        match self.tctx.get(p) {
            Some(t) => Some(*t),
            None => {
                cx.error("task_ctx lookup failed");
                None
            }
        }
    }

    fn set_task_ctx(&mut self, p: Task, t: TaskCtx) {
        if let Some(slot) = self.tctx.get_mut(p) {
            if *slot != t {
                *slot = t;
                self.generation += 1;
            }
        }
    }

    /// `pick_direct_dispatch_cpu()`.
    fn pick_direct_dispatch_cpu(cx: &mut Cx, p: Task, prev_cpu: i32) -> i32 {
        if cx.task(p).nr_cpus_allowed() == 1 || cx.test_and_clear_cpu_idle(prev_cpu) {
            return prev_cpu;
        }
        let mask = *cx.task(p).cpus_ptr();
        let cpu = cx.pick_idle_cpu(&mask, 0);
        if cpu >= 0 {
            cpu
        } else {
            -1
        }
    }

    /// `dispatch_highpri()`.
    fn dispatch_highpri(&mut self, cx: &mut Cx, from_timer: bool) -> bool {
        let this_cpu = cx.smp_processor_id();
        let (mut it, _) = cx.dsq_iter_new(SHARED_DSQ, 0);
        while let Some(p) = cx.dsq_iter_next(&mut it) {
            let Some(tctx) = self.lookup_task_ctx(cx, p) else {
                cx.dsq_iter_destroy(it);
                return false;
            };
            if tctx.highpri {
                cx.dispatch_from_dsq_set_slice(&mut it, self.knobs.slice_ns * 2);
                cx.dispatch_from_dsq_set_vtime(&mut it, self.highpri_seq);
                self.highpri_seq += 1;
                self.touch();
                cx.dispatch_vtime_from_dsq(&mut it, p, HIGHPRI_DSQ, 0);
            }
        }
        cx.dsq_iter_destroy(it);

        let (mut it, _) = cx.dsq_iter_new(HIGHPRI_DSQ, 0);
        while let Some(p) = cx.dsq_iter_next(&mut it) {
            let mut dispatched = false;
            let mask = *cx.task(p).cpus_ptr();
            let cpu = if mask.test(this_cpu as usize) {
                this_cpu
            } else {
                cx.pick_any_cpu(&mask, 0)
            };
            let target = SCX_DSQ_LOCAL_ON | (cpu as u32 as u64);
            if cx.dispatch_from_dsq(&mut it, p, target, SCX_ENQ_PREEMPT) {
                if cpu == this_cpu {
                    dispatched = true;
                    self.stats.nr_expedited_local += 1;
                } else {
                    self.stats.nr_expedited_remote += 1;
                }
                if from_timer {
                    self.stats.nr_expedited_from_timer += 1;
                }
            } else {
                self.stats.nr_expedited_lost += 1;
            }
            self.touch();
            if dispatched {
                cx.dsq_iter_destroy(it);
                return true;
            }
        }
        cx.dsq_iter_destroy(it);
        false
    }

    fn update_core_sched_head_seq(&mut self, cx: &mut Cx, p: Task) {
        let idx = weight_to_idx(cx.task(p).weight());
        if let Some(t) = self.lookup_task_ctx(cx, p) {
            if self.core_sched_head_seqs[idx] != t.core_sched_seq {
                self.core_sched_head_seqs[idx] = t.core_sched_seq;
                self.touch();
            }
        }
    }

    /// `task_qdist()`.
    fn task_qdist(&mut self, cx: &mut Cx, p: Task) -> i64 {
        let idx = weight_to_idx(cx.task(p).weight());
        let Some(t) = self.tctx.get(p).copied() else {
            cx.error("task_ctx lookup failed");
            return 0;
        };
        let qdist = t
            .core_sched_seq
            .wrapping_sub(self.core_sched_head_seqs[idx]) as i64;
        if qdist >= 0 {
            qdist << (4 - idx)
        } else {
            qdist << idx
        }
    }

    /// `monitor_cpuperf()`.
    fn monitor_cpuperf(&mut self, cx: &mut Cx) {
        let nr = cx.nr_cpu_ids() as usize;
        let online = cx.get_online_cpumask();
        let (mut cap_sum, mut cur_sum, mut cur_min, mut cur_max) =
            (0u64, 0u64, SCX_CPUPERF_ONE as u64, 0u64);
        let (mut t_sum, mut t_min, mut t_max) = (0u64, SCX_CPUPERF_ONE as u64, 0u64);
        let mut nr_online = 0u64;
        for i in 0..nr {
            if !online.test(i) {
                continue;
            }
            nr_online += 1;
            let cap = u64::from(cx.cpuperf_cap(i as i32));
            let cur = u64::from(cx.cpuperf_cur(i as i32));
            cur_min = cur_min.min(cur);
            cur_max = cur_max.max(cur);
            cur_sum += cur * cap / u64::from(SCX_CPUPERF_ONE);
            cap_sum += cap;
            let target = u64::from(self.cpuc.get(i).cpuperf_target);
            t_sum += target;
            t_min = t_min.min(target);
            t_max = t_max.max(target);
        }
        self.stats.cpuperf = [
            cur_min as u32,
            (cur_sum * u64::from(SCX_CPUPERF_ONE) / cap_sum.max(1)) as u32,
            cur_max as u32,
        ];
        self.stats.cpuperf_target = [
            t_min as u32,
            (t_sum / nr_online.max(1)) as u32,
            t_max as u32,
        ];
        self.touch();
    }

    /// `dump_shared_dsq()`.
    fn dump_shared_dsq(&mut self, cx: &mut Cx) {
        let nr = cx.dsq_nr_queued(SHARED_DSQ);
        if nr == 0 {
            return;
        }
        cx.printk(&format!(
            "Dumping {nr} tasks in SHARED_DSQ in reverse order"
        ));
        let (mut it, _) = cx.dsq_iter_new(SHARED_DSQ, SCX_DSQ_ITER_REV);
        while let Some(p) = cx.dsq_iter_next(&mut it) {
            let line = format!("{}[{}]", cx.task(p).comm(), cx.task(p).pid());
            cx.printk(&line);
        }
        cx.dsq_iter_destroy(it);
    }

    /// `print_cpus()`.
    fn print_cpus(cx: &mut Cx) {
        let possible = cx.get_possible_cpumask();
        let online = cx.get_online_cpumask();
        let mut buf = String::new();
        for cpu in 0..cx.nr_cpu_ids() as usize {
            if buf.len() >= 127 {
                break;
            }
            buf.push(if online.test(cpu) {
                'O'
            } else if possible.test(cpu) {
                'X'
            } else {
                ' '
            });
            if cpu & 7 == 7 && buf.len() < 127 {
                buf.push('|');
            }
        }
        cx.printk(&format!("CPUS: |{buf}"));
    }
}

impl Scheduler for Qmap {
    fn info(&self) -> OpsInfo {
        let mut i = OpsInfo::new(
            "qmap",
            &[
                Op::SelectCpu,
                Op::Enqueue,
                Op::Dequeue,
                Op::Dispatch,
                Op::Tick,
                Op::CoreSchedBefore,
                Op::CpuRelease,
                Op::InitTask,
                Op::Dump,
                Op::DumpCpu,
                Op::DumpTask,
                Op::CpuOnline,
                Op::CpuOffline,
                Op::Init,
                Op::Exit,
            ],
        );
        i.timeout_ms = 5000;
        i.flags = self.knobs.flags;
        i.exit_dump_len = self.knobs.exit_dump_len;
        i.hotplug_seq = self.knobs.hotplug_seq;
        i
    }

    fn select_cpu(&mut self, cx: &mut Cx, p: Task, prev_cpu: i32, _wake_flags: u64) -> i32 {
        let Some(mut tctx) = self.lookup_task_ctx(cx, p) else {
            return -ESRCH;
        };
        let cpu = Self::pick_direct_dispatch_cpu(cx, p, prev_cpu);
        if cpu >= 0 {
            tctx.force_local = true;
            self.set_task_ctx(p, tctx);
            cpu
        } else {
            prev_cpu
        }
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        let (pid, weight, kthread) = {
            let t = cx.task(p);
            (t.pid() as u32, t.weight(), t.is_kthread())
        };
        let idx = weight_to_idx(weight);
        if kthread {
            if self.knobs.stall_kernel_nth != 0 {
                self.kernel_cnt = self.kernel_cnt.wrapping_add(1);
                self.touch();
                if self.kernel_cnt.is_multiple_of(self.knobs.stall_kernel_nth) {
                    return;
                }
            }
        } else if self.knobs.stall_user_nth != 0 {
            self.user_cnt = self.user_cnt.wrapping_add(1);
            self.touch();
            if self.user_cnt.is_multiple_of(self.knobs.stall_user_nth) {
                return;
            }
        }
        if self.test_error_cnt != 0 {
            self.test_error_cnt -= 1;
            self.touch();
            if self.test_error_cnt == 0 {
                cx.error("test triggering error");
            }
        }
        let Some(mut tctx) = self.lookup_task_ctx(cx, p) else {
            return;
        };
        tctx.core_sched_seq = self.core_sched_tail_seqs[idx];
        self.core_sched_tail_seqs[idx] += 1;
        self.touch();
        if tctx.force_local {
            tctx.force_local = false;
            self.set_task_ctx(p, tctx);
            cx.dispatch(p, SCX_DSQ_LOCAL, self.knobs.slice_ns, enq_flags);
            return;
        }
        self.set_task_ctx(p, tctx);
        if enq_flags & SCX_ENQ_CPU_SELECTED == 0 {
            let task_cpu = cx.task_cpu(p);
            let cpu = Self::pick_direct_dispatch_cpu(cx, p, task_cpu);
            if cpu >= 0 {
                self.stats.nr_ddsp_from_enq += 1;
                cx.dispatch(
                    p,
                    SCX_DSQ_LOCAL_ON | cpu as u64,
                    self.knobs.slice_ns,
                    enq_flags,
                );
                return;
            }
        }
        if enq_flags & SCX_ENQ_REENQ != 0 {
            cx.dispatch(p, SHARED_DSQ, 0, enq_flags);
            let mask = *cx.task(p).cpus_ptr();
            let cpu = cx.pick_idle_cpu(&mask, 0);
            if cpu >= 0 {
                cx.kick_cpu(cpu, SCX_KICK_IDLE);
            }
            return;
        }
        if self.queues[idx].push(pid).is_err() {
            cx.dispatch(p, SHARED_DSQ, self.knobs.slice_ns, enq_flags);
            return;
        }
        if self.knobs.highpri_boosting && weight >= HIGHPRI_WEIGHT {
            tctx.highpri = true;
            self.set_task_ctx(p, tctx);
            self.nr_highpri_queued += 1;
        }
        self.stats.nr_enqueued += 1;
    }

    fn dequeue(&mut self, _cx: &mut Cx, _p: Task, deq_flags: u64) {
        self.stats.nr_dequeued += 1;
        if deq_flags & SCX_DEQ_CORE_SCHED_EXEC != 0 {
            self.stats.nr_core_sched_execed += 1;
        }
        self.touch();
    }

    fn dispatch(&mut self, cx: &mut Cx, cpu: i32, prev: Option<Task>) {
        let mut batch = if self.knobs.dsp_batch != 0 {
            self.knobs.dsp_batch
        } else {
            1
        };
        if self.dispatch_highpri(cx, false) {
            return;
        }
        if self.nr_highpri_queued == 0 && cx.consume(SHARED_DSQ) {
            return;
        }
        let after = u64::from(self.knobs.dsp_inf_loop_after);
        if after != 0 && self.stats.nr_dispatched > after {
            if let Some(p) = cx.task_from_pid(2) {
                cx.dispatch(p, SCX_DSQ_LOCAL, self.knobs.slice_ns, 0);
                return;
            }
        }
        let c = cpu as usize;
        for _ in 0..5 {
            let mut cpuc = *self.cpuc.get(c);
            if cpuc.dsp_cnt == 0 {
                cpuc.dsp_idx = (cpuc.dsp_idx + 1) % 5;
                cpuc.dsp_cnt = 1 << cpuc.dsp_idx;
                *self.cpuc.get_mut(c) = cpuc;
                self.touch();
            }
            let fifo = cpuc.dsp_idx as usize;
            for _ in 0..BPF_MAX_LOOPS {
                let Some(pid) = self.queues[fifo].pop() else {
                    break;
                };
                self.touch();
                let Some(p) = cx.task_from_pid(pid as i32) else {
                    continue;
                };
                let Some(mut tctx) = self.lookup_task_ctx(cx, p) else {
                    return;
                };
                if tctx.highpri {
                    self.nr_highpri_queued = self.nr_highpri_queued.wrapping_sub(1);
                }
                let _ = &mut tctx;
                self.update_core_sched_head_seq(cx, p);
                self.stats.nr_dispatched += 1;
                cx.dispatch(p, SHARED_DSQ, self.knobs.slice_ns, 0);
                batch -= 1;
                self.cpuc.get_mut(c).dsp_cnt -= 1;
                if batch == 0 || cx.dispatch_nr_slots() == 0 {
                    if self.dispatch_highpri(cx, false) {
                        return;
                    }
                    cx.consume(SHARED_DSQ);
                    return;
                }
                if self.cpuc.get(c).dsp_cnt == 0 {
                    break;
                }
            }
            self.cpuc.get_mut(c).dsp_cnt = 0;
        }
        if let Some(prev) = prev {
            let idx = weight_to_idx(cx.task(prev).weight());
            let Some(mut t) = self.tctx.get(prev).copied() else {
                cx.error("task_ctx lookup failed");
                return;
            };
            t.core_sched_seq = self.core_sched_tail_seqs[idx];
            self.core_sched_tail_seqs[idx] += 1;
            self.touch();
            self.set_task_ctx(prev, t);
        }
    }

    fn tick(&mut self, cx: &mut Cx, p: Task) {
        let cpu = cx.smp_processor_id() as usize;
        let weight = cx.task(p).weight();
        let c = self.cpuc.get_mut(cpu);
        c.avg_weight = c.avg_weight * 3 / 4 + weight / 4;
        c.cpuperf_target = QIDX_TO_CPUPERF_TARGET[weight_to_idx(c.avg_weight)];
        let target = c.cpuperf_target;
        self.touch();
        let task_cpu = cx.task_cpu(p);
        cx.cpuperf_set(task_cpu, target);
    }

    fn core_sched_before(&mut self, cx: &mut Cx, a: Task, b: Task) -> bool {
        self.task_qdist(cx, a) < self.task_qdist(cx, b)
    }

    fn cpu_release(&mut self, cx: &mut Cx, _cpu: i32, _args: &CpuReleaseArgs) {
        let cnt = cx.reenqueue_local();
        if cnt != 0 {
            self.stats.nr_reenqueued += u64::from(cnt);
            self.touch();
        }
    }

    fn init_task(&mut self, cx: &mut Cx, p: Task, _args: &InitTaskArgs) -> i32 {
        if cx.task(p).tgid() == self.knobs.disallow_tgid {
            cx.set_disallow(p, true);
        }
        self.tctx.insert(p, TaskCtx::default());
        self.touch();
        0
    }

    fn dump(&mut self, cx: &mut Cx, _dctx: &DumpCtx) {
        if self.knobs.suppress_dump {
            return;
        }
        for i in 0..5 {
            cx.dump(&format!("QMAP FIFO[{i}]:"));
            let pids: Vec<u32> = self.queues[i].iter().copied().collect();
            for pid in pids {
                cx.dump(&format!(" {pid}"));
            }
            cx.dump("\n");
        }
    }

    fn dump_cpu(&mut self, cx: &mut Cx, _dctx: &DumpCtx, cpu: i32, idle: bool) {
        if self.knobs.suppress_dump || idle {
            return;
        }
        let c = *self.cpuc.get(cpu as usize);
        cx.dump(&format!(
            "QMAP: dsp_idx={} dsp_cnt={} avg_weight={} cpuperf_target={}",
            c.dsp_idx, c.dsp_cnt, c.avg_weight, c.cpuperf_target
        ));
    }

    fn dump_task(&mut self, cx: &mut Cx, _dctx: &DumpCtx, p: Task) {
        if self.knobs.suppress_dump {
            return;
        }
        let Some(t) = self.tctx.get(p).copied() else {
            return;
        };
        cx.dump(&format!(
            "QMAP: force_local={} core_sched_seq={}",
            u8::from(t.force_local),
            t.core_sched_seq
        ));
    }

    fn cpu_online(&mut self, cx: &mut Cx, cpu: i32) {
        cx.printk(&format!("CPU {cpu} coming online"));
        Self::print_cpus(cx);
    }

    fn cpu_offline(&mut self, cx: &mut Cx, cpu: i32) {
        cx.printk(&format!("CPU {cpu} going offline"));
        Self::print_cpus(cx);
    }

    fn init(&mut self, cx: &mut Cx) -> i32 {
        Self::print_cpus(cx);
        let ret = cx.create_dsq(SHARED_DSQ, -1);
        if ret != 0 {
            return ret;
        }
        let ret = cx.create_dsq(HIGHPRI_DSQ, -1);
        if ret != 0 {
            return ret;
        }
        cx.timer_start(MONITOR_TIMER, ONE_SEC_IN_NS, false)
    }

    fn exit(&mut self, _cx: &mut Cx, _info: &ExitInfo) {}

    fn timer_fired(&mut self, cx: &mut Cx, _timer: u64) {
        self.dispatch_highpri(cx, true);
        self.monitor_cpuperf(cx);
        if self.knobs.print_shared_dsq {
            self.dump_shared_dsq(cx);
        }
        cx.timer_start(MONITOR_TIMER, ONE_SEC_IN_NS, false);
    }

    fn state_digest(&self) -> Option<u64> {
        Some(self.generation)
    }
}

/// The loader.
pub struct QmapTool {
    knobs: Knobs,
}

impl QmapTool {
    /// Parses scx_qmap's flags (`"s:e:t:T:l:b:PHd:D:Spvh"`).
    pub fn parse(args: &[String]) -> Result<QmapTool, ToolError> {
        let usage = |e: String| ToolError::Usage(format!("scx_qmap: {e}"));
        let opts = getopt(args, "s:e:t:T:l:b:PHd:D:Spvh").map_err(usage)?;
        let mut k = Knobs::default();
        for o in opts {
            let arg = o.arg.clone().unwrap_or_default();
            let num = |c: char| strtoul(&arg, c).map_err(usage);
            match o.letter {
                's' => k.slice_ns = num('s')?.wrapping_mul(1000),
                'e' => k.test_error_cnt = num('e')? as u32,
                't' => k.stall_user_nth = num('t')? as u32,
                'T' => k.stall_kernel_nth = num('T')? as u32,
                'l' => k.dsp_inf_loop_after = num('l')? as u32,
                'b' => k.dsp_batch = num('b')? as u32,
                'P' => k.print_shared_dsq = true,
                'H' => k.highpri_boosting = true,
                'd' => {
                    k.disallow_tgid = strtol(&arg, 'd').map_err(usage)? as i32;
                    if k.disallow_tgid < 0 {
                        // getpid() of the loader: the loader is not a
                        // simulated task, so no task matches.
                        k.disallow_tgid = i32::MAX;
                    }
                }
                'D' => k.exit_dump_len = num('D')? as u32,
                'S' => k.suppress_dump = true,
                'p' => k.flags |= SCX_OPS_SWITCH_PARTIAL,
                'v' => {}
                _ => return Err(ToolError::Help(HELP.replace("%s", "scx_qmap"))),
            }
        }
        Ok(QmapTool { knobs: k })
    }

    /// The knobs the loader set.
    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }
}

impl Tool for QmapTool {
    fn program_name(&self) -> &'static str {
        "scx_qmap"
    }

    fn scheduler(&self, k: &Kernel, _restart: bool) -> Box<dyn Scheduler> {
        let mut knobs = self.knobs.clone();
        knobs.hotplug_seq = k.scx.hotplug_seq;
        Box::new(Qmap::new(k.nr_cpus(), knobs))
    }

    fn stats(&mut self, k: &mut Kernel) -> Vec<String> {
        with_sched(k, |q: &Qmap| {
            let s = &q.stats;
            vec![
                format!(
                    "stats  : enq={} dsp={} delta={} reenq={} deq={} core={} enq_ddsp={}",
                    s.nr_enqueued,
                    s.nr_dispatched,
                    s.nr_enqueued as i64 - s.nr_dispatched as i64,
                    s.nr_reenqueued,
                    s.nr_dequeued,
                    s.nr_core_sched_execed,
                    s.nr_ddsp_from_enq
                ),
                format!(
                    "         exp_local={} exp_remote={} exp_timer={} exp_lost={}",
                    s.nr_expedited_local,
                    s.nr_expedited_remote,
                    s.nr_expedited_from_timer,
                    s.nr_expedited_lost
                ),
                format!(
                    "cpuperf: cur min/avg/max={}/{}/{} target min/avg/max={}/{}/{}",
                    s.cpuperf[0],
                    s.cpuperf[1],
                    s.cpuperf[2],
                    s.cpuperf_target[0],
                    s.cpuperf_target[1],
                    s.cpuperf_target[2]
                ),
            ]
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_buckets() {
        assert_eq!(weight_to_idx(100), 2);
        assert_eq!(weight_to_idx(25), 0);
        assert_eq!(weight_to_idx(50), 1);
        assert_eq!(weight_to_idx(200), 3);
        assert_eq!(weight_to_idx(8668), 4);
    }

    #[test]
    fn flags_fill_knobs() {
        let args: Vec<String> = ["-l", "100", "-s", "5000", "-p", "-D", "0x100"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let t = QmapTool::parse(&args).unwrap();
        assert_eq!(t.knobs.dsp_inf_loop_after, 100);
        assert_eq!(t.knobs.slice_ns, 5_000_000);
        assert_eq!(t.knobs.flags, SCX_OPS_SWITCH_PARTIAL);
        assert_eq!(t.knobs.exit_dump_len, 256);
    }

    #[test]
    fn help_and_errors() {
        match QmapTool::parse(&["-h".to_string()]) {
            Err(ToolError::Help(h)) => assert!(h.contains("Usage: scx_qmap [-s SLICE_US]")),
            _ => panic!("expected help"),
        }
        match QmapTool::parse(&["-z".to_string()]) {
            Err(ToolError::Usage(e)) => assert_eq!(e, "scx_qmap: invalid option -- 'z'"),
            _ => panic!("expected usage error"),
        }
    }
}
