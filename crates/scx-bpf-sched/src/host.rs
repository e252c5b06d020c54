//! The simulated kernel as a BPF program sees it: [`KernelHost`] implements
//! scx-bpf's [`Host`] over the kernel's kfunc surface [`Cx`].
//!
//! Every sched_ext kfunc a program calls becomes the [`Cx`] method of the
//! same name, so the kernel's context checks, error exits and messages are
//! the ones a Rust scheduler gets. The `scx_bpf_*_bstr` kfuncs format their
//! message with the kernel's `bstr_format()` rules ([`Vm::bstr_format`]);
//! a formatting failure is an error exit with the kernel's message.
//!
//! A KernelHost lives for one callback invocation. Task ids handed to the
//! program are validated against the tasks the scheduler has been shown
//! ([`TaskBound`]): a forged task pointer reads zeros, as the kernel's
//! probe-mem loads do, and is never passed on to the kernel model.

use crate::fields;
use crate::iters::{self, CssIters, DsqIters};
use scx_bpf::host::{DsqIterRef, GlobalMask, KernelField, KernelPtr, MaskRef, PtrField, TaskField};
use scx_bpf::{CgroupId, Fault, Host, KRet, KernelObj, KfuncCall, TaskId, TimerId, Vm};
use scx_kernel::ops::{Cgroup, Cx, Task};
use scx_machine::Cpumask;

/// `BPF_F_TIMER_ABS`.
const BPF_F_TIMER_ABS: u64 = 1 << 0;
/// `BPF_F_TIMER_CPU_PIN`.
const BPF_F_TIMER_CPU_PIN: u64 = 1 << 1;

/// The highest task id the program may legitimately hold: every task the
/// kernel ever passed to the scheduler or returned from a kfunc. Task ids
/// are arena indices that are never reused, so every id up to the bound is
/// a real (possibly dead) task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskBound(Option<u32>);

impl TaskBound {
    /// Records that the program was given `t`.
    pub fn saw(&mut self, t: Task) {
        self.0 = Some(self.0.map_or(t.0, |m| m.max(t.0)));
    }

    /// Is `t` a task the program can hold?
    pub fn valid(self, t: TaskId) -> bool {
        self.0.is_some_and(|m| t.0 <= m)
    }
}

/// One invocation's view of the kernel.
pub struct KernelHost<'a, 'k> {
    /// The kfunc surface of the callback in progress.
    pub cx: &'a mut Cx<'k>,
    tasks: &'a mut TaskBound,
    dsq_iters: DsqIters,
    css_iters: CssIters,
}

impl<'a, 'k> KernelHost<'a, 'k> {
    /// A host for one invocation of a callback running with `cx`.
    pub fn new(cx: &'a mut Cx<'k>, tasks: &'a mut TaskBound) -> KernelHost<'a, 'k> {
        KernelHost {
            cx,
            tasks,
            dsq_iters: DsqIters::default(),
            css_iters: CssIters::default(),
        }
    }

    /// Records a task handed to the program.
    pub fn saw(&mut self, t: Task) {
        self.tasks.saw(t);
    }

    fn task(&self, t: TaskId, func: &str) -> Result<Task, Fault> {
        if self.tasks.valid(t) {
            Ok(Task(t.0))
        } else {
            Err(Fault::BadArg {
                func: func.into(),
                what: format!("task pointer to unknown task {}", t.0),
            })
        }
    }

    fn cgroup(&self, id: CgroupId) -> Option<Cgroup> {
        self.cx.cgroup_from_id(id.0)
    }

    fn task_obj(&mut self, t: Option<Task>) -> KRet {
        match t {
            Some(t) => {
                self.saw(t);
                KRet::Obj(KernelObj::Task(TaskId(t.0)))
            }
            None => KRet::Obj(KernelObj::Null),
        }
    }

    fn cgroup_obj(&self, c: Option<Cgroup>) -> KRet {
        KRet::Obj(c.map_or(KernelObj::Null, |c| {
            KernelObj::Cgroup(CgroupId(self.cx.cgroup_id(c)))
        }))
    }

