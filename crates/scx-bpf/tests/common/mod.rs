//! Shared test support: building the C test schedulers with clang-19 and a
//! mock host that records every kernel interaction.
#![allow(dead_code)]

use scx_bpf::host::{GlobalMask, KernelField, KernelPtr, MaskRef, PtrField, TaskField};
use scx_bpf::vmlinux::{CgroupField, RqField};
use scx_bpf::{BpfObject, Fault, Host, KRet, KernelObj, KfuncCall, LoadEnv, TaskId, TimerId, Vm};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

/// Newest modification time of the C sources, headers and build script.
fn newest_source(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let t = if p.is_dir() {
            newest_source(&p)
        } else {
            e.metadata().and_then(|m| m.modified()).unwrap_or(newest)
        };
        newest = newest.max(t);
    }
    newest
}

/// True when every object exists and is newer than every source.
fn up_to_date(out: &Path, src: &Path) -> bool {
    let newest = newest_source(src);
    OBJECTS.iter().all(|o| {
        std::fs::metadata(out.join(o))
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= newest)
    })
}

/// Objects produced by tests/bpf/build.sh.
pub const OBJECTS: &[&str] = &[
    "scx_sim_vtime.bpf.o",
    "scx_sim_vtime.alt.bpf.o",
    "scx_sim_queues.bpf.o",
    "scx_sim_central.bpf.o",
    "scx_sim_features.bpf.o",
    "scx_sim_features.v4.bpf.o",
];

/// Build the test objects (once per process, and only when a source is
/// newer than the outputs); `None` (with a message) when clang-19 is
/// unavailable.
pub fn objects_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scx-bpf-objs");
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bpf");
        let forced = std::env::var_os("SCX_BPF_CLANG").is_some();
        if !forced && up_to_date(&out, &src) {
            return Some(out);
        }
        let st = std::process::Command::new("bash").arg(src.join("build.sh")).arg(&out).output().expect("run build.sh");
        match st.status.code() {
            Some(0) => Some(out),
            Some(2) => {
                eprintln!("SKIP: clang-19 not found; install it (apt-get install -y clang-19) to run BPF object tests");
                None
            }
            _ => panic!("build.sh failed:\n{}", String::from_utf8_lossy(&st.stderr)),
        }
    })
    .clone()
}

/// Raw bytes of a built object.
pub fn object_bytes(name: &str) -> Option<Vec<u8>> {
    objects_dir().map(|d| std::fs::read(d.join(name)).expect("object built"))
}

/// Parse a built object.
pub fn parse(name: &str) -> Option<BpfObject> {
    object_bytes(name).map(|b| BpfObject::parse(name, &b).expect("parse"))
}

/// Parse and load with the default environment.
pub fn load(name: &str) -> Option<Vm> {
    parse(name).map(|o| Vm::load(o, &env()).expect("load"))
}

/// The test environment: 4 CPUs, every host kfunc.
pub fn env() -> LoadEnv {
    LoadEnv {
        nr_cpu_ids: 4,
        ..LoadEnv::default()
    }
}

/// A simulated task.
#[derive(Debug, Clone)]
pub struct MockTask {
    pub pid: i32,
    pub tgid: i32,
    pub flags: u32,
    pub prio: i32,
    pub weight: u32,
    pub comm: String,
    pub cpus: u64,
    pub slice: u64,
    pub dsq_vtime: u64,
    pub disallow: bool,
    pub parent: Option<u32>,
    pub cpu: u32,
    pub running: bool,
}

impl MockTask {
    pub fn new(pid: i32, comm: &str) -> MockTask {
        MockTask {
            pid,
            tgid: pid,
            flags: 0,
            prio: 120,
            weight: 100,
            comm: comm.into(),
            cpus: 0xf,
            slice: 0,
            dsq_vtime: 0,
            disallow: false,
            parent: None,
            cpu: 0,
            running: false,
        }
    }
}

/// A mock kernel: records kfunc calls, field writes, timers and traces.
#[derive(Debug, Default)]
pub struct MockHost {
    pub tasks: BTreeMap<u32, MockTask>,
    pub cgroups: BTreeMap<u64, Vec<u64>>,
    pub calls: Vec<KfuncCall>,
    pub writes: Vec<(u32, TaskField, u64)>,
    pub timers: Vec<(TimerId, u64, u64, u32)>,
    pub cancels: Vec<TimerId>,
    pub trace: Vec<String>,
    pub errors: Vec<String>,
    pub dumps: Vec<String>,
    pub dsqs: BTreeMap<u64, Vec<u32>>,
    pub iters: BTreeMap<u64, (Vec<u32>, usize)>,
    pub next_iter: u64,
    pub now: u64,
    pub cpu: u32,
    pub idle_cpus: u64,
    pub nr_slots: i64,
    pub local: Vec<u32>,
    pub task_cgroup_ok: bool,
}

impl MockHost {
    pub fn new() -> MockHost {
        MockHost {
            idle_cpus: 0b0010,
            nr_slots: 32,
            ..Default::default()
        }
    }

