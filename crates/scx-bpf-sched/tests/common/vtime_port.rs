//! A line-by-line Rust port of `scx_sim_vtime.bpf.c` (scx-bpf's test
//! scheduler), with a loader, for conformance tests: on the same workload
//! the port and the BPF object must make the same decisions.

use scx_kernel::consts::SCX_DSQ_LOCAL;
use scx_kernel::ops::*;
use scx_kernel::Kernel;
use scx_scheds::tool::Tool;

const GLOBAL_DSQ: u64 = 7;

/// The scheduler.
pub struct VtimePort {
    fifo_mode: bool,
    slice_ns: u64,
    clock_vtime: u64,
    hotplug_seq: u64,
}

fn before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

impl Scheduler for VtimePort {
    fn info(&self) -> OpsInfo {
        use Op::*;
        let ops = [
            SelectCpu, Enqueue, Dispatch, Running, Stopping, Enable, Init, Exit,
        ];
        let mut i = OpsInfo::new("sim_vtime", &ops);
        i.timeout_ms = 3000;
        i.hotplug_seq = self.hotplug_seq;
        i
    }

    fn select_cpu(&mut self, cx: &mut Cx, p: Task, prev_cpu: i32, wake_flags: u64) -> i32 {
        let (cpu, idle) = cx.select_cpu_dfl(p, prev_cpu, wake_flags);
        if idle {
            cx.dispatch(p, SCX_DSQ_LOCAL, self.slice_ns, 0);
        }
        cpu
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        let mut vtime = cx.task(p).dsq_vtime();
        if self.fifo_mode {
            cx.dispatch(p, GLOBAL_DSQ, self.slice_ns, enq_flags);
            return;
        }
        let floor = self.clock_vtime.wrapping_sub(self.slice_ns);
        if before(vtime, floor) {
            vtime = floor;
        }
        cx.dispatch_vtime(p, GLOBAL_DSQ, self.slice_ns, vtime, enq_flags);
    }

    fn dispatch(&mut self, cx: &mut Cx, _cpu: i32, _prev: Option<Task>) {
        cx.consume(GLOBAL_DSQ);
    }

    fn running(&mut self, cx: &mut Cx, p: Task) {
        let v = cx.task(p).dsq_vtime();
        if !self.fifo_mode && before(self.clock_vtime, v) {
            self.clock_vtime = v;
        }
    }

    fn stopping(&mut self, cx: &mut Cx, p: Task, _runnable: bool) {
        if self.fifo_mode {
            return;
        }
        let t = cx.task(p);
        let used = self.slice_ns.wrapping_sub(t.slice()).wrapping_mul(100);
        let v = t.dsq_vtime().wrapping_add(used / u64::from(t.weight()));
        cx.set_dsq_vtime(p, v);
    }

    fn enable(&mut self, cx: &mut Cx, p: Task) {
        cx.set_dsq_vtime(p, self.clock_vtime);
    }

    fn init(&mut self, cx: &mut Cx) -> i32 {
        cx.create_dsq(GLOBAL_DSQ, -1)
    }

    fn exit(&mut self, _cx: &mut Cx, _info: &ExitInfo) {}
}

/// Its loader.
pub struct VtimePortTool {
    /// `fifo_mode` knob.
    pub fifo_mode: bool,
}

impl Tool for VtimePortTool {
    fn program_name(&self) -> &'static str {
        "scx_sim_vtime"
    }

    fn scheduler(&self, k: &Kernel, _restart: bool) -> Box<dyn Scheduler> {
        Box::new(VtimePort {
            fifo_mode: self.fifo_mode,
            slice_ns: 20_000_000,
            clock_vtime: 0,
            hotplug_seq: k.scx.hotplug_seq,
        })
    }

    fn stats(&mut self, _k: &mut Kernel) -> Vec<String> {
        Vec::new()
    }
}