    /// `scx_bpf_*_bstr`: the formatted message, or `None` after raising
    /// the kernel's formatting error.
    fn bstr(&mut self, vm: &mut Vm, fmt: u64, data: u64, data_sz: u32) -> Option<String> {
        match vm.bstr_format(self, fmt, data, data_sz) {
            Ok(s) => Some(s),
            Err(e) => {
                runtime_error(self.cx, &e.message);
                None
            }
        }
    }

    /// The sched_ext idle mask (`smt`: the idle SMT-core mask): the
    /// pointer the program holds is the kernel's live mask, so every read
    /// sees its current bits (without a kfunc's charge).
    fn idle_mask(&mut self, smt: bool) -> Cpumask {
        let (cpu, smt_mask) = self.cx.idle_masks_now();
        if smt {
            smt_mask
        } else {
            cpu
        }
    }

    fn dispatch_from_dsq(
        &mut self,
        iter: DsqIterRef,
        task: TaskId,
        dsq_id: u64,
        enq_flags: u64,
        vtime_order: bool,
    ) -> Result<KRet, Fault> {
        let p = self.task(task, "scx_bpf_dispatch_from_dsq")?;
        let Some(it) = self.dsq_iters.get_mut(iter.handle) else {
            return Ok(KRet::Bool(false));
        };
        if let Some(s) = iter.slice {
            self.cx.dispatch_from_dsq_set_slice(it, s);
        }
        if let Some(v) = iter.vtime {
            self.cx.dispatch_from_dsq_set_vtime(it, v);
        }
        Ok(KRet::Bool(if vtime_order {
            self.cx.dispatch_vtime_from_dsq(it, p, dsq_id, enq_flags)
        } else {
            self.cx.dispatch_from_dsq(it, p, dsq_id, enq_flags)
        }))
    }

    fn dsq_iter_new(&mut self, dsq_id: u64, flags: u64) -> KRet {
        let (it, ret) = self.cx.dsq_iter_new(dsq_id, flags);
        if ret != 0 {
            self.cx.dsq_iter_destroy(it);
            return KRet::Int(i64::from(ret));
        }
        KRet::Iter(self.dsq_iters.insert(it))
    }

    fn dsq_iter_next(&mut self, handle: u64) -> KRet {
        let next = match self.dsq_iters.get_mut(handle) {
            Some(it) => self.cx.dsq_iter_next(it),
            None => None,
        };
        self.task_obj(next)
    }

    fn css_iter_new(&mut self, start: CgroupId, flags: u32) -> KRet {
        let Some(cg) = self.cgroup(start) else {
            return KRet::Int(-22);
        };
        match iters::css_iter_new(self.cx, cg, flags) {
            Ok(it) => KRet::Iter(self.css_iters.insert(it)),
            Err(e) => KRet::Int(e),
        }
    }

    fn css_iter_next(&mut self, handle: u64) -> KRet {
        let next = self
            .css_iters
            .get_mut(handle)
            .and_then(|it| it.next_cgroup());
        self.cgroup_obj(next)
    }

    /// Kfuncs that dispatch or move tasks.
    fn dispatch_kfunc(&mut self, call: KfuncCall) -> Result<KRet, Fault> {
        Ok(match call {
            KfuncCall::Dispatch {
                task,
                dsq_id,
                slice,
                enq_flags,
            } => {
                let p = self.task(task, "scx_bpf_dispatch")?;
                self.cx.dispatch(p, dsq_id, slice, enq_flags);
                KRet::Void
            }
            KfuncCall::DispatchVtime {
                task,
                dsq_id,
                slice,
                vtime,
                enq_flags,
            } => {
                let p = self.task(task, "scx_bpf_dispatch_vtime")?;
                self.cx.dispatch_vtime(p, dsq_id, slice, vtime, enq_flags);
                KRet::Void
            }
            KfuncCall::DispatchNrSlots => KRet::Int(i64::from(self.cx.dispatch_nr_slots())),
            KfuncCall::DispatchCancel => {
                self.cx.dispatch_cancel();
                KRet::Void
            }
            KfuncCall::Consume { dsq_id } => KRet::Bool(self.cx.consume(dsq_id)),
            KfuncCall::DispatchFromDsq {
                iter,
                task,
                dsq_id,
                enq_flags,
                vtime_order,
            } => self.dispatch_from_dsq(iter, task, dsq_id, enq_flags, vtime_order)?,
            KfuncCall::ReenqueueLocal => KRet::Int(i64::from(self.cx.reenqueue_local())),
            call => return self.dsq_kfunc(call),
        })
    }

