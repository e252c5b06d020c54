//! The kfunc surface: what a scheduler may call back into the kernel.
//!
//! Method names are the 6.12 kfunc names without the `scx_bpf_` prefix
//! (`dispatch` is `scx_bpf_dispatch`, `kick_cpu` is `scx_bpf_kick_cpu`),
//! plus the 6.13 names as aliases (`dsq_insert`, `dsq_move_to_local`, ...)
//! and the BPF helpers schedulers use (`ktime_get_ns`, `task_from_pid`,
//! `printk`, timers). Every kfunc checks the kfunc-allowed mask of the op
//! in progress exactly as `scx_kf_allowed()` does and reports misuse as the
//! kernel's scx error.

use super::Task;
use crate::consts::*;
use crate::ext::dsq::DsqKind;
use crate::ext::rq::{DdspMarker, DspEnt};
use crate::kernel::Kernel;
use crate::list::NodeId;
use crate::task::Tid;
use scx_machine::Cpumask;
use scx_workload::Policy;

/// The kfunc context handed to every callback.
pub struct Cx<'a> {
    k: &'a mut Kernel,
    cpu: usize,
}

/// A BPF DSQ iterator (`struct bpf_iter_scx_dsq`).
#[derive(Debug)]
pub struct DsqIter {
    dsq: Option<u32>,
    cursor: Option<(NodeId, u32)>,
    seq: u32,
    rev: bool,
    slice: Option<u64>,
    vtime: Option<u64>,
}

/// Read-only view of a task (`struct task_struct *` as BPF reads it).
pub struct TaskRef<'a> {
    t: &'a crate::task::Task,
    k: &'a Kernel,
}

/// Read-only view of a runqueue (`scx_bpf_cpu_rq()`).
pub struct RqView<'a> {
    rq: &'a crate::rq::Rq,
    k: &'a Kernel,
}

fn highest_bit(m: u32) -> u32 {
    if m == 0 {
        0
    } else {
        1 << (31 - m.leading_zeros())
    }
}

fn higher_bits(m: u32) -> u32 {
    let h = highest_bit(m);
    if h == 0 {
        !0
    } else {
        !((h << 1).wrapping_sub(1))
    }
}

