//! Attaching and detaching a scheduler (ext.c:4537-4848, 5267-5610) and
//! bypass mode.
//!
//! Both directions run as kthread work on RT helper kthreads
//! (`scx_ops_enable_helper`, `sched_ext_ops_helper`), as in the kernel: the
//! work runs when the helper gets a CPU, so a machine whose CPUs are all
//! trapped never gets to disable its scheduler.

use crate::consts::*;
use crate::ext::entity::ScxTaskState;
use crate::ext::exit::*;
use crate::ext::EnableState;
use crate::kernel::Kernel;
use crate::ops::{ExitInfo, OpSet, OpsInfo, Scheduler};
use crate::task::{Class, TaskKind, Tid};
use scx_observe::{Event, Op};
use scx_workload::Policy;
use std::collections::VecDeque;

/// Work for the helper kthreads.
pub enum HelperWork {
    /// `scx_ops_enable_workfn` with the scheduler being attached.
    Enable(Box<dyn Scheduler>),
    /// `scx_ops_disable_workfn`.
    Disable,
}

impl std::fmt::Debug for HelperWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelperWork::Enable(_) => write!(f, "Enable"),
            HelperWork::Disable => write!(f, "Disable"),
        }
    }
}

/// Why a scheduler could not be loaded (the struct_ops checks of
/// `bpf_scx_init_member()`), before anything ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// Negative errno.
    pub errno: i32,
    /// What was wrong.
    pub what: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.what, self.errno)
    }
}

/// `bpf_scx_init_member()`'s validation of the struct_ops fields.
pub fn validate_ops_info(info: &OpsInfo, hz: u32) -> Result<(), LoadError> {
    let err = |errno: i32, what: String| {
        Err(LoadError {
            errno: -errno,
            what,
        })
    };
    if info.dispatch_max_batch > i32::MAX as u32 {
        return err(
            E2BIG,
            format!(
                "dispatch_max_batch {} exceeds INT_MAX",
                info.dispatch_max_batch
            ),
        );
    }
    if info.flags & !SCX_OPS_ALL_FLAGS != 0 {
        return err(
            EINVAL,
            format!("unknown ops flags {:#x}", info.flags & !SCX_OPS_ALL_FLAGS),
        );
    }
    let name_ok = !info.name.is_empty()
        && info.name.len() < SCX_OPS_NAME_LEN
        && info
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !name_ok {
        return err(EINVAL, format!("invalid ops name {:?}", info.name));
    }
    let j = (u64::from(info.timeout_ms) * u64::from(hz)).div_ceil(1000);
    if j > SCX_WATCHDOG_MAX_TIMEOUT_SECS * u64::from(hz) {
        return err(
            E2BIG,
            format!("timeout_ms {} exceeds 30 s", info.timeout_ms),
        );
    }
    Ok(())
}

impl Kernel {
    /// Attaches `sched` as the BPF scheduler would be attached by its
    /// loader (`scx_ops_enable()`). The enable work runs asynchronously on
    /// the enable helper kthread; [`Kernel::attach_result`] tells when it
    /// finished and what the attach syscall returned.
    pub fn attach(&mut self, sched: Box<dyn Scheduler>) -> Result<(), LoadError> {
        validate_ops_info(&sched.info(), self.cfg.hz.get())?;
        self.scx.attach_result = None;
        let helper = match self.scx.enable_helper {
            Some(h) => h,
            None => {
                let h = self.create_rt_helper("scx_ops_enable_helper");
                self.scx.enable_helper = Some(h);
                h
            }
        };
        self.scx
            .helper_queue
            .entry(helper)
            .or_default()
            .push_back(HelperWork::Enable(sched));
        self.try_to_wake_up(helper, 0);
        Ok(())
    }

    /// `Some(ret)` once the attach completed (0 even if the scheduler was
    /// then disabled by an error, as the kernel returns it).
    pub fn attach_result(&self) -> Option<i32> {
        self.scx.attach_result
    }