    /// DSQ management and iteration.
    fn dsq_kfunc(&mut self, call: KfuncCall) -> Result<KRet, Fault> {
        Ok(match call {
            KfuncCall::CreateDsq { dsq_id, node } => {
                KRet::Int(i64::from(self.cx.create_dsq(dsq_id, node)))
            }
            KfuncCall::DestroyDsq { dsq_id } => {
                self.cx.destroy_dsq(dsq_id);
                KRet::Void
            }
            KfuncCall::DsqNrQueued { dsq_id } => {
                KRet::Int(i64::from(self.cx.dsq_nr_queued(dsq_id)))
            }
            KfuncCall::DsqIterNew { dsq_id, flags } => self.dsq_iter_new(dsq_id, flags),
            KfuncCall::DsqIterNext { handle } => self.dsq_iter_next(handle),
            KfuncCall::DsqIterDestroy { handle } => {
                if let Some(it) = self.dsq_iters.remove(handle) {
                    self.cx.dsq_iter_destroy(it);
                }
                KRet::Void
            }
            call => return self.cpu_kfunc(call),
        })
    }

    /// CPU selection, idle tracking, kicks and performance.
    fn cpu_kfunc(&mut self, call: KfuncCall) -> Result<KRet, Fault> {
        Ok(match call {
            KfuncCall::SelectCpuDfl {
                task,
                prev_cpu,
                wake_flags,
            } => {
                let p = self.task(task, "scx_bpf_select_cpu_dfl")?;
                let (cpu, is_idle) = self.cx.select_cpu_dfl(p, prev_cpu, wake_flags);
                KRet::SelectCpu { cpu, is_idle }
            }
            KfuncCall::KickCpu { cpu, flags } => {
                self.cx.kick_cpu(cpu, flags);
                KRet::Void
            }
            KfuncCall::TestAndClearCpuIdle { cpu } => {
                KRet::Bool(self.cx.test_and_clear_cpu_idle(cpu))
            }
            KfuncCall::PickIdleCpu {
                cpus_allowed,
                flags,
            } => KRet::Int(i64::from(
                self.cx.pick_idle_cpu(&mask_of(&cpus_allowed), flags),
            )),
            KfuncCall::PickAnyCpu {
                cpus_allowed,
                flags,
            } => KRet::Int(i64::from(
                self.cx.pick_any_cpu(&mask_of(&cpus_allowed), flags),
            )),
            KfuncCall::CpuperfCap { cpu } => KRet::Int(i64::from(self.cx.cpuperf_cap(cpu))),
            KfuncCall::CpuperfCur { cpu } => KRet::Int(i64::from(self.cx.cpuperf_cur(cpu))),
            KfuncCall::CpuperfSet { cpu, perf } => {
                self.cx.cpuperf_set(cpu, perf);
                KRet::Void
            }
            KfuncCall::NrCpuIds => KRet::Int(i64::from(self.cx.nr_cpu_ids())),
            KfuncCall::GetCpumask(m) => self.get_cpumask(m),
            call => return self.task_kfunc(call),
        })
    }

    /// `scx_bpf_get_*_cpumask()`: the idle ones check that built-in idle
    /// tracking is on (an error otherwise) and take the mask now.
    fn get_cpumask(&mut self, m: GlobalMask) -> KRet {
        match m {
            GlobalMask::Idle => {
                self.cx.get_idle_cpumask();
            }
            GlobalMask::IdleSmt => {
                self.cx.get_idle_smtmask();
            }
            GlobalMask::Possible | GlobalMask::Online => {}
        }
        KRet::Obj(KernelObj::Mask(m))
    }