impl<'a> Cx<'a> {
    pub(crate) fn new(k: &'a mut Kernel, cpu: usize) -> Cx<'a> {
        Cx { k, cpu }
    }

    fn charge(&mut self) {
        self.k.charge(self.k.cfg.cost.kfunc);
    }

    /// Notes that this call reads another CPU's state (the idle masks, a
    /// remote runqueue), for fast-forwarding's view of what a repetition
    /// depends on.
    fn remote_read(&mut self) {
        self.k.rqs[self.cpu].counters.remote_reads += 1;
    }

    fn kf_mask(&self) -> u32 {
        self.k.rqs[self.cpu].scx.kf_mask
    }

    /// `scx_kf_allowed()`.
    fn kf_allowed(&mut self, mask: u32) -> bool {
        let cur = self.kf_mask();
        if cur & mask == 0 {
            self.k.scx_ops_error(format!(
                "kfunc with mask {mask:#x} called from an operation only allowing {cur:#x}"
            ));
            return false;
        }
        if highest_bit(mask) == SCX_KF_CPU_RELEASE && cur & higher_bits(SCX_KF_CPU_RELEASE) != 0 {
            self.k
                .scx_ops_error("cpu_release kfunc called from a nested operation".into());
            return false;
        }
        if highest_bit(mask) == SCX_KF_DISPATCH && cur & higher_bits(SCX_KF_DISPATCH) != 0 {
            self.k
                .scx_ops_error("dispatch kfunc called from a nested operation".into());
            return false;
        }
        true
    }

    /// `scx_kf_allowed_on_arg_tasks()`.
    fn kf_allowed_on_arg_tasks(&mut self, mask: u32, p: Task) -> bool {
        if !self.kf_allowed(mask) {
            return false;
        }
        let args = self.k.rqs[self.cpu].scx.kf_tasks;
        if args[0] != Some(p.0) && args[1] != Some(p.0) {
            self.k
                .scx_ops_error("called on a task not being operated on".into());
            return false;
        }
        true
    }

    fn valid_task(&self, p: Task) -> bool {
        (p.0 as usize) < self.k.tasks.len()
    }

    // ------------------------------------------------------------------
    // Dispatching.

    /// `scx_dispatch_preamble()`.
    fn dispatch_preamble(&mut self, p: Task, enq_flags: u64) -> bool {
        if !self.kf_allowed(SCX_KF_ENQUEUE | SCX_KF_DISPATCH) {
            return false;
        }
        if !self.valid_task(p) {
            self.k.scx_ops_error("called with NULL task".into());
            return false;
        }
        if enq_flags & SCX_ENQ_INTERNAL_MASK != 0 {
            self.k
                .scx_ops_error(format!("invalid enq_flags {enq_flags:#x}"));
            return false;
        }
        true
    }

    /// `mark_direct_dispatch()`.
    fn mark_direct_dispatch(&mut self, marker: DdspMarker, p: Tid, dsq_id: u64, enq_flags: u64) {
        self.k.rqs[self.cpu].scx.ddsp_task = DdspMarker::Used;
        let expected = match marker {
            DdspMarker::Task(t) => Some(t),
            _ => None,
        };
        if expected != Some(p) {
            let t = self.k.task(p);
            let msg = match expected {
                None => format!("{}[{}] already direct-dispatched", t.comm, t.pid),
                Some(e) => {
                    let et = self.k.task(e);
                    format!(
                        "scheduling for {}[{}] but trying to direct-dispatch {}[{}]",
                        et.comm, et.pid, t.comm, t.pid
                    )
                }
            };
            self.k.scx_ops_error(msg);
            return;
        }
        let t = self.k.task_mut(p);
        t.scx.ddsp_dsq_id = dsq_id;
        t.scx.ddsp_enq_flags = enq_flags;
    }

    /// `scx_dispatch_commit()`.
    fn dispatch_commit(&mut self, p: Tid, dsq_id: u64, enq_flags: u64) {
        let marker = self.k.rqs[self.cpu].scx.ddsp_task;
        if marker != DdspMarker::None {
            return self.mark_direct_dispatch(marker, p, dsq_id, enq_flags);
        }
        if self.k.rqs[self.cpu].scx.dsp_buf.len() >= self.k.scx.dsp_max_batch as usize {
            self.k.scx_ops_error("dispatch buffer overflow".into());
            return;
        }
        let qseq = self.k.task(p).scx.ops_state & !SCX_OPSS_STATE_MASK;
        self.k.rqs[self.cpu].scx.dsp_buf.push(DspEnt {
            task: p,
            qseq,
            dsq_id,
            enq_flags,
        });
    }

    /// `scx_bpf_dispatch()`: dispatch `p` to `dsq_id` with `slice`.
    #[doc(alias = "scx_bpf_dispatch")]
    pub fn dispatch(&mut self, p: Task, dsq_id: u64, slice: u64, enq_flags: u64) {
        self.charge();
        if !self.dispatch_preamble(p, enq_flags) {
            return;
        }
        let t = self.k.task_mut(p.0);
        t.scx.slice = if slice != 0 {
            slice
        } else {
            t.scx.slice.max(1)
        };
        self.dispatch_commit(p.0, dsq_id, enq_flags);
    }

    /// 6.13 name of [`Cx::dispatch`].
    #[doc(alias = "scx_bpf_dsq_insert")]
    pub fn dsq_insert(&mut self, p: Task, dsq_id: u64, slice: u64, enq_flags: u64) {
        self.dispatch(p, dsq_id, slice, enq_flags)
    }

    /// `scx_bpf_dispatch_vtime()`: dispatch into a vtime-ordered DSQ.
    #[doc(alias = "scx_bpf_dispatch_vtime")]
    pub fn dispatch_vtime(&mut self, p: Task, dsq_id: u64, slice: u64, vtime: u64, enq_flags: u64) {
        self.charge();
        if !self.dispatch_preamble(p, enq_flags) {
            return;
        }
        let t = self.k.task_mut(p.0);
        t.scx.slice = if slice != 0 {
            slice
        } else {
            t.scx.slice.max(1)
        };
        t.scx.dsq_vtime = vtime;
        self.dispatch_commit(p.0, dsq_id, enq_flags | SCX_ENQ_DSQ_PRIQ);
    }

    /// 6.13 name of [`Cx::dispatch_vtime`].
    #[doc(alias = "scx_bpf_dsq_insert_vtime")]
    pub fn dsq_insert_vtime(
        &mut self,
        p: Task,
        dsq_id: u64,
        slice: u64,
        vtime: u64,
        enq_flags: u64,
    ) {
        self.dispatch_vtime(p, dsq_id, slice, vtime, enq_flags)
    }

    /// `scx_bpf_dispatch_nr_slots()`.
    #[doc(alias = "scx_bpf_dispatch_nr_slots")]
    pub fn dispatch_nr_slots(&mut self) -> u32 {
        self.charge();
        if !self.kf_allowed(SCX_KF_DISPATCH) {
            return 0;
        }
        self.k.scx.dsp_max_batch - self.k.rqs[self.cpu].scx.dsp_buf.len() as u32
    }

    /// `scx_bpf_dispatch_cancel()`.
    #[doc(alias = "scx_bpf_dispatch_cancel")]
    pub fn dispatch_cancel(&mut self) {
        self.charge();
        if !self.kf_allowed(SCX_KF_DISPATCH) {
            return;
        }
        if self.k.rqs[self.cpu].scx.dsp_buf.pop().is_none() {
            self.k.scx_ops_error("dispatch buffer underflow".into());
        }
    }

    /// `scx_bpf_consume()`: move the first eligible task of user DSQ
    /// `dsq_id` to this CPU's local DSQ.
    #[doc(alias = "scx_bpf_consume")]
    pub fn consume(&mut self, dsq_id: u64) -> bool {
        self.charge();
        if !self.kf_allowed(SCX_KF_DISPATCH) {
            return false;
        }
        let cpu = self.cpu;
        self.k.flush_dispatch_buf(cpu);
        let Some(d) = self.k.find_user_dsq(dsq_id) else {
            self.k
                .scx_ops_error(format!("invalid DSQ ID {dsq_id:#018x}"));
            return false;
        };
        if self.k.consume_dispatch_q(cpu, d) {
            self.k.rqs[cpu].scx.dsp_nr_tasks += 1;
            true
        } else {
            false
        }
    }

    /// 6.13 name of [`Cx::consume`].
    #[doc(alias = "scx_bpf_dsq_move_to_local")]
    pub fn dsq_move_to_local(&mut self, dsq_id: u64) -> bool {
        self.consume(dsq_id)
    }

    /// `scx_bpf_reenqueue_local()`: re-enqueue every task of this CPU's
    /// local DSQ through `ops.enqueue(p, SCX_ENQ_REENQ)` (performed as soon
    /// as `ops.cpu_release()` returns; see `ext/call.rs`).
    #[doc(alias = "scx_bpf_reenqueue_local")]
    pub fn reenqueue_local(&mut self) -> u32 {
        self.charge();
        if !self.kf_allowed(SCX_KF_CPU_RELEASE) {
            return 0;
        }
        let cpu = self.cpu;
        self.k.reenqueue_local_start(cpu)
    }

    // ------------------------------------------------------------------
    // DSQs.

    /// `scx_bpf_create_dsq()`: 0 or a negative errno.
    #[doc(alias = "scx_bpf_create_dsq")]
    pub fn create_dsq(&mut self, dsq_id: u64, node: i32) -> i32 {
        self.charge();
        self.k.create_dsq(dsq_id, node)
    }

    /// `scx_bpf_destroy_dsq()`.
    #[doc(alias = "scx_bpf_destroy_dsq")]
    pub fn destroy_dsq(&mut self, dsq_id: u64) {
        self.charge();
        self.k.destroy_dsq(dsq_id)
    }

    /// `scx_bpf_dsq_nr_queued()`: count, or `-ENOENT`.
    #[doc(alias = "scx_bpf_dsq_nr_queued")]
    pub fn dsq_nr_queued(&mut self, dsq_id: u64) -> i32 {
        self.charge();
        if dsq_id == SCX_DSQ_LOCAL {
            let d = self.k.rqs[self.cpu].scx.local_dsq;
            return self.k.scx.dsqs.get(d).nr as i32;
        }
        if dsq_id & SCX_DSQ_LOCAL_ON == SCX_DSQ_LOCAL_ON {
            let cpu = (dsq_id & SCX_DSQ_LOCAL_CPU_MASK) as u32 as i32;
            if self.k.ops_cpu_valid(i64::from(cpu), None) {
                let d = self.k.rqs[cpu as usize].scx.local_dsq;
                return self.k.scx.dsqs.get(d).nr as i32;
            }
            return -ENOENT;
        }
        match self.k.find_user_dsq(dsq_id) {
            Some(d) => self.k.scx.dsqs.get(d).nr as i32,
            None => -ENOENT,
        }
    }

    /// `bpf_iter_scx_dsq_new()`: an iterator over user DSQ `dsq_id`
    /// (`SCX_DSQ_ITER_REV` in `flags` for reverse). The `Err` value is the
    /// kernel's return (`-EINVAL`, `-ENOENT`); the iterator is still
    /// returned (empty), as BPF must still call next/destroy.
    #[doc(alias = "bpf_iter_scx_dsq_new")]
    pub fn dsq_iter_new(&mut self, dsq_id: u64, flags: u64) -> (DsqIter, i32) {
        self.charge();
        let mut it = DsqIter {
            dsq: None,
            cursor: None,
            seq: 0,
            rev: flags & SCX_DSQ_ITER_REV != 0,
            slice: None,
            vtime: None,
        };
        if flags & !SCX_DSQ_ITER_REV != 0 {
            return (it, -EINVAL);
        }
        let Some(d) = self.k.find_user_dsq(dsq_id) else {
            return (it, -ENOENT);
        };
        it.dsq = Some(d);
        it.seq = self.k.scx.dsqs.get(d).seq;
        it.cursor = Some(self.k.alloc_iter_cursor(self.cpu));
        (it, 0)
    }

    /// `bpf_iter_scx_dsq_next()`.
    #[doc(alias = "bpf_iter_scx_dsq_next")]
    pub fn dsq_iter_next(&mut self, it: &mut DsqIter) -> Option<Task> {
        self.charge();
        let d = it.dsq?;
        let (cursor, gen) = it.cursor?;
        if !self.k.iter_cursor_live(cursor, gen) {
            it.dsq = None;
            return None;
        }
        self.k.dsq_iter_step(d, cursor, it.seq, it.rev).map(Task)
    }

    /// `bpf_iter_scx_dsq_destroy()`.
    #[doc(alias = "bpf_iter_scx_dsq_destroy")]
    pub fn dsq_iter_destroy(&mut self, mut it: DsqIter) {
        if let (Some(d), Some((cursor, gen))) = (it.dsq.take(), it.cursor.take()) {
            if self.k.iter_cursor_live(cursor, gen) {
                self.k.free_iter_cursor(d, cursor);
            }
        }
    }

    /// `scx_bpf_dispatch_from_dsq_set_slice()`.
    #[doc(alias = "scx_bpf_dispatch_from_dsq_set_slice")]
    pub fn dispatch_from_dsq_set_slice(&mut self, it: &mut DsqIter, slice: u64) {
        it.slice = Some(slice);
    }

    /// `scx_bpf_dispatch_from_dsq_set_vtime()`.
    #[doc(alias = "scx_bpf_dispatch_from_dsq_set_vtime")]
    pub fn dispatch_from_dsq_set_vtime(&mut self, it: &mut DsqIter, vtime: u64) {
        it.vtime = Some(vtime);
    }

    /// 6.13 name of [`Cx::dispatch_from_dsq_set_slice`].
    #[doc(alias = "scx_bpf_dsq_move_set_slice")]
    pub fn dsq_move_set_slice(&mut self, it: &mut DsqIter, slice: u64) {
        self.dispatch_from_dsq_set_slice(it, slice)
    }

    /// 6.13 name of [`Cx::dispatch_from_dsq_set_vtime`].
    #[doc(alias = "scx_bpf_dsq_move_set_vtime")]
    pub fn dsq_move_set_vtime(&mut self, it: &mut DsqIter, vtime: u64) {
        self.dispatch_from_dsq_set_vtime(it, vtime)
    }

    /// `scx_bpf_dispatch_from_dsq()`: move `p`, found through `it`, to
    /// `dsq_id`.
    #[doc(alias = "scx_bpf_dispatch_from_dsq")]
    pub fn dispatch_from_dsq(
        &mut self,
        it: &mut DsqIter,
        p: Task,
        dsq_id: u64,
        enq_flags: u64,
    ) -> bool {
        self.charge();
        self.dispatch_from_dsq_inner(it, p.0, dsq_id, enq_flags)
    }

    /// `scx_bpf_dispatch_vtime_from_dsq()`.
    #[doc(alias = "scx_bpf_dispatch_vtime_from_dsq")]
    pub fn dispatch_vtime_from_dsq(
        &mut self,
        it: &mut DsqIter,
        p: Task,
        dsq_id: u64,
        enq_flags: u64,
    ) -> bool {
        self.charge();
        self.dispatch_from_dsq_inner(it, p.0, dsq_id, enq_flags | SCX_ENQ_DSQ_PRIQ)
    }

    /// 6.13 name of [`Cx::dispatch_from_dsq`].
    #[doc(alias = "scx_bpf_dsq_move")]
    pub fn dsq_move(&mut self, it: &mut DsqIter, p: Task, dsq_id: u64, enq_flags: u64) -> bool {
        self.dispatch_from_dsq(it, p, dsq_id, enq_flags)
    }

    /// 6.13 name of [`Cx::dispatch_vtime_from_dsq`].
    #[doc(alias = "scx_bpf_dsq_move_vtime")]
    pub fn dsq_move_vtime(
        &mut self,
        it: &mut DsqIter,
        p: Task,
        dsq_id: u64,
        enq_flags: u64,
    ) -> bool {
        self.dispatch_vtime_from_dsq(it, p, dsq_id, enq_flags)
    }

    /// `scx_dispatch_from_dsq()` (ext.c:6401-6483).
    fn dispatch_from_dsq_inner(
        &mut self,
        it: &mut DsqIter,
        p: Tid,
        dsq_id: u64,
        enq_flags: u64,
    ) -> bool {
        let Some(src_dsq) = it.dsq else {
            return false;
        };
        if self.kf_mask() != 0 && !self.kf_allowed(SCX_KF_DISPATCH) {
            return false;
        }
        let (slice, vtime) = (it.slice.take(), it.vtime.take());
        let t = self.k.task(p);
        let stale = (t.scx.dsq_seq.wrapping_sub(it.seq) as i32) > 0;
        if t.scx.dsq != Some(src_dsq) || stale || t.scx.holding_cpu >= 0 {
            return false;
        }
        let dst = self.k.find_dsq_for_dispatch(self.cpu, dsq_id, p);
        let t = self.k.task_mut(p);
        if let Some(v) = vtime {
            t.scx.dsq_vtime = v;
        }
        if let Some(s) = slice {
            t.scx.slice = s;
        }
        self.k.move_task_between_dsqs(p, enq_flags, src_dsq, dst);
        true
    }

    // ------------------------------------------------------------------
    // Kicking, exits, dumps.

    /// `scx_bpf_kick_cpu()`.
    #[doc(alias = "scx_bpf_kick_cpu")]
    pub fn kick_cpu(&mut self, cpu: i32, flags: u64) {
        self.charge();
        let this = self.cpu;
        self.k.kick_cpu(this, i64::from(cpu), flags, false);
    }

    /// `scx_bpf_exit()`: exit kind `SCX_EXIT_UNREG_BPF` with `code`.
    #[doc(alias = "scx_bpf_exit_bstr")]
    pub fn exit(&mut self, code: i64, msg: &str) {
        self.charge();
        self.k
            .scx_ops_exit_kind(crate::ext::exit::SCX_EXIT_UNREG_BPF, code, msg.to_string());
    }

    /// `scx_bpf_error()`: exit kind `SCX_EXIT_ERROR_BPF`.
    #[doc(alias = "scx_bpf_error_bstr")]
    pub fn error(&mut self, msg: &str) {
        self.charge();
        self.k.scx.error_context.push("scx_bpf_error_bstr");
        self.k
            .scx_ops_exit_kind(crate::ext::exit::SCX_EXIT_ERROR_BPF, 0, msg.to_string());
        self.k.scx.error_context.pop();
    }

    /// `scx_ops_error()`: a runtime error the kernel detects on the
    /// scheduler's behalf (`SCX_EXIT_ERROR`), e.g. a BPF program fault.
    pub fn ops_error(&mut self, msg: &str) {
        self.k.scx_ops_error(msg.to_string());
    }

    /// Charges `n` interpreted BPF instructions of the running callback
    /// (`cost.bpf_insn` each).
    pub fn charge_bpf_insns(&mut self, n: u64) {
        let c = n.saturating_mul(self.k.cfg.cost.bpf_insn);
        self.k.charge(c);
    }

    /// The idle CPU and SMT masks as they are now, without the kfunc's
    /// charge or checks: for a BPF program re-reading a mask it already
    /// holds a reference to. Counts as reading other CPUs' state.
    pub fn idle_masks_now(&mut self) -> (Cpumask, Cpumask) {
        self.remote_read();
        let smt = if self.k.topo.smt_active() {
            self.k.scx.idle_smt
        } else {
            self.k.scx.idle_cpu
        };
        (self.k.scx.idle_cpu, smt)
    }

    /// `scx_bpf_dump()`: append to the debug dump (only inside `ops.dump`,
    /// `ops.dump_cpu` and `ops.dump_task`).
    #[doc(alias = "scx_bpf_dump_bstr")]
    pub fn dump(&mut self, s: &str) {
        self.charge();
        let ok = self.k.scx.dump.as_ref().map(|d| d.cpu) == Some(self.cpu)
            && self.k.rqs[self.cpu].scx.in_dump;
        if !ok {
            self.k.scx_ops_error(
                "scx_bpf_dump() must only be called from ops.dump() and friends".into(),
            );
            return;
        }
        if let Some(d) = self.k.scx.dump.as_mut() {
            d.append(s);
        }
    }

    // ------------------------------------------------------------------
    // CPU performance and masks.

    /// `scx_bpf_cpuperf_cap()`.
    #[doc(alias = "scx_bpf_cpuperf_cap")]
    pub fn cpuperf_cap(&mut self, cpu: i32) -> u32 {
        self.charge();
        self.k.ops_cpu_valid(i64::from(cpu), None);
        SCX_CPUPERF_ONE
    }

    /// `scx_bpf_cpuperf_cur()`.
    #[doc(alias = "scx_bpf_cpuperf_cur")]
    pub fn cpuperf_cur(&mut self, cpu: i32) -> u32 {
        self.charge();
        self.remote_read();
        self.k.ops_cpu_valid(i64::from(cpu), None);
        SCX_CPUPERF_ONE
    }

    /// `scx_bpf_cpuperf_set()`.
    #[doc(alias = "scx_bpf_cpuperf_set")]
    pub fn cpuperf_set(&mut self, cpu: i32, perf: u32) {
        self.charge();
        if perf > SCX_CPUPERF_ONE {
            self.k
                .scx_ops_error(format!("Invalid cpuperf target {perf} for CPU {cpu}"));
            return;
        }
        if self.k.ops_cpu_valid(i64::from(cpu), None) {
            if cpu as usize != self.cpu {
                self.k.rqs[self.cpu].counters.remote_writes += 1;
            }
            self.k.rqs[cpu as usize].scx.cpuperf_target = perf;
        }
    }

    /// `scx_bpf_nr_cpu_ids()`.
    #[doc(alias = "scx_bpf_nr_cpu_ids")]
    pub fn nr_cpu_ids(&self) -> u32 {
        self.k.nr_cpus() as u32
    }

    /// `scx_bpf_get_possible_cpumask()`.
    #[doc(alias = "scx_bpf_get_possible_cpumask")]
    pub fn get_possible_cpumask(&self) -> Cpumask {
        self.k.topo.all_cpus()
    }

    /// `scx_bpf_get_online_cpumask()`.
    #[doc(alias = "scx_bpf_get_online_cpumask")]
    pub fn get_online_cpumask(&self) -> Cpumask {
        self.k.online_mask()
    }

    /// `scx_bpf_get_idle_cpumask()`.
    #[doc(alias = "scx_bpf_get_idle_cpumask")]
    pub fn get_idle_cpumask(&mut self) -> Cpumask {
        self.charge();
        self.remote_read();
        if !self.k.scx.builtin_idle {
            self.k
                .scx_ops_error("built-in idle tracking is disabled".into());
            return Cpumask::new();
        }
        self.k.scx.idle_cpu
    }

    /// `scx_bpf_get_idle_smtmask()`.
    #[doc(alias = "scx_bpf_get_idle_smtmask")]
    pub fn get_idle_smtmask(&mut self) -> Cpumask {
        self.charge();
        self.remote_read();
        if !self.k.scx.builtin_idle {
            self.k
                .scx_ops_error("built-in idle tracking is disabled".into());
            return Cpumask::new();
        }
        if self.k.topo.smt_active() {
            self.k.scx.idle_smt
        } else {
            self.k.scx.idle_cpu
        }
    }

    /// `scx_bpf_test_and_clear_cpu_idle()`.
    #[doc(alias = "scx_bpf_test_and_clear_cpu_idle")]
    pub fn test_and_clear_cpu_idle(&mut self, cpu: i32) -> bool {
        self.charge();
        self.remote_read();
        if !self.k.scx.builtin_idle {
            self.k
                .scx_ops_error("built-in idle tracking is disabled".into());
            return false;
        }
        self.k.ops_cpu_valid(i64::from(cpu), None) && self.k.test_and_clear_cpu_idle(cpu as usize)
    }

    /// `scx_bpf_pick_idle_cpu()`: a CPU or `-EBUSY`.
    #[doc(alias = "scx_bpf_pick_idle_cpu")]
    pub fn pick_idle_cpu(&mut self, allowed: &Cpumask, flags: u64) -> i32 {
        self.charge();
        self.remote_read();
        if !self.k.scx.builtin_idle {
            self.k
                .scx_ops_error("built-in idle tracking is disabled".into());
            return -EBUSY;
        }
        self.k
            .scx_pick_idle_cpu(allowed, flags)
            .map_or(-EBUSY, |c| c as i32)
    }

    /// `scx_bpf_pick_any_cpu()`: an idle CPU if any, else any allowed CPU.
    #[doc(alias = "scx_bpf_pick_any_cpu")]
    pub fn pick_any_cpu(&mut self, allowed: &Cpumask, flags: u64) -> i32 {
        self.charge();
        self.remote_read();
        if self.k.scx.builtin_idle {
            if let Some(c) = self.k.scx_pick_idle_cpu(allowed, flags) {
                return c as i32;
            }
        }
        let all = self.k.topo.all_cpus();
        match self.k.any_and_distribute(allowed, &all) {
            Some(c) => c as i32,
            None => -EBUSY,
        }
    }

    /// `scx_bpf_select_cpu_dfl()`: `(cpu, is_idle)`.
    #[doc(alias = "scx_bpf_select_cpu_dfl")]
    pub fn select_cpu_dfl(&mut self, p: Task, prev_cpu: i32, wake_flags: u64) -> (i32, bool) {
        self.charge();
        self.remote_read();
        if !self.k.ops_cpu_valid(i64::from(prev_cpu), None) {
            return (prev_cpu, false);
        }
        if !self.k.scx.builtin_idle {
            self.k
                .scx_ops_error("built-in idle tracking is disabled".into());
            return (prev_cpu, false);
        }
        if !self.kf_allowed(SCX_KF_SELECT_CPU) {
            return (prev_cpu, false);
        }
        let (cpu, found) = self
            .k
            .scx_select_cpu_dfl(p.0, prev_cpu as usize, wake_flags);
        (cpu as i32, found)
    }

    /// `scx_bpf_task_running()`.
    #[doc(alias = "scx_bpf_task_running")]
    pub fn task_running(&mut self, p: Task) -> bool {
        self.remote_read();
        let t = self.k.task(p.0);
        self.k.rqs[t.cpu].curr == p.0
    }

    /// `scx_bpf_task_cpu()`.
    #[doc(alias = "scx_bpf_task_cpu")]
    pub fn task_cpu(&self, p: Task) -> i32 {
        self.k.task(p.0).cpu as i32
    }

    /// `scx_bpf_cpu_rq()`.
    #[doc(alias = "scx_bpf_cpu_rq")]
    pub fn cpu_rq(&mut self, cpu: i32) -> Option<RqView<'_>> {
        if !self.k.ops_cpu_valid(i64::from(cpu), None) {
            return None;
        }
        self.remote_read();
        Some(RqView {
            rq: &self.k.rqs[cpu as usize],
            k: self.k,
        })
    }

