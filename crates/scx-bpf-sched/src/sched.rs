//! A loaded BPF object as a sched_ext scheduler: [`BpfScheduler`]
//! implements the kernel model's [`Scheduler`] (`struct sched_ext_ops`) by
//! running the object's struct_ops programs in the scx-bpf VM.
//!
//! Like the kernel's struct_ops trampoline: the table's non-callback fields
//! become [`OpsInfo`], a callback absent from the table is absent here too
//! (so the kernel applies its default), each callback's arguments are laid
//! out as the C prototype's `u64` context array, and its return value is
//! read at the prototype's width. Unlike the kernel, the program is not
//! verified: whatever the verifier would have rejected shows up at run
//! time as a [`Fault`] (an out-of-bounds access, a runaway loop, a leaked
//! reference), which ends the scheduler with an scx error exit naming the
//! callback, the section and the instruction; the kernel then applies the
//! callback's fallback, as after any scheduler error.

use crate::host::{runtime_error, KernelHost, TaskBound};
use scx_bpf::host::TaskId;
use scx_bpf::mem::kernel_addr;
use scx_bpf::vmlinux::Window;
use scx_bpf::{Arg, CgroupId, Fault, LoadError, LoadErrorKind, OpHandle, TimerId, Vm};
use scx_kernel::ops::*;
use scx_machine::Cpumask;

/// A BPF scheduler object running in the VM.
pub struct BpfScheduler {
    vm: Vm,
    info: OpsInfo,
    /// The program of each implemented op, indexed by `Op as usize`.
    entries: [Option<OpHandle>; Op::ALL.len()],
    tasks: TaskBound,
    /// Offset of `cpus_mask` in our `task_struct` (`ops.set_cpumask`'s
    /// argument points there).
    cpus_mask_off: u32,
}

/// The [`Op`] whose `struct sched_ext_ops` member is `name`.
pub fn op_by_name(name: &str) -> Option<Op> {
    Op::ALL.iter().copied().find(|o| o.name() == name)
}

/// The struct_ops table of `vm` as [`OpsInfo`].
fn ops_info(vm: &Vm) -> Result<OpsInfo, LoadError> {
    let bad = |s: String| LoadError::new(vm.name(), LoadErrorKind::BadStructOps(s));
    let so = vm
        .struct_ops()
        .ok_or_else(|| bad("no sched_ext_ops table (section .struct_ops.link)".into()))?;
    let mut info = OpsInfo::new(&so.name, &[]);
    for member in so.callbacks.keys() {
        let op = op_by_name(member)
            .ok_or_else(|| bad(format!("{}: unknown sched_ext_ops member {member}", so.var)))?;
        info.implemented.insert(op);
    }
    info.flags = so.flags;
    info.timeout_ms = so.timeout_ms;
    info.exit_dump_len = so.exit_dump_len;
    info.dispatch_max_batch = so.dispatch_max_batch;
    info.hotplug_seq = so.hotplug_seq;
    Ok(info)
}

fn task(p: Task) -> Arg {
    Arg::Task(TaskId(p.0))
}

fn opt_task(p: Option<Task>) -> Arg {
    Arg::OptTask(p.map(|t| TaskId(t.0)))
}

fn int(v: i64) -> Arg {
    Arg::Int(v as u64)
}

fn cgroup(cx: &Cx, c: Cgroup) -> Arg {
    Arg::Cgroup(CgroupId(cx.cgroup_id(c)))
}

fn dump_ctx(d: &DumpCtx) -> Arg {
    Arg::DumpCtx {
        kind: d.kind,
        exit_code: d.exit_code,
        reason: d.reason.clone(),
        at_ns: d.at_ns,
        at_jiffies: d.at_jiffies,
    }
}

/// An `s32` return value.
fn ret_s32(r: u64) -> i32 {
    r as u32 as i32
}

/// A `bool` return value (the low byte, as the C ABI returns it).
fn ret_bool(r: u64) -> bool {
    r as u8 != 0
}

/// The program counter a fault happened at, if it has one.
fn fault_pc(f: &Fault) -> Option<usize> {
    match f {
        Fault::OutOfBounds { pc, .. }
        | Fault::ReadOnly { pc, .. }
        | Fault::KernelWrite { pc, .. }
        | Fault::IllegalInsn { pc, .. }
        | Fault::BadJump { pc }
        | Fault::StackOverflow { pc }
        | Fault::CoRePoisoned { pc, .. } => Some(*pc),
        _ => None,
    }
}