    /// Tasks, cgroups and their iterators.
    fn task_kfunc(&mut self, call: KfuncCall) -> Result<KRet, Fault> {
        Ok(match call {
            KfuncCall::TaskRunning { task } => KRet::Bool(
                self.cx
                    .task_running(self.task(task, "scx_bpf_task_running")?),
            ),
            KfuncCall::TaskCpu { task } => KRet::Int(i64::from(
                self.cx.task_cpu(self.task(task, "scx_bpf_task_cpu")?),
            )),
            KfuncCall::CpuRq { cpu } => match self.cx.cpu_rq(cpu) {
                Some(_) => KRet::Obj(KernelObj::Rq(cpu as u32)),
                None => KRet::Obj(KernelObj::Null),
            },
            KfuncCall::TaskCgroup { task } => {
                let p = self.task(task, "scx_bpf_task_cgroup")?;
                let cg = self.cx.task_cgroup(p);
                self.cgroup_obj(Some(cg))
            }
            KfuncCall::TaskFromPid { pid } => {
                let t = self.cx.task_from_pid(pid);
                self.task_obj(t)
            }
            KfuncCall::CgroupAncestor { cgroup, level } => {
                let anc = self.cgroup(cgroup).and_then(|cg| {
                    u32::try_from(level)
                        .ok()
                        .and_then(|l| self.cx.cgroup_ancestor(cg, l))
                });
                self.cgroup_obj(anc)
            }
            KfuncCall::CgroupFromId { id } => self.cgroup_obj(self.cx.cgroup_from_id(id)),
            KfuncCall::CssIterNew { start, flags } => self.css_iter_new(start, flags),
            KfuncCall::CssIterNext { handle } => self.css_iter_next(handle),
            KfuncCall::CssIterDestroy { handle } => {
                self.css_iters.remove(handle);
                KRet::Void
            }
            call => {
                return Err(Fault::Host(format!(
                    "kfunc not handled by the kernel: {call:?}"
                )))
            }
        })
    }

    /// Exits and the debug dump.
    fn exit_kfunc(&mut self, vm: &mut Vm, call: KfuncCall) -> Result<KRet, Fault> {
        match call {
            KfuncCall::ExitBstr {
                exit_code,
                fmt,
                data,
                data_sz,
            } => {
                if let Some(msg) = self.bstr(vm, fmt, data, data_sz) {
                    self.cx.exit(exit_code, &msg);
                }
            }
            KfuncCall::ErrorBstr { fmt, data, data_sz } => {
                if let Some(msg) = self.bstr(vm, fmt, data, data_sz) {
                    self.cx.error(&msg);
                }
            }
            KfuncCall::DumpBstr { fmt, data, data_sz } => {
                if let Some(msg) = self.bstr(vm, fmt, data, data_sz) {
                    self.cx.dump(&msg);
                }
            }
            call => return self.dispatch_kfunc(call),
        }
        Ok(KRet::Void)
    }
}

/// Pointer fields held by a task (the owner id is a task id).
fn task_owned(f: PtrField) -> bool {
    matches!(
        f,
        PtrField::RealParent | PtrField::Parent | PtrField::GroupLeader | PtrField::ScxDsq
    )
}

/// Pointer fields whose target is a task.
fn points_to_task(f: PtrField) -> bool {
    matches!(
        f,
        PtrField::RealParent
            | PtrField::Parent
            | PtrField::GroupLeader
            | PtrField::RqCurr
            | PtrField::RqIdle
    )
}

/// A cpumask from bitmap words.
fn mask_of(words: &[u64]) -> Cpumask {
    let bits = words.iter().enumerate().flat_map(|(i, w)| {
        (0..64)
            .filter(move |b| w >> b & 1 != 0)
            .map(move |b| i * 64 + b)
    });
    Cpumask::from_cpus(bits.filter(|&c| c < scx_machine::cpumask::MAX_CPUS))
}

/// Word `word` of `m`.
fn mask_word(m: &Cpumask, word: u32) -> u64 {
    let base = word as usize * 64;
    let mut w = 0u64;
    let mut next = m.next_from(base);
    while let Some(c) = next.filter(|&c| c < base + 64) {
        w |= 1 << (c - base);
        next = m.next_from(c + 1);
    }
    w
}

/// Raises the kernel's runtime error (`scx_ops_error()`,
/// `SCX_EXIT_ERROR`), for failures the kernel detects itself.
pub fn runtime_error(cx: &mut Cx, msg: &str) {
    cx.ops_error(msg);
}

impl Host for KernelHost<'_, '_> {
    fn kfunc(&mut self, vm: &mut Vm, call: KfuncCall) -> Result<KRet, Fault> {
        self.exit_kfunc(vm, call)
    }