    /// `scx_bpf_task_cgroup()`: the task's cgroup (root on misuse).
    #[doc(alias = "scx_bpf_task_cgroup")]
    pub fn task_cgroup(&mut self, p: Task) -> super::Cgroup {
        self.charge();
        if !self.kf_allowed_on_arg_tasks(0x1f, p) {
            return super::Cgroup(0);
        }
        super::Cgroup(self.k.task(p.0).cgroup as u32)
    }

    // ------------------------------------------------------------------
    // Cgroups.

    /// `cgrp->kn->id`: the cgroup's id (the root's is 1).
    pub fn cgroup_id(&self, cg: super::Cgroup) -> u64 {
        u64::from(cg.0) + 1
    }

    /// `bpf_cgroup_from_id()`.
    #[doc(alias = "bpf_cgroup_from_id")]
    pub fn cgroup_from_id(&self, id: u64) -> Option<super::Cgroup> {
        let i = id.checked_sub(1)?;
        ((i as usize) < self.k.cgroups.len()).then_some(super::Cgroup(i as u32))
    }

    /// `cgrp->level`: depth below the root (root = 0).
    pub fn cgroup_level(&self, cg: super::Cgroup) -> u32 {
        let mut level = 0;
        let mut c = cg.0 as usize;
        while let Some(p) = self.k.cgroups.get(c).and_then(|n| n.parent) {
            level += 1;
            c = p;
        }
        level
    }