/// The error exit message of a fault in `what` (`ops.enqueue()`, ...):
/// the callback, the section and instruction, and what went wrong.
pub fn fault_message(vm: &Vm, what: &str, f: &Fault) -> String {
    let text = f.to_string();
    let pc = fault_pc(f);
    let detail = pc
        .and_then(|pc| text.strip_prefix(&format!("pc {pc}: ")))
        .unwrap_or(&text);
    let place = pc
        .and_then(|pc| vm.locate_pc(pc))
        .map(|(sec, insn)| format!("section {sec}: insn {insn}: "))
        .unwrap_or_default();
    format!("BPF program fault in {what}: {place}{detail}")
}

impl BpfScheduler {
    /// Wraps a loaded VM; fails if the object has no usable
    /// `sched_ext_ops` table.
    pub fn new(vm: Vm) -> Result<BpfScheduler, LoadError> {
        let info = ops_info(&vm)?;
        let cpus_mask_off = vm
            .kernel_types()
            .offset_of("task_struct", "cpus_mask")
            .unwrap_or(0);
        let mut entries = [None; Op::ALL.len()];
        for op in Op::ALL {
            entries[op as usize] = vm.op_handle(op.name());
        }
        Ok(BpfScheduler {
            vm,
            info,
            entries,
            tasks: TaskBound::default(),
            cpus_mask_off,
        })
    }

    /// The VM (maps and globals, as a loader's skeleton sees them).
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// Mutable access to the VM (map operations, ring-buffer draining).
    pub fn vm_mut(&mut self) -> &mut Vm {
        &mut self.vm
    }

    /// Sets `ops.hotplug_seq`, as `SCX_OPS_OPEN()` does from sysfs.
    pub fn set_hotplug_seq(&mut self, seq: u64) {
        self.info.hotplug_seq = seq;
    }

    /// Runs callback `op`; on a fault, raises the error exit and returns
    /// `None` (the caller then returns the kernel's fallback).
    fn call(&mut self, cx: &mut Cx, op: Op, args: &[Arg]) -> Option<u64> {
        for a in args {
            match a {
                Arg::Task(t) | Arg::OptTask(Some(t)) => self.tasks.saw(Task(t.0)),
                Arg::CpuReleaseArgs { task: Some(t), .. } => self.tasks.saw(Task(t.0)),
                _ => {}
            }
        }
        let before = self.vm.insns_executed;
        let r = match self.entries[op as usize] {
            Some(h) => {
                let mut host = KernelHost::new(cx, &mut self.tasks);
                self.vm.call_op_handle(&mut host, h, args)
            }
            None => Err(Fault::NoSuchProgram(op.name().to_string())),
        };
        cx.charge_bpf_insns(self.vm.insns_executed - before);
        match r {
            Ok(v) => Some(v),
            Err(f) => {
                let what = format!("ops.{}()", op.name());
                runtime_error(cx, &fault_message(&self.vm, &what, &f));
                None
            }
        }
    }

    fn call_void(&mut self, cx: &mut Cx, op: Op, args: &[Arg]) {
        self.call(cx, op, args);
    }

    fn call_s32(&mut self, cx: &mut Cx, op: Op, args: &[Arg], fallback: i32) -> i32 {
        self.call(cx, op, args).map_or(fallback, ret_s32)
    }

    fn call_bool(&mut self, cx: &mut Cx, op: Op, args: &[Arg], fallback: bool) -> bool {
        self.call(cx, op, args).map_or(fallback, ret_bool)
    }
}

impl Scheduler for BpfScheduler {
    fn info(&self) -> OpsInfo {
        self.info.clone()
    }