    /// Detaches the scheduler as its loader does on exit
    /// (`bpf_link__destroy` → `scx_ops_disable(SCX_EXIT_UNREG)`).
    pub fn detach(&mut self) {
        self.scx_ops_disable(SCX_EXIT_UNREG);
    }

    /// SysRq-S: `scx_ops_disable(SCX_EXIT_SYSRQ)`, or the "not yet used"
    /// message if no scheduler was ever enabled.
    pub fn sysrq_s(&mut self) {
        if self.scx.helper.is_some() {
            self.scx_ops_disable(SCX_EXIT_SYSRQ);
        } else {
            self.printk("sched_ext: BPF scheduler not yet used".into());
        }
    }

    /// `scx_create_rt_helper()`: a SCHED_FIFO kthread.
    fn create_rt_helper(&mut self, name: &str) -> Tid {
        let saved = self.cur_cpu;
        let t = self
            .fork_task(None, name, TaskKind::ScxHelper, |k, p| {
                k.task_mut(p).policy = Policy::Fifo(50);
            })
            .expect("helper kthreads are never refused");
        self.cur_cpu = saved;
        t
    }

    /// `schedule_scx_ops_disable_work()`.
    pub(crate) fn schedule_disable_work(&mut self) {
        let Some(helper) = self.scx.helper else {
            return;
        };
        let q = self.scx.helper_queue.entry(helper).or_default();
        if !q.iter().any(|w| matches!(w, HelperWork::Disable)) {
            q.push_back(HelperWork::Disable);
        }
        self.try_to_wake_up(helper, 0);
    }

    /// A helper kthread's program step.
    pub(crate) fn scx_helper_next(&mut self, cpu: usize, me: Tid) {
        let has_work = self
            .scx
            .helper_queue
            .get(&me)
            .is_some_and(|q| !q.is_empty());
        if has_work {
            // The work takes every runqueue lock in turn (bypass, task
            // walks).
            let mut done = self.scx.helper_locks_done;
            let busy = self.next_busy_rq(&mut done);
            self.scx.helper_locks_done = done;
            if let Some(h) = busy {
                self.lock_wait(h, crate::lock::LockedOp::HelperWork);
                return;
            }
        }
        let work = self
            .scx
            .helper_queue
            .get_mut(&me)
            .and_then(VecDeque::pop_front);
        let before = self.rqs[cpu].acc;
        match work {
            Some(HelperWork::Enable(s)) => self.scx_ops_enable_workfn(s),
            Some(HelperWork::Disable) => self.scx_ops_disable_workfn(),
            None => {
                self.block_in_kernel(me);
                return;
            }
        }
        // The work's cost is charged as the helper's run time.
        let cost = self.rqs[cpu].acc - before;
        self.rqs[cpu].acc = before;
        let t = self.task_mut(me);
        t.exec.work_left = cost.max(1);
        t.exec.resume = crate::irq::Resume::Work;
    }

    fn set_enable_state(&mut self, s: EnableState) -> EnableState {
        let prev = self.scx.enable_state;
        self.scx.enable_state = s;
        self.emit_with(|| Event::ScxState { state: s.name() });
        prev
    }