    fn read_field(&mut self, field: KernelField) -> u64 {
        match field {
            KernelField::Task(t, f) if self.tasks.valid(t) => {
                fields::task_field(self.cx, Task(t.0), f)
            }
            KernelField::Task(..) => 0,
            KernelField::Cgroup(c, f) => match self.cgroup(c) {
                Some(cg) => fields::cgroup_field(self.cx, cg, f),
                None => 0,
            },
            KernelField::Rq(cpu, f) => fields::rq_field(self.cx, cpu, f),
            KernelField::Dsq(id, f) => fields::dsq_field(self.cx, id, f),
        }
    }

    fn read_ptr(&mut self, ptr: KernelPtr) -> Option<u64> {
        if task_owned(ptr.field) && !self.tasks.valid(TaskId(ptr.owner as u32)) {
            return None;
        }
        let target = fields::ptr_field(self.cx, ptr)?;
        if points_to_task(ptr.field) {
            self.saw(Task(target as u32));
        }
        Some(target)
    }

    fn cpumask_word(&mut self, mask: MaskRef, word: u32) -> u64 {
        match mask {
            MaskRef::Task(t) if self.tasks.valid(t) => {
                mask_word(self.cx.task(Task(t.0)).cpus_ptr(), word)
            }
            MaskRef::Task(_) => 0,
            MaskRef::Global(GlobalMask::Possible) => {
                mask_word(&self.cx.get_possible_cpumask(), word)
            }
            MaskRef::Global(GlobalMask::Online) => mask_word(&self.cx.get_online_cpumask(), word),
            MaskRef::Global(GlobalMask::Idle) => mask_word(&self.idle_mask(false), word),
            MaskRef::Global(GlobalMask::IdleSmt) => mask_word(&self.idle_mask(true), word),
        }
    }

    fn task_comm(&mut self, task: TaskId) -> [u8; 16] {
        let mut out = [0u8; 16];
        if self.tasks.valid(task) {
            let t = self.cx.task(Task(task.0));
            let b = t.comm().as_bytes();
            let n = b.len().min(15);
            out[..n].copy_from_slice(&b[..n]);
        }
        out
    }

    fn write_task(&mut self, task: TaskId, field: TaskField, value: u64) {
        if !self.tasks.valid(task) {
            return;
        }
        let p = Task(task.0);
        match field {
            TaskField::ScxSlice => self.cx.set_slice(p, value),
            TaskField::ScxDsqVtime => self.cx.set_dsq_vtime(p, value),
            TaskField::ScxDisallow => self.cx.set_disallow(p, value != 0),
            _ => {}
        }
    }

    fn ktime_ns(&mut self) -> u64 {
        self.cx.ktime_get_ns()
    }

    fn current_cpu(&mut self) -> u32 {
        self.cx.smp_processor_id() as u32
    }

    fn timer_start(&mut self, timer: TimerId, nsecs: u64, flags: u64, _cpu: u32) -> i64 {
        let delay = if flags & BPF_F_TIMER_ABS != 0 {
            nsecs.saturating_sub(self.cx.ktime_get_ns())
        } else {
            nsecs
        };
        let pin = flags & BPF_F_TIMER_CPU_PIN != 0;
        i64::from(self.cx.timer_start(timer.0 as u64, delay, pin))
    }

    fn timer_cancel(&mut self, timer: TimerId) -> i64 {
        i64::from(self.cx.timer_cancel(timer.0 as u64))
    }

    fn trace(&mut self, line: &str) {
        self.cx.printk(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_bound_grows_with_what_the_program_was_shown() {
        let mut b = TaskBound::default();
        assert!(!b.valid(TaskId(0)), "nothing shown yet");
        b.saw(Task(7));
        b.saw(Task(3));
        assert!(b.valid(TaskId(0)) && b.valid(TaskId(7)));
        assert!(!b.valid(TaskId(8)));
    }

    #[test]
    fn cpumask_words_roundtrip() {
        let words = [0x8000_0000_0000_0005, 0x2];
        let m = mask_of(&words);
        assert_eq!(m.iter().collect::<Vec<_>>(), [0, 2, 63, 65]);
        assert_eq!(mask_word(&m, 0), words[0]);
        assert_eq!(mask_word(&m, 1), words[1]);
        assert_eq!(mask_word(&m, 2), 0);
    }
}