    fn select_cpu(&mut self, cx: &mut Cx, p: Task, prev_cpu: i32, wake_flags: u64) -> i32 {
        let args = [task(p), int(prev_cpu.into()), Arg::Int(wake_flags)];
        self.call_s32(cx, Op::SelectCpu, &args, prev_cpu)
    }
    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        self.call_void(cx, Op::Enqueue, &[task(p), Arg::Int(enq_flags)]);
    }
    fn dequeue(&mut self, cx: &mut Cx, p: Task, deq_flags: u64) {
        self.call_void(cx, Op::Dequeue, &[task(p), Arg::Int(deq_flags)]);
    }
    fn dispatch(&mut self, cx: &mut Cx, cpu: i32, prev: Option<Task>) {
        self.call_void(cx, Op::Dispatch, &[int(cpu.into()), opt_task(prev)]);
    }
    fn tick(&mut self, cx: &mut Cx, p: Task) {
        self.call_void(cx, Op::Tick, &[task(p)]);
    }
    fn runnable(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        self.call_void(cx, Op::Runnable, &[task(p), Arg::Int(enq_flags)]);
    }
    fn running(&mut self, cx: &mut Cx, p: Task) {
        self.call_void(cx, Op::Running, &[task(p)]);
    }
    fn stopping(&mut self, cx: &mut Cx, p: Task, runnable: bool) {
        self.call_void(cx, Op::Stopping, &[task(p), Arg::Int(runnable.into())]);
    }
    fn quiescent(&mut self, cx: &mut Cx, p: Task, deq_flags: u64) {
        self.call_void(cx, Op::Quiescent, &[task(p), Arg::Int(deq_flags)]);
    }
    fn yield_(&mut self, cx: &mut Cx, from: Task, to: Option<Task>) -> bool {
        self.call_bool(cx, Op::Yield, &[task(from), opt_task(to)], false)
    }
    fn core_sched_before(&mut self, cx: &mut Cx, a: Task, b: Task) -> bool {
        self.call_bool(cx, Op::CoreSchedBefore, &[task(a), task(b)], false)
    }
    fn set_weight(&mut self, cx: &mut Cx, p: Task, weight: u32) {
        self.call_void(cx, Op::SetWeight, &[task(p), Arg::Int(weight.into())]);
    }
    fn set_cpumask(&mut self, cx: &mut Cx, p: Task, _cpumask: &Cpumask) {
        // The kernel passes `p->cpus_ptr`, which points at `p->cpus_mask`.
        let mask = kernel_addr(Window::Task, u64::from(p.0), self.cpus_mask_off);
        self.call_void(cx, Op::SetCpumask, &[task(p), Arg::Int(mask)]);
    }
    fn update_idle(&mut self, cx: &mut Cx, cpu: i32, idle: bool) {
        self.call_void(
            cx,
            Op::UpdateIdle,
            &[int(cpu.into()), Arg::Int(idle.into())],
        );
    }
    fn cpu_acquire(&mut self, cx: &mut Cx, cpu: i32) {
        // 6.12 passes NULL for the (empty) argument struct.
        self.call_void(cx, Op::CpuAcquire, &[int(cpu.into()), Arg::Int(0)]);
    }
    fn cpu_release(&mut self, cx: &mut Cx, cpu: i32, args: &CpuReleaseArgs) {
        let a = Arg::CpuReleaseArgs {
            reason: args.reason,
            task: Some(TaskId(args.task.0)),
        };
        self.call_void(cx, Op::CpuRelease, &[int(cpu.into()), a]);
    }
    fn init_task(&mut self, cx: &mut Cx, p: Task, args: &InitTaskArgs) -> i32 {
        let a = Arg::InitTaskArgs {
            fork: args.fork,
            cgroup: Some(CgroupId(cx.cgroup_id(args.cgroup))),
        };
        self.call_s32(cx, Op::InitTask, &[task(p), a], 0)
    }
    fn exit_task(&mut self, cx: &mut Cx, p: Task, args: &ExitTaskArgs) {
        let a = Arg::ExitTaskArgs {
            cancelled: args.cancelled,
        };
        self.call_void(cx, Op::ExitTask, &[task(p), a]);
        // A task that is gone takes its task-local storage with it.
        let pid = cx.task(p).pid();
        if cx.task_from_pid(pid) != Some(p) {
            self.vm.task_freed(TaskId(p.0));
        }
    }
    fn enable(&mut self, cx: &mut Cx, p: Task) {
        self.call_void(cx, Op::Enable, &[task(p)]);
    }
    fn disable(&mut self, cx: &mut Cx, p: Task) {
        self.call_void(cx, Op::Disable, &[task(p)]);
    }
    fn dump(&mut self, cx: &mut Cx, dctx: &DumpCtx) {
        self.call_void(cx, Op::Dump, &[dump_ctx(dctx)]);
    }
    fn dump_cpu(&mut self, cx: &mut Cx, dctx: &DumpCtx, cpu: i32, idle: bool) {
        let args = [dump_ctx(dctx), int(cpu.into()), Arg::Int(idle.into())];
        self.call_void(cx, Op::DumpCpu, &args);
    }
    fn dump_task(&mut self, cx: &mut Cx, dctx: &DumpCtx, p: Task) {
        self.call_void(cx, Op::DumpTask, &[dump_ctx(dctx), task(p)]);
    }
    fn cgroup_init(&mut self, cx: &mut Cx, cgrp: Cgroup, args: &CgroupInitArgs) -> i32 {
        let a = Arg::CgroupInitArgs {
            weight: args.weight,
        };
        let cg = cgroup(cx, cgrp);
        self.call_s32(cx, Op::CgroupInit, &[cg, a], 0)
    }
    fn cgroup_exit(&mut self, cx: &mut Cx, cgrp: Cgroup) {
        let cg = cgroup(cx, cgrp);
        self.call_void(cx, Op::CgroupExit, &[cg]);
    }
    fn cgroup_prep_move(&mut self, cx: &mut Cx, p: Task, from: Cgroup, to: Cgroup) -> i32 {
        let args = [task(p), cgroup(cx, from), cgroup(cx, to)];
        self.call_s32(cx, Op::CgroupPrepMove, &args, 0)
    }
    fn cgroup_move(&mut self, cx: &mut Cx, p: Task, from: Cgroup, to: Cgroup) {
        let args = [task(p), cgroup(cx, from), cgroup(cx, to)];
        self.call_void(cx, Op::CgroupMove, &args);
    }
    fn cgroup_cancel_move(&mut self, cx: &mut Cx, p: Task, from: Cgroup, to: Cgroup) {
        let args = [task(p), cgroup(cx, from), cgroup(cx, to)];
        self.call_void(cx, Op::CgroupCancelMove, &args);
    }
    fn cgroup_set_weight(&mut self, cx: &mut Cx, cgrp: Cgroup, weight: u32) {
        let args = [cgroup(cx, cgrp), Arg::Int(weight.into())];
        self.call_void(cx, Op::CgroupSetWeight, &args);
    }
    fn cpu_online(&mut self, cx: &mut Cx, cpu: i32) {
        self.call_void(cx, Op::CpuOnline, &[int(cpu.into())]);
    }
    fn cpu_offline(&mut self, cx: &mut Cx, cpu: i32) {
        self.call_void(cx, Op::CpuOffline, &[int(cpu.into())]);
    }
    fn init(&mut self, cx: &mut Cx) -> i32 {
        self.call_s32(cx, Op::Init, &[], 0)
    }
    fn exit(&mut self, cx: &mut Cx, info: &ExitInfo) {
        let a = Arg::ExitInfo {
            kind: info.kind,
            exit_code: info.exit_code,
            reason: info.reason.clone(),
            msg: info.msg.clone(),
            dump: info.dump.clone(),
        };
        self.call_void(cx, Op::Exit, &[a]);
    }

    fn timer_fired(&mut self, cx: &mut Cx, timer: u64) {
        let before = self.vm.insns_executed;
        let r = {
            let mut host = KernelHost::new(cx, &mut self.tasks);
            self.vm.fire_timer(&mut host, TimerId(timer as usize))
        };
        cx.charge_bpf_insns(self.vm.insns_executed - before);
        if let Err(f) = r {
            runtime_error(cx, &fault_message(&self.vm, "a BPF timer callback", &f));
        }
    }

    fn state_digest(&self) -> Option<u64> {
        Some(self.vm.state_generation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_name_resolves() {
        for op in Op::ALL {
            assert_eq!(op_by_name(op.name()), Some(op));
        }
        assert_eq!(op_by_name("sched_tick"), None);
    }

    #[test]
    fn return_values_are_read_at_the_prototype_width() {
        assert_eq!(ret_s32(0xdead_beef_ffff_fffe), -2);
        assert!(ret_bool(0x101));
        assert!(!ret_bool(0x100));
    }

    #[test]
    fn faults_name_the_place() {
        let vm = Vm::from_code(Vec::new(), &Default::default()).unwrap();
        let f = Fault::Runaway { budget: 10 };
        assert_eq!(
            fault_message(&vm, "ops.dispatch()", &f),
            "BPF program fault in ops.dispatch(): runaway program: instruction budget 10 exhausted"
        );
    }
}