    pub fn add_task(&mut self, id: u32, t: MockTask) -> TaskId {
        self.tasks.insert(id, t);
        TaskId(id)
    }

    fn task_by_pid(&self, pid: i32) -> Option<u32> {
        self.tasks
            .iter()
            .find(|(_, t)| t.pid == pid)
            .map(|(id, _)| *id)
    }

    fn bstr(&mut self, vm: &mut Vm, fmt: u64, data: u64, sz: u32) -> String {
        match vm.bstr_format(self, fmt, data, sz) {
            Ok(s) => s,
            Err(e) => format!("<bstr error {}: {}>", e.errno, e.message),
        }
    }

    /// Calls of one kind (by debug-name prefix).
    pub fn calls_named(&self, prefix: &str) -> Vec<&KfuncCall> {
        self.calls
            .iter()
            .filter(|c| format!("{c:?}").starts_with(prefix))
            .collect()
    }
}

impl Host for MockHost {
    fn kfunc(&mut self, vm: &mut Vm, call: KfuncCall) -> Result<KRet, Fault> {
        self.calls.push(call.clone());
        Ok(match call {
            KfuncCall::CreateDsq { dsq_id, .. } => {
                self.dsqs.insert(dsq_id, Vec::new());
                KRet::Int(0)
            }
            KfuncCall::SelectCpuDfl { prev_cpu, .. } => {
                let idle = self.idle_cpus.trailing_zeros();
                if idle < 64 {
                    KRet::SelectCpu {
                        cpu: idle as i32,
                        is_idle: true,
                    }
                } else {
                    KRet::SelectCpu {
                        cpu: prev_cpu,
                        is_idle: false,
                    }
                }
            }
            KfuncCall::Dispatch { task, dsq_id, .. }
            | KfuncCall::DispatchVtime { task, dsq_id, .. } => {
                self.dsqs.entry(dsq_id).or_default().push(task.0);
                self.nr_slots -= 1;
                KRet::Void
            }
            KfuncCall::DispatchNrSlots => KRet::Int(self.nr_slots.max(0)),
            KfuncCall::Consume { dsq_id } => {
                let q = self.dsqs.entry(dsq_id).or_default();
                let got = !q.is_empty();
                if got {
                    let t = q.remove(0);
                    self.local.push(t);
                }
                KRet::Bool(got)
            }
            KfuncCall::DsqIterNew { dsq_id, .. } => {
                let h = self.next_iter;
                self.next_iter += 1;
                self.iters
                    .insert(h, (self.dsqs.get(&dsq_id).cloned().unwrap_or_default(), 0));
                KRet::Iter(h)
            }
            KfuncCall::DsqIterNext { handle } => {
                let Some((v, pos)) = self.iters.get_mut(&handle) else {
                    return Ok(KRet::Obj(KernelObj::Null));
                };
                let r = v
                    .get(*pos)
                    .map(|t| KernelObj::Task(TaskId(*t)))
                    .unwrap_or(KernelObj::Null);
                *pos += 1;
                KRet::Obj(r)
            }
            KfuncCall::DsqIterDestroy { handle } => {
                self.iters.remove(&handle);
                KRet::Void
            }
            KfuncCall::DispatchFromDsq { task, dsq_id, .. } => {
                for q in self.dsqs.values_mut() {
                    q.retain(|t| *t != task.0);
                }
                self.dsqs.entry(dsq_id).or_default().push(task.0);
                KRet::Bool(true)
            }
            KfuncCall::ReenqueueLocal => {
                let local = std::mem::take(&mut self.local);
                for t in &local {
                    let args = [scx_bpf::Arg::Task(TaskId(*t)), scx_bpf::Arg::Int(1 << 40)];
                    vm.call_op(self, "enqueue", &args)?;
                }
                KRet::Int(local.len() as i64)
            }
            KfuncCall::DsqNrQueued { dsq_id } => {
                KRet::Int(self.dsqs.get(&dsq_id).map(|q| q.len()).unwrap_or(0) as i64)
            }
            KfuncCall::ErrorBstr { fmt, data, data_sz }
            | KfuncCall::ExitBstr {
                fmt, data, data_sz, ..
            } => {
                let s = self.bstr(vm, fmt, data, data_sz);
                self.errors.push(s);
                KRet::Void
            }
            KfuncCall::DumpBstr { fmt, data, data_sz } => {
                let s = self.bstr(vm, fmt, data, data_sz);
                self.dumps.push(s);
                KRet::Void
            }
            KfuncCall::NrCpuIds => KRet::Int(vm.nr_cpu_ids() as i64),
            KfuncCall::GetCpumask(m) => KRet::Obj(KernelObj::Mask(m)),
            KfuncCall::TestAndClearCpuIdle { cpu } => {
                let was = self.idle_cpus >> cpu & 1 != 0;
                self.idle_cpus &= !(1 << cpu);
                KRet::Bool(was)
            }
            KfuncCall::PickIdleCpu { cpus_allowed, .. } => {
                let m = cpus_allowed[0] & self.idle_cpus;
                KRet::Int(if m == 0 {
                    -16
                } else {
                    m.trailing_zeros() as i64
                })
            }
            KfuncCall::PickAnyCpu { cpus_allowed, .. } => {
                KRet::Int(cpus_allowed[0].trailing_zeros() as i64)
            }
            KfuncCall::TaskRunning { task } => {
                KRet::Bool(self.tasks.get(&task.0).is_some_and(|t| t.running))
            }
            KfuncCall::TaskCpu { task } => {
                KRet::Int(self.tasks.get(&task.0).map(|t| t.cpu as i64).unwrap_or(0))
            }
            KfuncCall::CpuRq { cpu } => KRet::Obj(KernelObj::Rq(cpu as u32)),
            KfuncCall::TaskFromPid { pid } => KRet::Obj(
                self.task_by_pid(pid)
                    .map(|t| KernelObj::Task(TaskId(t)))
                    .unwrap_or(KernelObj::Null),
            ),
            KfuncCall::CgroupAncestor { cgroup, level } => {
                let anc = self
                    .cgroups
                    .get(&cgroup.0)
                    .and_then(|a| a.get(level as usize))
                    .copied();
                KRet::Obj(
                    anc.map(|c| KernelObj::Cgroup(scx_bpf::CgroupId(c)))
                        .unwrap_or(KernelObj::Null),
                )
            }
            KfuncCall::CgroupFromId { id } => KRet::Obj(KernelObj::Cgroup(scx_bpf::CgroupId(id))),
            KfuncCall::TaskCgroup { .. } => KRet::Obj(KernelObj::Cgroup(scx_bpf::CgroupId(1))),
            _ => KRet::Int(0),
        })
    }