    /// `bpf_cgroup_ancestor(cgrp, level)`: the ancestor at `level` (the
    /// cgroup itself at its own level), `None` if `level` is deeper.
    #[doc(alias = "bpf_cgroup_ancestor")]
    pub fn cgroup_ancestor(&self, cg: super::Cgroup, level: u32) -> Option<super::Cgroup> {
        let mut own = self.cgroup_level(cg);
        if level > own {
            return None;
        }
        let mut c = cg.0 as usize;
        while own > level {
            c = self.k.cgroups[c].parent?;
            own -= 1;
        }
        Some(super::Cgroup(c as u32))
    }

    /// The cgroup's `cpu.weight`.
    pub fn cgroup_weight(&self, cg: super::Cgroup) -> u32 {
        self.k.cgroups.get(cg.0 as usize).map_or(100, |n| n.weight)
    }

    /// The cgroup's path (`/` for the root).
    pub fn cgroup_path(&self, cg: super::Cgroup) -> &str {
        self.k
            .cgroups
            .get(cg.0 as usize)
            .map_or("/", |n| n.path.as_str())
    }

    // ------------------------------------------------------------------
    // Tasks and helpers.

    /// Reads a task's fields.
    pub fn task(&self, p: Task) -> TaskRef<'_> {
        TaskRef {
            t: self.k.task(p.0),
            k: self.k,
        }
    }

    /// Writes `p->scx.slice` (a field BPF may write).
    pub fn set_slice(&mut self, p: Task, slice: u64) {
        self.k.task_mut(p.0).scx.slice = slice;
    }

    /// Writes `p->scx.dsq_vtime` (a field BPF may write).
    pub fn set_dsq_vtime(&mut self, p: Task, vtime: u64) {
        self.k.task_mut(p.0).scx.dsq_vtime = vtime;
    }

    /// Writes `p->scx.disallow` (a field BPF may write).
    pub fn set_disallow(&mut self, p: Task, disallow: bool) {
        self.k.task_mut(p.0).scx.disallow = disallow;
    }

    /// `bpf_task_from_pid()`: the live task with `pid`.
    #[doc(alias = "bpf_task_from_pid")]
    pub fn task_from_pid(&self, pid: i32) -> Option<Task> {
        let tid = self.k.task_by_pid(u32::try_from(pid).ok()?)?;
        Some(Task(tid))
    }

    /// `bpf_ktime_get_ns()`.
    #[doc(alias = "bpf_ktime_get_ns")]
    pub fn ktime_get_ns(&mut self) -> u64 {
        self.k.rqs[self.cpu].counters.time_reads += 1;
        self.k.now
    }

    /// `bpf_get_smp_processor_id()`.
    #[doc(alias = "bpf_get_smp_processor_id")]
    pub fn smp_processor_id(&self) -> i32 {
        self.cpu as i32
    }

    /// `jiffies`.
    pub fn jiffies(&mut self) -> u64 {
        self.k.rqs[self.cpu].counters.time_reads += 1;
        self.k.jiffies()
    }

    /// `bpf_printk()`: a line on the trace pipe.
    #[doc(alias = "bpf_printk")]
    pub fn printk(&mut self, s: &str) {
        let now = self.k.now;
        let cpu = self.cpu;
        self.k.trace_pipe.push((now, cpu, s.to_string()));
    }

    /// `bpf_timer_start()`: arms the scheduler's timer `id` to fire in
    /// `nsecs` ns ([`super::Scheduler::timer_fired`]); `pin` keeps it on
    /// this CPU (`BPF_F_TIMER_CPU_PIN`). Re-arming an armed timer moves it.
    #[doc(alias = "bpf_timer_start")]
    pub fn timer_start(&mut self, id: u64, nsecs: u64, pin: bool) -> i32 {
        self.charge();
        let cpu = self.cpu;
        self.k.sched_timer_start(id, nsecs, cpu, pin);
        0
    }

    /// `bpf_timer_cancel()`: 1 if it was armed, else 0.
    #[doc(alias = "bpf_timer_cancel")]
    pub fn timer_cancel(&mut self, id: u64) -> i32 {
        self.charge();
        i32::from(self.k.sched_timer_cancel(id))
    }
}