    /// `scx_ops_enable_workfn()` (ext.c:5267-5578).
    fn scx_ops_enable_workfn(&mut self, sched: Box<dyn Scheduler>) {
        if self.scx.helper.is_none() {
            let h = self.create_rt_helper("sched_ext_ops_helper");
            self.scx.helper = Some(h);
        }
        let nodes = self.topo.nr_nodes();
        self.scx.dsqs.add_globals(nodes);
        if self.scx.enable_state != EnableState::Disabled {
            self.scx.attach_result = Some(-EBUSY);
            return;
        }
        let info = sched.info();
        let _old = self.swap_sched(sched);
        self.scx.ops = info.clone();
        self.set_enable_state(EnableState::Enabling);
        self.scx.exit_kind = SCX_EXIT_NONE;
        self.scx.exit_info = Some(ExitInfo::default());
        self.scx.warned_zero_slice = false;
        self.scx.nr_rejected = 0;
        for rq in &mut self.rqs {
            rq.scx.cpuperf_target = SCX_CPUPERF_ONE;
        }
        let imp = info.implemented;
        self.scx.builtin_idle =
            !imp.has(Op::UpdateIdle) || info.flags & SCX_OPS_KEEP_BUILTIN_IDLE != 0;
        if self.scx.builtin_idle {
            self.reset_idle_masks();
        }
        match self.enable_steps(&info) {
            Ok(()) => {}
            Err(ret) => return self.enable_err_disable(ret),
        }
        self.scx.attach_result = Some(0);
    }

    /// Steps 6-18 of the enable work; `Err(ret)` goes to `err_disable`.
    fn enable_steps(&mut self, info: &OpsInfo) -> Result<(), i32> {
        let imp = info.implemented;
        if imp.has(Op::Init) {
            let ret = self.scx_call(Op::Init, SCX_KF_UNLOCKED, [None, None], 0, 0, |s, cx| {
                s.init(cx)
            });
            if ret != 0 {
                let ret = self.ops_sanitize_err("init", ret);
                self.scx_ops_error(format!("ops.init() failed ({ret})"));
                return Err(ret);
            }
        }
        for op in [Op::CpuOnline, Op::CpuOffline] {
            if imp.has(op) {
                self.scx.has_op.insert(op);
            }
        }
        if info.hotplug_seq != 0 && info.hotplug_seq != self.scx.hotplug_seq {
            let (want, have) = (info.hotplug_seq, self.scx.hotplug_seq);
            self.scx_ops_exit(
                SCX_ECODE_ACT_RESTART | SCX_ECODE_RSN_HOTPLUG,
                format!("expected hotplug seq {want} did not match actual {have}"),
            );
        }
        if info.flags & SCX_OPS_ENQ_LAST != 0 && !imp.has(Op::Enqueue) {
            self.scx_ops_error("SCX_OPS_ENQ_LAST requires ops.enqueue() to be implemented".into());
            return Err(-EINVAL);
        }
        self.scx.dsp_max_batch = match info.dispatch_max_batch {
            0 => self.cfg.dsp_max_batch,
            n => n,
        };
        let hz = self.cfg.hz;
        self.scx.watchdog_timeout = match info.timeout_ms {
            0 => SCX_WATCHDOG_MAX_TIMEOUT_SECS * u64::from(hz.get()),
            ms => hz.msecs_to_jiffies(u64::from(ms)),
        };
        self.scx.watchdog_timestamp = self.jiffies();
        self.queue_watchdog(self.scx.watchdog_timeout / 2);
        self.scx_ops_bypass(true);
        for op in Op::ALL {
            if op < Op::CpuOnline && imp.has(op) {
                self.scx.has_op.insert(op);
            }
        }
        self.scx.enq_last = info.flags & SCX_OPS_ENQ_LAST != 0;
        self.scx.enq_exiting = info.flags & SCX_OPS_ENQ_EXITING != 0;
        self.scx.cpu_preempt = imp.has(Op::CpuAcquire) || imp.has(Op::CpuRelease);
        self.scx.init_task_enabled = true;
        self.scx_cgroup_init()?;
        for p in self.scx_tasks() {
            let ret = self.scx_ops_init_task(p, false);
            if ret != 0 {
                let (comm, pid) = (self.task(p).comm.clone(), self.task(p).pid);
                self.scx_ops_error(format!("ops.init_task() failed ({ret}) for {comm}[{pid}]"));
                self.scx_ops_bypass(false);
                return Err(ret);
            }
            self.task_mut(p).scx.set_task_state(ScxTaskState::Ready);
        }
        self.scx.switching_all = info.flags & SCX_OPS_SWITCH_PARTIAL == 0;
        self.scx.enabled = true;
        for p in self.scx_tasks() {
            self.switch_task_class(p, true);
        }
        self.scx_ops_bypass(false);
        if self.scx.enable_state != EnableState::Enabling {
            return Err(-EBUSY);
        }
        if self.scx.exit_kind != SCX_EXIT_NONE {
            return Err(-EBUSY);
        }
        self.set_enable_state(EnableState::Enabled);
        if self.scx.switching_all {
            self.scx.switched_all = true;
        }
        let suffix = if self.scx.switched_all {
            ""
        } else {
            " (partial)"
        };
        self.printk(format!(
            "sched_ext: BPF scheduler \"{}\" enabled{}",
            info.name, suffix
        ));
        self.scx.enable_seq += 1;
        Ok(())
    }