    fn read_field(&mut self, field: KernelField) -> u64 {
        match field {
            KernelField::Task(t, f) => {
                let Some(t) = self.tasks.get(&t.0) else {
                    return 0;
                };
                match f {
                    TaskField::Pid => t.pid as u64,
                    TaskField::Tgid => t.tgid as u64,
                    TaskField::Flags => t.flags as u64,
                    TaskField::Prio => t.prio as u64,
                    TaskField::ScxWeight => t.weight as u64,
                    TaskField::ScxSlice => t.slice,
                    TaskField::ScxDsqVtime => t.dsq_vtime,
                    TaskField::ScxDisallow => t.disallow as u64,
                    TaskField::NrCpusAllowed => t.cpus.count_ones() as u64,
                    TaskField::Cpu => t.cpu as u64,
                    _ => 0,
                }
            }
            KernelField::Cgroup(c, CgroupField::Id) => c.0,
            KernelField::Cgroup(c, CgroupField::Level) => self
                .cgroups
                .get(&c.0)
                .map(|a| a.len() as u64 - 1)
                .unwrap_or(0),
            KernelField::Rq(cpu, RqField::Cpu) => cpu as u64,
            _ => 0,
        }
    }

    fn read_ptr(&mut self, ptr: KernelPtr) -> Option<u64> {
        match ptr.field {
            PtrField::RealParent | PtrField::Parent => self
                .tasks
                .get(&(ptr.owner as u32))?
                .parent
                .map(|p| p as u64),
            PtrField::CgroupAncestor => self
                .cgroups
                .get(&ptr.owner)?
                .get(ptr.index as usize)
                .copied(),
            _ => None,
        }
    }

    fn cpumask_word(&mut self, mask: MaskRef, word: u32) -> u64 {
        match (mask, word) {
            (MaskRef::Task(t), 0) => self.tasks.get(&t.0).map(|t| t.cpus).unwrap_or(0),
            (MaskRef::Global(GlobalMask::Idle), 0) => self.idle_cpus,
            (MaskRef::Global(_), 0) => 0xf,
            _ => 0,
        }
    }

    fn task_comm(&mut self, task: TaskId) -> [u8; 16] {
        let mut out = [0u8; 16];
        if let Some(t) = self.tasks.get(&task.0) {
            let b = t.comm.as_bytes();
            out[..b.len().min(15)].copy_from_slice(&b[..b.len().min(15)]);
        }
        out
    }

    fn write_task(&mut self, task: TaskId, field: TaskField, value: u64) {
        self.writes.push((task.0, field, value));
        if let Some(t) = self.tasks.get_mut(&task.0) {
            match field {
                TaskField::ScxSlice => t.slice = value,
                TaskField::ScxDsqVtime => t.dsq_vtime = value,
                TaskField::ScxDisallow => t.disallow = value != 0,
                _ => {}
            }
        }
    }

    fn ktime_ns(&mut self) -> u64 {
        self.now
    }

    fn current_cpu(&mut self) -> u32 {
        self.cpu
    }

    fn timer_start(&mut self, timer: TimerId, nsecs: u64, flags: u64, cpu: u32) -> i64 {
        self.timers.push((timer, nsecs, flags, cpu));
        0
    }

    fn timer_cancel(&mut self, timer: TimerId) -> i64 {
        self.cancels.push(timer);
        0
    }

    fn trace(&mut self, line: &str) {
        self.trace.push(line.to_string());
    }
}