impl TaskRef<'_> {
    /// `p->pid`.
    pub fn pid(&self) -> i32 {
        self.t.pid as i32
    }
    /// `p->tgid`.
    pub fn tgid(&self) -> i32 {
        self.t.tgid as i32
    }
    /// `p->comm`.
    pub fn comm(&self) -> &str {
        &self.t.comm
    }
    /// `p->flags` (`PF_*`).
    pub fn flags(&self) -> u32 {
        self.t.flags
    }
    /// `p->flags & PF_KTHREAD`.
    pub fn is_kthread(&self) -> bool {
        self.t.is_kthread()
    }
    /// `p->scx.weight`.
    pub fn weight(&self) -> u32 {
        self.t.scx.weight
    }
    /// `p->scx.slice`.
    pub fn slice(&self) -> u64 {
        self.t.scx.slice
    }
    /// `p->scx.dsq_vtime`.
    pub fn dsq_vtime(&self) -> u64 {
        self.t.scx.dsq_vtime
    }
    /// `p->scx.disallow`.
    pub fn disallow(&self) -> bool {
        self.t.scx.disallow
    }
    /// `p->scx.flags`.
    pub fn scx_flags(&self) -> u32 {
        self.t.scx.flags
    }
    /// `p->cpus_ptr`.
    pub fn cpus_ptr(&self) -> &Cpumask {
        &self.t.cpus
    }
    /// `p->nr_cpus_allowed`.
    pub fn nr_cpus_allowed(&self) -> u32 {
        self.t.nr_cpus_allowed().min(self.k.nr_cpus()) as u32
    }
    /// `is_migration_disabled(p)`.
    pub fn migration_disabled(&self) -> bool {
        self.t.is_migration_disabled()
    }
    /// `p->policy`.
    pub fn policy(&self) -> u32 {
        self.t.policy.number()
    }
    /// True for `SCHED_EXT` policy.
    pub fn policy_is_ext(&self) -> bool {
        self.t.policy == Policy::Ext
    }
    /// `p->static_prio`.
    pub fn static_prio(&self) -> i32 {
        120 + self.t.nice
    }
    /// `p->se.sum_exec_runtime`.
    pub fn sum_exec_runtime(&self) -> u64 {
        self.t.sum_exec_runtime
    }
    /// `p->prio`.
    pub fn prio(&self) -> i32 {
        self.t.prio
    }
    /// `p->normal_prio` (equal to `prio`: no priority inheritance).
    pub fn normal_prio(&self) -> i32 {
        self.t.prio
    }
    /// `p->rt_priority` (0 for non-RT policies).
    pub fn rt_priority(&self) -> u32 {
        match self.t.policy {
            Policy::Fifo(p) | Policy::Rr(p) => p,
            _ => 0,
        }
    }
    /// `p->__state`: `TASK_RUNNING` (0), `TASK_INTERRUPTIBLE` (1) or
    /// `TASK_DEAD` (0x80).
    pub fn state(&self) -> u32 {
        match self.t.state {
            crate::task::TaskState::Running => 0,
            crate::task::TaskState::Sleeping => 1,
            crate::task::TaskState::Dead => 0x80,
        }
    }
    /// `p->start_time` (ns since boot).
    pub fn start_time(&self) -> u64 {
        self.t.start_time
    }
    /// `p->se.vruntime`.
    pub fn vruntime(&self) -> u64 {
        self.t.se.vruntime
    }
    /// `p->scx.sticky_cpu`.
    pub fn sticky_cpu(&self) -> i32 {
        self.t.scx.sticky_cpu
    }
    /// `p->scx.holding_cpu`.
    pub fn holding_cpu(&self) -> i32 {
        self.t.scx.holding_cpu
    }
    /// `p->scx.ops_state` (state and qseq).
    pub fn ops_state(&self) -> u64 {
        self.t.scx.ops_state
    }
    /// `p->scx.dsq_seq`.
    pub fn dsq_seq(&self) -> u32 {
        self.t.scx.dsq_seq
    }
    /// `p->scx.dsq_flags`.
    pub fn dsq_flags(&self) -> u32 {
        self.t.scx.dsq_flags
    }
    /// `p->scx.ddsp_dsq_id`.
    pub fn ddsp_dsq_id(&self) -> u64 {
        self.t.scx.ddsp_dsq_id
    }
    /// `p->scx.ddsp_enq_flags`.
    pub fn ddsp_enq_flags(&self) -> u64 {
        self.t.scx.ddsp_enq_flags
    }
    /// `p->scx.runnable_at` (jiffies).
    pub fn runnable_at(&self) -> u64 {
        self.t.scx.runnable_at
    }
    /// `p->real_parent` (also `p->parent`), if any.
    pub fn parent(&self) -> Option<Task> {
        self.t.parent.map(Task)
    }
    /// `p->scx.dsq->id`: the id of the DSQ the task is queued on, if any.
    pub fn dsq_id(&self) -> Option<u64> {
        self.t.scx.dsq.map(|d| self.k.scx.dsqs.get(d).trace_id())
    }
    /// `task_cpu(p)`.
    pub fn cpu(&self) -> i32 {
        self.t.cpu as i32
    }
}