    /// `err_disable:` of the enable work: the attach still returns 0; the
    /// exit (and its dump) is produced and the scheduler torn down before
    /// the attach completes, as `kthread_flush_work()` makes the kernel do.
    fn enable_err_disable(&mut self, ret: i32) {
        self.scx_ops_error(format!("scx_ops_enable() failed ({ret})"));
        let cpu = self.cur_cpu;
        self.scx_ops_error_irq_workfn(cpu);
        if let Some(h) = self.scx.helper {
            if let Some(q) = self.scx.helper_queue.get_mut(&h) {
                q.retain(|w| !matches!(w, HelperWork::Disable));
            }
        }
        self.scx_ops_disable_workfn();
        self.scx.attach_result = Some(0);
    }

    /// Moves `p` to the class its policy maps to now, with the
    /// `sched_deq_and_put_task()` / `sched_enq_and_set_task()` dance (flags
    /// `0x0e`), as the enable and disable task walks do.
    fn switch_task_class(&mut self, p: Tid, enabling: bool) {
        let old = self.task(p).class;
        let new = self.class_for_policy(p);
        let flags_d = DEQUEUE_SAVE | DEQUEUE_MOVE | DEQUEUE_NOCLOCK;
        let flags_e = ENQUEUE_RESTORE | ENQUEUE_MOVE | ENQUEUE_NOCLOCK;
        let cpu = self.task(p).cpu;
        let queued = self.task(p).on_rq;
        let running = self.rqs[cpu].curr == p;
        let slice = self.cfg.slice_dfl;
        self.task_change(p, flags_d, flags_e, |k| {
            if enabling {
                k.task_mut(p).scx.slice = slice;
            }
            k.task_mut(p).class = new;
            if old != new {
                k.emit_with(|| Event::TaskClass { tid: p, class: new });
                if new == Class::Ext {
                    k.switching_to_scx(p);
                }
            }
        });
        if old != new {
            if old == Class::Ext {
                self.switched_from_scx(p);
            }
            if queued && !running {
                self.wakeup_preempt(cpu, p, 0);
            } else if queued && running && new != Class::Ext {
                self.resched_curr(cpu);
            }
        }
    }

    /// `scx_ops_bypass()` (ext.c:4537-4642).
    pub(crate) fn scx_ops_bypass(&mut self, bypass: bool) {
        if bypass {
            self.scx.bypass_depth += 1;
            if self.scx.bypass_depth != 1 {
                return;
            }
        } else {
            assert!(self.scx.bypass_depth > 0, "bypass depth underflow");
            self.scx.bypass_depth -= 1;
            if self.scx.bypass_depth != 0 {
                return;
            }
        }
        let this = self.cur_cpu;
        for cpu in 0..self.nr_cpus() {
            if bypass {
                self.rqs[cpu].scx.flags |= SCX_RQ_BYPASSING;
            } else {
                self.rqs[cpu].scx.flags &= !SCX_RQ_BYPASSING;
            }
            if !self.scx.enabled {
                continue;
            }
            let list: Vec<Tid> = self
                .scx
                .runnable_links
                .tasks(&self.rqs[cpu].scx.runnable_list)
                .collect();
            for p in list.into_iter().rev() {
                let flags = DEQUEUE_SAVE | DEQUEUE_MOVE | DEQUEUE_NOCLOCK;
                self.task_change(
                    p,
                    flags,
                    ENQUEUE_RESTORE | ENQUEUE_MOVE | ENQUEUE_NOCLOCK,
                    |_| {},
                );
            }
            if self.rqs[cpu].online || cpu == this {
                self.resched_curr(cpu);
            }
        }
    }