impl RqView<'_> {
    /// `rq->curr`.
    pub fn curr(&self) -> Task {
        Task(self.rq.curr)
    }
    /// `rq->nr_running`.
    pub fn nr_running(&self) -> u32 {
        self.rq.nr_running
    }
    /// `rq->scx.nr_running`.
    pub fn scx_nr_running(&self) -> u32 {
        self.rq.scx.nr_running
    }
    /// `rq->scx.flags`.
    pub fn scx_flags(&self) -> u32 {
        self.rq.scx.flags
    }
    /// `rq->scx.cpuperf_target`.
    pub fn cpuperf_target(&self) -> u32 {
        self.rq.scx.cpuperf_target
    }
    /// `rq->nr_switches`.
    pub fn nr_switches(&self) -> u64 {
        self.rq.counters.context_switches
    }
    /// `rq->scx.cpu_released`.
    pub fn cpu_released(&self) -> bool {
        self.rq.scx.cpu_released
    }
    /// `rq->scx.local_dsq.nr`.
    pub fn local_dsq_nr(&self) -> u32 {
        self.k.scx.dsqs.get(self.rq.scx.local_dsq).nr
    }
    /// `rq->scx.pnt_seq`.
    pub fn pnt_seq(&self) -> u64 {
        self.rq.scx.pnt_seq
    }
}

impl Kernel {
    /// Allocates an iterator cursor; it is freed when the op returns if the
    /// scheduler did not destroy it.
    pub(crate) fn alloc_iter_cursor(&mut self, cpu: usize) -> (NodeId, u32) {
        let id = self.scx.dsqs.links.alloc_cursor();
        let idx = (id & !crate::list::CURSOR_BIT) as usize;
        if self.scx.iter_gen.len() <= idx {
            self.scx.iter_gen.resize(idx + 1, 0);
        }
        self.scx.iter_live.push((cpu, id));
        (id, self.scx.iter_gen[idx])
    }

    pub(crate) fn iter_cursor_live(&self, id: NodeId, gen: u32) -> bool {
        let idx = (id & !crate::list::CURSOR_BIT) as usize;
        self.scx.iter_gen.get(idx) == Some(&gen) && self.scx.iter_live.iter().any(|(_, c)| *c == id)
    }

    pub(crate) fn free_iter_cursor(&mut self, d: u32, id: NodeId) {
        if self.scx.dsqs.links.is_linked(id) {
            let dsqs = &mut self.scx.dsqs;
            let list = &mut dsqs.arena[d as usize].list;
            dsqs.links.remove(list, id);
        }
        self.scx.dsqs.links.free_cursor(id);
        let idx = (id & !crate::list::CURSOR_BIT) as usize;
        self.scx.iter_gen[idx] += 1;
        self.scx.iter_live.retain(|(_, c)| *c != id);
    }