    /// `scx_ops_disable_workfn()` (ext.c:4694-4848).
    pub(crate) fn scx_ops_disable_workfn(&mut self) {
        let kind = self.scx.exit_kind;
        if kind == SCX_EXIT_NONE || kind == SCX_EXIT_DONE {
            return;
        }
        self.scx.exit_kind = SCX_EXIT_DONE;
        let mut ei = self.scx.exit_info.take().unwrap_or_default();
        ei.kind = kind;
        ei.reason = exit_reason(kind).to_string();
        self.scx_ops_bypass(true);
        match self.set_enable_state(EnableState::Disabling) {
            EnableState::Disabling => {
                self.printk("sched_ext: duplicate disabling instance?".into())
            }
            EnableState::Disabled => {
                self.printk(format!(
                    "sched_ext: ops error detected without ops ({})",
                    ei.msg
                ));
                self.set_enable_state(EnableState::Disabled);
                self.scx_ops_bypass(false);
                return;
            }
            _ => {}
        }
        self.scx.switched_all = false;
        self.scx.switching_all = false;
        self.scx_cgroup_exit();
        self.scx.init_task_enabled = false;
        for p in self.scx_tasks() {
            self.switch_task_class(p, false);
            self.scx_ops_exit_task(p);
        }
        self.scx.enabled = false;
        self.scx.has_op = OpSet::default();
        self.scx.enq_last = false;
        self.scx.enq_exiting = false;
        self.scx.cpu_preempt = false;
        self.scx.builtin_idle = false;
        let name = self.scx.ops.name.clone();
        if kind >= SCX_EXIT_ERROR {
            self.printk(format!(
                "sched_ext: BPF scheduler \"{name}\" disabled ({})",
                ei.reason
            ));
            if !ei.msg.is_empty() {
                self.printk(format!("sched_ext: {name}: {}", ei.msg));
            }
            for f in ei.bt.clone() {
                self.printk(format!("   {f}"));
            }
        } else {
            self.printk(format!(
                "sched_ext: BPF scheduler \"{name}\" disabled ({})",
                ei.reason
            ));
        }
        if self.scx.ops.implemented.has(Op::Exit) {
            let info = ei.clone();
            self.scx_call_void(Op::Exit, SCX_KF_UNLOCKED, u64::from(kind), |s, cx| {
                s.exit(cx, &info)
            });
        }
        self.cancel_watchdog();
        let users: Vec<u64> = self.scx.dsqs.user.keys().copied().collect();
        for id in users {
            self.destroy_dsq(id);
        }
        self.scx.dsp_max_batch = 0;
        self.scx.last_exit = Some(ExitRecord {
            name,
            info: ei,
            claimed_at: self.scx.exit_claimed_at,
            disabled_at: self.now,
        });
        self.scx.disable_seq += 1;
        self.set_enable_state(EnableState::Disabled);
        self.scx_ops_bypass(false);
    }

    /// True if a task is an SCX task now (for reports).
    pub fn task_on_scx(&self, p: Tid) -> bool {
        self.task(p).class == Class::Ext
    }

    /// The policy the kernel would give `p` now.
    pub fn task_policy(&self, p: Tid) -> Policy {
        self.task(p).policy
    }
}