    /// Frees the iterators an op left behind on `cpu`.
    pub(crate) fn release_op_iters(&mut self, cpu: usize) {
        if self.scx.iter_live.is_empty() {
            return;
        }
        let mine: Vec<NodeId> = self
            .scx
            .iter_live
            .iter()
            .filter(|(c, _)| *c == cpu)
            .map(|(_, id)| *id)
            .collect();
        for id in mine {
            let owner = self
                .scx
                .dsqs
                .arena
                .iter()
                .position(|d| {
                    let mut n = self.scx.dsqs.links.first(&d.list);
                    while let Some(x) = n {
                        if x == id {
                            return true;
                        }
                        n = self.scx.dsqs.links.next(x);
                    }
                    false
                })
                .map(|i| i as u32);
            match owner {
                Some(d) => self.free_iter_cursor(d, id),
                None => {
                    self.scx.dsqs.links.free_cursor(id);
                    let idx = (id & !crate::list::CURSOR_BIT) as usize;
                    self.scx.iter_gen[idx] += 1;
                    self.scx.iter_live.retain(|(_, c)| *c != id);
                }
            }
        }
    }

    /// `bpf_iter_scx_dsq_next()` on DSQ `d` with cursor node `cursor`.
    pub(crate) fn dsq_iter_step(
        &mut self,
        d: u32,
        cursor: NodeId,
        seq: u32,
        rev: bool,
    ) -> Option<Tid> {
        let links = &self.scx.dsqs.links;
        let list = &self.scx.dsqs.arena[d as usize].list;
        let mut n = if links.is_linked(cursor) {
            if rev {
                links.prev(cursor)
            } else {
                links.next(cursor)
            }
        } else if rev {
            links.last(list)
        } else {
            links.first(list)
        };
        let found = loop {
            let Some(x) = n else { break None };
            let is_task = !crate::list::is_cursor(x);
            if is_task {
                let dsq_seq = self.tasks[x as usize].scx.dsq_seq;
                if (seq.wrapping_sub(dsq_seq) as i32) >= 0 {
                    break Some(x);
                }
            }
            n = if rev { links.prev(x) } else { links.next(x) };
        };
        let dsqs = &mut self.scx.dsqs;
        let list = &mut dsqs.arena[d as usize].list;
        if dsqs.links.is_linked(cursor) {
            dsqs.links.remove(list, cursor);
        }
        if let Some(p) = found {
            if rev {
                dsqs.links.insert_before(list, p, cursor);
            } else {
                dsqs.links.insert_after(list, p, cursor);
            }
        }
        found
    }

    /// Arms scheduler timer `id`.
    pub(crate) fn sched_timer_start(&mut self, id: u64, nsecs: u64, cpu: usize, pin: bool) {
        self.sched_timer_cancel(id);
        let t = self.hrtimer_start(
            crate::timer::TimerKind::SchedTimer(id),
            self.now + nsecs,
            cpu,
            !pin,
        );
        self.scx.sched_timers.insert(id, t);
    }

    /// Cancels scheduler timer `id`.
    pub(crate) fn sched_timer_cancel(&mut self, id: u64) -> bool {
        match self.scx.sched_timers.remove(&id) {
            Some(t) => self.hrtimer_cancel(t),
            None => false,
        }
    }

    /// A scheduler timer fired on `cpu`: run its callback in softirq
    /// context (kfunc mask 0).
    pub(crate) fn sched_timer_fired(&mut self, cpu: usize, id: u64) {
        self.scx.sched_timers.remove(&id);
        if !self.scx.enabled && self.scx.enable_state != crate::ext::EnableState::Enabling {
            return;
        }
        let saved = self.cur_cpu;
        self.cur_cpu = cpu;
        self.charge(self.cfg.cost.op_call);
        let mut s = self.take_sched();
        let r = {
            let mut cx = Cx::new(self, cpu);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.timer_fired(&mut cx, id)))
        };
        self.put_sched(s);
        self.release_op_iters(cpu);
        if let Err(payload) = r {
            let msg = crate::ext::call::panic_message(&payload);
            self.scx_ops_error(format!("BPF timer callback panicked: {msg}"));
        }
        self.cur_cpu = saved;
    }
}

impl DsqKind {
    /// True for local DSQs.
    pub fn is_local(self) -> bool {
        matches!(self, DsqKind::Local(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_helpers() {
        assert_eq!(highest_bit(0x0c), 0x08);
        assert_eq!(higher_bits(SCX_KF_DISPATCH), !0x3);
        assert_eq!(higher_bits(SCX_KF_CPU_RELEASE), !0x1);
    }
}
