//! Our simulated kernel's type layout — scxsim's "vmlinux BTF".
//!
//! Every kernel struct a sched_ext scheduler can touch is defined ONCE here,
//! with offsets chosen by us (natural alignment over the member lists
//! below, which are a subset of Linux 6.12's members in our own order).
//! The same table
//! * is the CO-RE target ([`KernelTypes::btf`]),
//! * tells the VM which host value backs each byte of a kernel object
//!   window ([`Binding`], [`KernelTypes::leaf`]), and
//! * generates the C declarations our test schedulers include
//!   ([`c_header`]), so the header can never drift from the table.
//!
//! Field and enumerator *names* follow 6.12, so `bpf_core_field_exists()`
//! and `bpf_core_enum_value_exists()` answer as a 6.12 kernel would.

use crate::btf::{Btf, Kind, Member};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Number of CPUs a `struct cpumask` can describe (`NR_CPUS`).
pub const NR_CPUS: u32 = 512;
/// Number of u64 words in a cpumask.
pub const CPUMASK_WORDS: u32 = NR_CPUS / 64;

/// Scalar task fields the host provides (and, for three of them, accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskField {
    /// `pid`.
    Pid,
    /// `tgid`.
    Tgid,
    /// `flags` (PF_*).
    Flags,
    /// `__state`.
    State,
    /// `prio`.
    Prio,
    /// `static_prio`.
    StaticPrio,
    /// `normal_prio`.
    NormalPrio,
    /// `rt_priority`.
    RtPriority,
    /// `policy`.
    Policy,
    /// `nr_cpus_allowed`.
    NrCpusAllowed,
    /// `migration_disabled`.
    MigrationDisabled,
    /// `thread_info.cpu` (the CPU the task is on or last ran on).
    Cpu,
    /// `wake_cpu`.
    WakeCpu,
    /// `on_cpu`.
    OnCpu,
    /// `on_rq`.
    OnRq,
    /// `start_time`.
    StartTime,
    /// `se.sum_exec_runtime`.
    SumExecRuntime,
    /// `se.vruntime`.
    Vruntime,
    /// `se.load.weight`.
    LoadWeight,
    /// `scx.flags`.
    ScxFlags,
    /// `scx.weight`.
    ScxWeight,
    /// `scx.sticky_cpu`.
    ScxStickyCpu,
    /// `scx.holding_cpu`.
    ScxHoldingCpu,
    /// `scx.ops_state`.
    ScxOpsState,
    /// `scx.runnable_at` (jiffies in the kernel; host units).
    ScxRunnableAt,
    /// `scx.core_sched_at`.
    ScxCoreSchedAt,
    /// `scx.dsq_seq`.
    ScxDsqSeq,
    /// `scx.dsq_flags`.
    ScxDsqFlags,
    /// `scx.ddsp_dsq_id`.
    ScxDdspDsqId,
    /// `scx.ddsp_enq_flags`.
    ScxDdspEnqFlags,
    /// `scx.slice` — writable by BPF.
    ScxSlice,
    /// `scx.dsq_vtime` — writable by BPF.
    ScxDsqVtime,
    /// `scx.disallow` — writable by BPF.
    ScxDisallow,
}

impl TaskField {
    /// True for the three fields a BPF scheduler may store to.
    pub fn bpf_writable(self) -> bool {
        matches!(
            self,
            TaskField::ScxSlice | TaskField::ScxDsqVtime | TaskField::ScxDisallow
        )
    }
}

/// Scalar cgroup fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CgroupField {
    /// `kn->id` (the cgroup id).
    Id,
    /// `level` (root = 0).
    Level,
    /// `max_depth`.
    MaxDepth,
    /// `flags`.
    Flags,
    /// `self.serial_nr`.
    SerialNr,
}

/// Scalar runqueue fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RqField {
    /// `cpu`.
    Cpu,
    /// `online`.
    Online,
    /// `nr_running`.
    NrRunning,
    /// `nr_switches`.
    NrSwitches,
    /// `clock`.
    Clock,
    /// `clock_task`.
    ClockTask,
    /// `scx.nr_running`.
    ScxNrRunning,
    /// `scx.flags`.
    ScxFlags,
    /// `scx.cpuperf_target`.
    ScxCpuperfTarget,
    /// `scx.cpu_released`.
    ScxCpuReleased,
    /// `scx.ops_qseq`.
    ScxOpsQseq,
    /// `scx.local_dsq.nr`.
    LocalDsqNr,
}

/// Scalar DSQ fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DsqField {
    /// `id`.
    Id,
    /// `nr`.
    Nr,
    /// `seq`.
    Seq,
}

/// Pointer-valued kernel fields; the host answers with the target's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PtrField {
    /// `task->real_parent`.
    RealParent,
    /// `task->parent`.
    Parent,
    /// `task->group_leader`.
    GroupLeader,
    /// `task->scx.dsq` (a DSQ id).
    ScxDsq,
    /// `rq->curr`.
    RqCurr,
    /// `rq->idle`.
    RqIdle,
    /// `cgroup->ancestors[level]` (a cgroup id).
    CgroupAncestor,
    /// `cgroup->self.parent` (a cgroup id).
    CgroupParent,
}

/// Global kernel cpumasks the host exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GlobalMask {
    /// `cpu_possible_mask`.
    Possible,
    /// `cpu_online_mask`.
    Online,
    /// The sched_ext idle cpumask.
    Idle,
    /// The sched_ext idle SMT-core cpumask.
    IdleSmt,
}

impl GlobalMask {
    /// Stable numeric id used in window addresses.
    pub fn id(self) -> u64 {
        self as u64
    }

    /// Inverse of [`GlobalMask::id`].
    pub fn from_id(id: u64) -> Option<GlobalMask> {
        [
            GlobalMask::Possible,
            GlobalMask::Online,
            GlobalMask::Idle,
            GlobalMask::IdleSmt,
        ]
        .get(id as usize)
        .copied()
    }
}

/// What backs a leaf of a kernel object window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// A scalar task field.
    Task(TaskField),
    /// `task->comm` (16 bytes).
    Comm,
    /// `task->cpus_mask.bits[]`.
    TaskMaskWords,
    /// `task->cpus_ptr`: points at the task's own `cpus_mask`.
    TaskCpusPtr,
    /// A scalar cgroup field.
    Cgroup(CgroupField),
    /// `cgroup->kn`: points at the cgroup's kernfs node.
    CgroupKn,
    /// `cgroup->self.cgroup`: points back at the cgroup.
    CgroupSelf,
    /// `cgroup->ancestors[]`.
    CgroupAncestors,
    /// A scalar rq field.
    Rq(RqField),
    /// A scalar DSQ field.
    Dsq(DsqField),
    /// A pointer field answered by the host.
    Ptr(PtrField),
    /// Bits of a global cpumask.
    MaskWords,
}

/// Kinds of kernel object windows (the high tag of a kernel pointer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Window {
    /// `struct task_struct`.
    Task = 1,
    /// `struct cgroup`.
    Cgroup = 2,
    /// `struct kernfs_node` of a cgroup.
    Kernfs = 3,
    /// `struct rq`.
    Rq = 4,
    /// `struct scx_dispatch_q`.
    Dsq = 5,
    /// A global `struct cpumask`.
    Mask = 6,
}

impl Window {
    /// Decode the numeric tag.
    pub fn from_tag(t: u64) -> Option<Window> {
        Some(match t {
            1 => Window::Task,
            2 => Window::Cgroup,
            3 => Window::Kernfs,
            4 => Window::Rq,
            5 => Window::Dsq,
            6 => Window::Mask,
            _ => return None,
        })
    }

    fn struct_name(self) -> &'static str {
        match self {
            Window::Task => "task_struct",
            Window::Cgroup => "cgroup",
            Window::Kernfs => "kernfs_node",
            Window::Rq => "rq",
            Window::Dsq => "scx_dispatch_q",
            Window::Mask => "cpumask",
        }
    }
}

/// One backed range of a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Byte offset in the object.
    pub off: u32,
    /// Total byte size (whole array for arrays; unbounded arrays use a
    /// large size).
    pub size: u32,
    /// Element size for arrays, else equal to `size`.
    pub elem: u32,
    /// What backs it.
    pub bind: Binding,
}

/// The kernel type table.
#[derive(Debug, Clone)]
pub struct KernelTypes {
    /// The type graph (CO-RE target).
    pub btf: Btf,
    windows: BTreeMap<Window, Vec<Leaf>>,
}

/// Incrementally builds the kernel BTF with natural alignment.
struct Builder {
    btf: Btf,
    align: BTreeMap<u32, u32>,
    by_name: BTreeMap<String, u32>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            btf: Btf::default(),
            align: BTreeMap::new(),
            by_name: BTreeMap::new(),
        }
    }

    fn named(&mut self, name: &str, kind: Kind, align: u32) -> u32 {
        let id = self.btf.add(name, kind);
        self.align.insert(id, align);
        if !name.is_empty() {
            self.by_name.insert(name.to_string(), id);
        }
        id
    }

    fn t(&self, name: &str) -> u32 {
        *self
            .by_name
            .get(name)
            .unwrap_or_else(|| panic!("vmlinux table: unknown type {name}"))
    }

    fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let kind = Kind::Int {
            size,
            signed,
            is_char: name == "char",
            is_bool: name == "_Bool",
            bit_offset: 0,
            bits: (size * 8) as u8,
        };
        self.named(name, kind, size)
    }

    fn typedef(&mut self, name: &str, target: &str) -> u32 {
        let t = self.t(target);
        let a = self.align_of(t);
        self.named(name, Kind::Typedef(t), a)
    }

    fn ptr(&mut self, target: u32) -> u32 {
        self.named("", Kind::Ptr(target), 8)
    }

    fn ptr_to(&mut self, name: &str) -> u32 {
        let t = self.t(name);
        self.ptr(t)
    }

    fn const_of(&mut self, target: u32) -> u32 {
        let a = self.align_of(target);
        self.named("", Kind::Const(target), a)
    }

    fn array(&mut self, elem: u32, n: u32) -> u32 {
        let idx = self.t("int");
        let a = self.align_of(elem);
        self.named(
            "",
            Kind::Array {
                elem,
                index: idx,
                nelems: n,
            },
            a,
        )
    }

    fn align_of(&self, id: u32) -> u32 {
        self.align.get(&id).copied().unwrap_or(1).max(1)
    }

    /// Reserve a struct id so members can point to it before it is defined.
    fn declare(&mut self, name: &str) -> u32 {
        self.named(
            name,
            Kind::Struct {
                size: 0,
                members: Vec::new(),
            },
            8,
        )
    }

    /// Lay out `fields` with natural alignment into the reserved struct.
    fn define(&mut self, name: &str, fields: &[(&str, u32)]) -> u32 {
        let id = self
            .by_name
            .get(name)
            .copied()
            .unwrap_or_else(|| self.declare(name));
        let mut off = 0u32;
        let mut max_align = 1;
        let mut members = Vec::new();
        for (fname, ty) in fields {
            let a = self.align_of(*ty);
            max_align = max_align.max(a);
            off = off.div_ceil(a) * a;
            members.push(Member {
                name: fname.to_string(),
                ty: *ty,
                bit_offset: off * 8,
                bitfield_size: 0,
            });
            off += self.btf.size_of(*ty).unwrap_or(0) as u32;
        }
        let size = off.div_ceil(max_align) * max_align;
        self.btf.types[id as usize].kind = Kind::Struct { size, members };
        self.align.insert(id, max_align);
        id
    }

    fn enumeration(&mut self, name: &str, values: &[(&str, i64)]) -> u32 {
        let wide = values
            .iter()
            .any(|(_, v)| *v > u32::MAX as i64 || *v < i32::MIN as i64);
        let signed = values.iter().any(|(_, v)| *v < 0);
        let size = if wide { 8 } else { 4 };
        let kind = Kind::Enum {
            size,
            signed,
            is64: wide,
            values: values.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        };
        self.named(name, kind, size)
    }
}

fn base_types(b: &mut Builder) {
    for (n, s, sg) in [
        ("char", 1, true),
        ("_Bool", 1, false),
        ("unsigned char", 1, false),
        ("short", 2, true),
        ("unsigned short", 2, false),
        ("int", 4, true),
        ("unsigned int", 4, false),
        ("long", 8, true),
        ("unsigned long", 8, false),
        ("long long", 8, true),
        ("unsigned long long", 8, false),
    ] {
        b.int(n, s, sg);
    }
    for (n, t) in [
        ("bool", "_Bool"),
        ("u8", "unsigned char"),
        ("s8", "char"),
        ("u16", "unsigned short"),
        ("s16", "short"),
        ("u32", "unsigned int"),
        ("s32", "int"),
        ("u64", "unsigned long long"),
        ("s64", "long long"),
        ("__u8", "unsigned char"),
        ("__u16", "unsigned short"),
        ("__u32", "unsigned int"),
        ("__u64", "unsigned long long"),
        ("__s32", "int"),
        ("__s64", "long long"),
        ("pid_t", "int"),
    ] {
        b.typedef(n, t);
    }
    let void_ptr = b.ptr(0);
    b.by_name.insert("void *".into(), void_ptr);
}

fn small_structs(b: &mut Builder) {
    let int = b.t("int");
    let long = b.t("long");
    b.define("atomic_t", &[("counter", int)]);
    // atomic_t is a typedef'd anonymous struct in the kernel; a named struct
    // keeps our table simple and CO-RE only compares member names.
    b.define("atomic_long_t", &[("counter", long)]);
    let at = b.t("atomic_t");
    b.define("refcount_struct", &[("refs", at)]);
    b.typedef("refcount_t", "refcount_struct");
    let lh = b.declare("list_head");
    let lhp = b.ptr(lh);
    b.define("list_head", &[("next", lhp), ("prev", lhp)]);
    let ul = b.t("unsigned long");
    let rb = b.declare("rb_node");
    let rbp = b.ptr(rb);
    b.define(
        "rb_node",
        &[
            ("__rb_parent_color", ul),
            ("rb_right", rbp),
            ("rb_left", rbp),
        ],
    );
    b.define("rb_root", &[("rb_node", rbp)]);
    let u32t = b.t("u32");
    b.define("raw_spinlock", &[("raw_lock", u32t)]);
    b.typedef("raw_spinlock_t", "raw_spinlock");
    let bits = b.array(ul, CPUMASK_WORDS);
    b.define("cpumask", &[("bits", bits)]);
    b.typedef("cpumask_t", "cpumask");
    let lw = [("weight", ul), ("inv_weight", u32t)];
    b.define("load_weight", &lw);
}

fn sched_ext_types(b: &mut Builder) {
    let (u32t, u64t, s32t, s64t) = (b.t("u32"), b.t("u64"), b.t("s32"), b.t("s64"));
    let (lh, rbn, ul, boolt) = (
        b.t("list_head"),
        b.t("rb_node"),
        b.t("unsigned long"),
        b.t("bool"),
    );
    let dsq = b.declare("scx_dispatch_q");
    let task = b.declare("task_struct");
    let cgroup = b.declare("cgroup");
    b.define(
        "scx_dsq_list_node",
        &[("node", lh), ("flags", u32t), ("priv", u32t)],
    );
    let (lock, rbr) = (b.t("raw_spinlock_t"), b.t("rb_root"));
    b.define(
        "scx_dispatch_q",
        &[
            ("lock", lock),
            ("list", lh),
            ("priq", rbr),
            ("nr", u32t),
            ("seq", u32t),
            ("id", u64t),
            ("free_node", lh),
        ],
    );
    let _ = dsq;
    let dsqp = b.ptr_to("scx_dispatch_q");
    let taskp = b.ptr(task);
    let kf_tasks = b.array(taskp, 2);
    let cgp = b.ptr(cgroup);
    let (lnode, atl) = (b.t("scx_dsq_list_node"), b.t("atomic_long_t"));
    b.define(
        "sched_ext_entity",
        &[
            ("dsq", dsqp),
            ("dsq_list", lnode),
            ("dsq_priq", rbn),
            ("dsq_seq", u32t),
            ("dsq_flags", u32t),
            ("flags", u32t),
            ("weight", u32t),
            ("sticky_cpu", s32t),
            ("holding_cpu", s32t),
            ("kf_mask", u32t),
            ("ops_qseq", u32t),
            ("kf_tasks", kf_tasks),
            ("ops_state", atl),
            ("runnable_node", lh),
            ("runnable_at", ul),
            ("core_sched_at", u64t),
            ("ddsp_dsq_id", u64t),
            ("ddsp_enq_flags", u64t),
            ("slice", u64t),
            ("dsq_vtime", u64t),
            ("disallow", boolt),
            ("cgrp_moving_from", cgp),
            ("tasks_node", lh),
        ],
    );
    let lw = b.t("load_weight");
    let uint = b.t("unsigned int");
    b.define(
        "sched_entity",
        &[
            ("load", lw),
            ("run_node", rbn),
            ("deadline", u64t),
            ("min_vruntime", u64t),
            ("on_rq", uint),
            ("exec_start", u64t),
            ("sum_exec_runtime", u64t),
            ("prev_sum_exec_runtime", u64t),
            ("vruntime", u64t),
            ("vlag", s64t),
            ("slice", u64t),
            ("nr_migrations", u64t),
        ],
    );
    b.define(
        "thread_info",
        &[
            ("flags", ul),
            ("syscall_work", ul),
            ("status", u32t),
            ("cpu", u32t),
        ],
    );
}

fn task_struct(b: &mut Builder) {
    let (int, uint, ushort, u64t) = (
        b.t("int"),
        b.t("unsigned int"),
        b.t("unsigned short"),
        b.t("u64"),
    );
    let (pid, chr, ti) = (b.t("pid_t"), b.t("char"), b.t("thread_info"));
    let (se, scx, rc) = (
        b.t("sched_entity"),
        b.t("sched_ext_entity"),
        b.t("refcount_t"),
    );
    let cm = b.t("cpumask_t");
    let ccm = b.const_of(cm);
    let ccmp = b.ptr(ccm);
    let cmp = b.ptr(cm);
    let taskp = b.ptr_to("task_struct");
    let comm = b.array(chr, 16);
    let voidp = b.t("void *");
    b.define(
        "task_struct",
        &[
            ("thread_info", ti),
            ("__state", uint),
            ("stack", voidp),
            ("usage", rc),
            ("flags", uint),
            ("on_cpu", int),
            ("wake_cpu", int),
            ("on_rq", int),
            ("prio", int),
            ("static_prio", int),
            ("normal_prio", int),
            ("rt_priority", uint),
            ("se", se),
            ("scx", scx),
            ("policy", uint),
            ("nr_cpus_allowed", int),
            ("cpus_ptr", ccmp),
            ("user_cpus_ptr", cmp),
            ("cpus_mask", cm),
            ("migration_disabled", ushort),
            ("exit_state", int),
            ("exit_code", int),
            ("pid", pid),
            ("tgid", pid),
            ("real_parent", taskp),
            ("parent", taskp),
            ("group_leader", taskp),
            ("start_time", u64t),
            ("comm", comm),
        ],
    );
}

fn cgroup_rq_types(b: &mut Builder) {
    let (int, uint, ushort, u64t, u32t, ul) = (
        b.t("int"),
        b.t("unsigned int"),
        b.t("unsigned short"),
        b.t("u64"),
        b.t("u32"),
        b.t("unsigned long"),
    );
    let (at, boolt, lh) = (b.t("atomic_t"), b.t("bool"), b.t("list_head"));
    let kn = b.declare("kernfs_node");
    let knp = b.ptr(kn);
    let chr = b.t("char");
    let cchr = b.const_of(chr);
    let name = b.ptr(cchr);
    b.define(
        "kernfs_node",
        &[
            ("count", at),
            ("active", at),
            ("parent", knp),
            ("name", name),
            ("id", u64t),
            ("flags", ushort),
        ],
    );
    let css = b.declare("cgroup_subsys_state");
    let cssp = b.ptr(css);
    let cgp = b.ptr_to("cgroup");
    b.define(
        "cgroup_subsys_state",
        &[
            ("cgroup", cgp),
            ("serial_nr", u64t),
            ("parent", cssp),
            ("id", int),
            ("flags", uint),
        ],
    );
    let anc = b.array(cgp, 0);
    let cssv = b.t("cgroup_subsys_state");
    b.define(
        "cgroup",
        &[
            ("self", cssv),
            ("flags", ul),
            ("level", int),
            ("max_depth", int),
            ("nr_descendants", int),
            ("kn", knp),
            ("ancestors", anc),
        ],
    );
    let dsq = b.t("scx_dispatch_q");
    b.define(
        "scx_rq",
        &[
            ("local_dsq", dsq),
            ("runnable_list", lh),
            ("ddsp_deferred_locals", lh),
            ("ops_qseq", ul),
            ("extra_enq_flags", u64t),
            ("nr_running", u32t),
            ("flags", u32t),
            ("cpuperf_target", u32t),
            ("cpu_released", boolt),
        ],
    );
    let (lock, scx) = (b.t("raw_spinlock_t"), b.t("scx_rq"));
    let taskp = b.ptr_to("task_struct");
    b.define(
        "rq",
        &[
            ("__lock", lock),
            ("nr_running", uint),
            ("nr_switches", u64t),
            ("scx", scx),
            ("curr", taskp),
            ("idle", taskp),
            ("clock", u64t),
            ("clock_task", u64t),
            ("cpu", int),
            ("online", int),
        ],
    );
}

fn arg_structs(b: &mut Builder) {
    let (u32t, s64t, u64t, boolt) = (b.t("u32"), b.t("s64"), b.t("u64"), b.t("bool"));
    let kind = b.t("scx_exit_kind");
    let chr = b.t("char");
    let cchr = b.const_of(chr);
    let cstr = b.ptr(cchr);
    let str_ = b.ptr(chr);
    let ul = b.t("unsigned long");
    let ulp = b.ptr(ul);
    b.define(
        "scx_exit_info",
        &[
            ("kind", kind),
            ("exit_code", s64t),
            ("reason", cstr),
            ("bt", ulp),
            ("bt_len", u32t),
            ("msg", str_),
            ("dump", str_),
        ],
    );
    let cgp = b.ptr_to("cgroup");
    b.define("scx_init_task_args", &[("fork", boolt), ("cgroup", cgp)]);
    b.define("scx_exit_task_args", &[("cancelled", boolt)]);
    b.define("scx_cgroup_init_args", &[("weight", u32t)]);
    b.define("scx_cpu_acquire_args", &[]);
    let reason = b.t("scx_cpu_preempt_reason");
    let taskp = b.ptr_to("task_struct");
    b.define(
        "scx_cpu_release_args",
        &[("reason", reason), ("task", taskp)],
    );
    b.define(
        "scx_dump_ctx",
        &[
            ("kind", kind),
            ("exit_code", s64t),
            ("reason", cstr),
            ("at_ns", u64t),
            ("at_jiffies", u64t),
        ],
    );
    let op6 = b.array(u64t, 6);
    b.define("bpf_iter_scx_dsq", &[("__opaque", op6)]);
    let op1 = b.array(u64t, 1);
    b.define("bpf_iter_num", &[("__opaque", op1)]);
    let (cm, rc) = (b.t("cpumask_t"), b.t("refcount_t"));
    b.define("bpf_cpumask", &[("cpumask", cm), ("usage", rc)]);
}

const B63: i64 = i64::MIN;

fn enums(b: &mut Builder) {
    b.enumeration(
        "scx_public_consts",
        &[
            ("SCX_OPS_NAME_LEN", 128),
            ("SCX_SLICE_DFL", 20_000_000),
            ("SCX_SLICE_INF", -1),
        ],
    );
    b.enumeration(
        "scx_dsq_id_flags",
        &[
            ("SCX_DSQ_FLAG_BUILTIN", B63),
            ("SCX_DSQ_FLAG_LOCAL_ON", 1 << 62),
            ("SCX_DSQ_INVALID", B63),
            ("SCX_DSQ_GLOBAL", B63 | 1),
            ("SCX_DSQ_LOCAL", B63 | 2),
            ("SCX_DSQ_LOCAL_ON", B63 | (1 << 62)),
            ("SCX_DSQ_LOCAL_CPU_MASK", 0xffff_ffff),
        ],
    );
    b.enumeration(
        "scx_consts",
        &[
            ("SCX_DSP_DFL_MAX_BATCH", 32),
            ("SCX_DSP_MAX_LOOPS", 32),
            ("SCX_WATCHDOG_MAX_TIMEOUT", 30 * 1000),
            ("SCX_EXIT_BT_LEN", 64),
            ("SCX_EXIT_MSG_LEN", 1024),
            ("SCX_EXIT_DUMP_DFL_LEN", 32768),
            ("SCX_CPUPERF_ONE", 1024),
            ("SCX_OPS_TASK_ITER_BATCH", 32),
        ],
    );
    b.enumeration(
        "scx_exit_kind",
        &[
            ("SCX_EXIT_NONE", 0),
            ("SCX_EXIT_DONE", 1),
            ("SCX_EXIT_UNREG", 64),
            ("SCX_EXIT_UNREG_BPF", 65),
            ("SCX_EXIT_UNREG_KERN", 66),
            ("SCX_EXIT_SYSRQ", 67),
            ("SCX_EXIT_ERROR", 1024),
            ("SCX_EXIT_ERROR_BPF", 1025),
            ("SCX_EXIT_ERROR_STALL", 1026),
        ],
    );
    b.enumeration(
        "scx_exit_code",
        &[
            ("SCX_ECODE_RSN_HOTPLUG", 1 << 32),
            ("SCX_ECODE_ACT_RESTART", 1 << 48),
        ],
    );
    b.enumeration(
        "scx_ops_flags",
        &[
            ("SCX_OPS_KEEP_BUILTIN_IDLE", 1),
            ("SCX_OPS_ENQ_LAST", 2),
            ("SCX_OPS_ENQ_EXITING", 4),
            ("SCX_OPS_SWITCH_PARTIAL", 8),
            ("SCX_OPS_HAS_CGROUP_WEIGHT", 1 << 16),
            ("SCX_OPS_ALL_FLAGS", 0xf | (1 << 16)),
        ],
    );
    b.enumeration(
        "scx_cpu_preempt_reason",
        &[
            ("SCX_CPU_PREEMPT_RT", 0),
            ("SCX_CPU_PREEMPT_DL", 1),
            ("SCX_CPU_PREEMPT_STOP", 2),
            ("SCX_CPU_PREEMPT_UNKNOWN", 3),
        ],
    );
    b.enumeration(
        "scx_wake_flags",
        &[
            ("SCX_WAKE_FORK", 0x04),
            ("SCX_WAKE_TTWU", 0x08),
            ("SCX_WAKE_SYNC", 0x10),
        ],
    );
    b.enumeration(
        "scx_enq_flags",
        &[
            ("SCX_ENQ_WAKEUP", 0x01),
            ("SCX_ENQ_HEAD", 0x10),
            ("SCX_ENQ_CPU_SELECTED", 0x400),
            ("SCX_ENQ_PREEMPT", 1 << 32),
            ("SCX_ENQ_REENQ", 1 << 40),
            ("SCX_ENQ_LAST", 1 << 41),
            ("__SCX_ENQ_INTERNAL_MASK", 0xff << 56),
            ("SCX_ENQ_CLEAR_OPSS", 1 << 56),
            ("SCX_ENQ_DSQ_PRIQ", 1 << 57),
        ],
    );
    b.enumeration(
        "scx_deq_flags",
        &[("SCX_DEQ_SLEEP", 1), ("SCX_DEQ_CORE_SCHED_EXEC", 1 << 32)],
    );
    b.enumeration("scx_pick_idle_cpu_flags", &[("SCX_PICK_IDLE_CORE", 1)]);
    b.enumeration(
        "scx_kick_flags",
        &[
            ("SCX_KICK_IDLE", 1),
            ("SCX_KICK_PREEMPT", 2),
            ("SCX_KICK_WAIT", 4),
        ],
    );
    b.enumeration(
        "scx_tg_flags",
        &[("SCX_TG_ONLINE", 1), ("SCX_TG_INITED", 2)],
    );
    b.enumeration(
        "scx_ops_state",
        &[
            ("SCX_OPSS_NONE", 0),
            ("SCX_OPSS_QUEUEING", 1),
            ("SCX_OPSS_QUEUED", 2),
            ("SCX_OPSS_DISPATCHING", 3),
            ("SCX_OPSS_QSEQ_SHIFT", 2),
        ],
    );
    b.enumeration(
        "scx_dsq_iter_flags",
        &[
            ("SCX_DSQ_ITER_REV", 1 << 16),
            ("__SCX_DSQ_ITER_HAS_SLICE", 1 << 30),
            ("__SCX_DSQ_ITER_HAS_VTIME", 1 << 31),
            ("__SCX_DSQ_ITER_USER_FLAGS", 1 << 16),
            (
                "__SCX_DSQ_ITER_ALL_FLAGS",
                (1 << 16) | (1 << 30) | (1 << 31),
            ),
        ],
    );
    b.enumeration(
        "scx_ent_flags",
        &[
            ("SCX_TASK_QUEUED", 1),
            ("SCX_TASK_RESET_RUNNABLE_AT", 4),
            ("SCX_TASK_DEQD_FOR_SLEEP", 8),
            ("SCX_TASK_STATE_SHIFT", 8),
            ("SCX_TASK_STATE_BITS", 2),
            ("SCX_TASK_STATE_MASK", 3 << 8),
            ("SCX_TASK_CURSOR", 1 << 31),
        ],
    );
    b.enumeration(
        "scx_task_state",
        &[
            ("SCX_TASK_NONE", 0),
            ("SCX_TASK_INIT", 1),
            ("SCX_TASK_READY", 2),
            ("SCX_TASK_ENABLED", 3),
            ("SCX_TASK_NR_STATES", 4),
        ],
    );
    b.enumeration("scx_ent_dsq_flags", &[("SCX_TASK_DSQ_ON_PRIQ", 1)]);
    b.enumeration(
        "scx_kf_mask",
        &[
            ("SCX_KF_UNLOCKED", 0),
            ("SCX_KF_CPU_RELEASE", 1),
            ("SCX_KF_DISPATCH", 2),
            ("SCX_KF_ENQUEUE", 4),
            ("SCX_KF_SELECT_CPU", 8),
            ("SCX_KF_REST", 16),
            ("__SCX_KF_RQ_LOCKED", 31),
            ("__SCX_KF_TERMINAL", 28),
        ],
    );
    b.enumeration(
        "scx_dsq_lnode_flags",
        &[
            ("SCX_DSQ_LNODE_ITER_CURSOR", 1),
            ("__SCX_DSQ_LNODE_PRIV_SHIFT", 16),
        ],
    );
}

/// Path of a leaf (e.g. `scx.slice`) -> its binding, per window.
fn binding(win: Window, path: &str) -> Option<Binding> {
    use TaskField as T;
    let task = |f| Some(Binding::Task(f));
    match (win, path) {
        (Window::Task, p) => match p {
            "pid" => task(T::Pid),
            "tgid" => task(T::Tgid),
            "flags" => task(T::Flags),
            "__state" => task(T::State),
            "prio" => task(T::Prio),
            "static_prio" => task(T::StaticPrio),
            "normal_prio" => task(T::NormalPrio),
            "rt_priority" => task(T::RtPriority),
            "policy" => task(T::Policy),
            "nr_cpus_allowed" => task(T::NrCpusAllowed),
            "migration_disabled" => task(T::MigrationDisabled),
            "thread_info.cpu" => task(T::Cpu),
            "wake_cpu" => task(T::WakeCpu),
            "on_cpu" => task(T::OnCpu),
            "on_rq" => task(T::OnRq),
            "start_time" => task(T::StartTime),
            "se.sum_exec_runtime" => task(T::SumExecRuntime),
            "se.vruntime" => task(T::Vruntime),
            "se.load.weight" => task(T::LoadWeight),
            "scx.flags" => task(T::ScxFlags),
            "scx.weight" => task(T::ScxWeight),
            "scx.sticky_cpu" => task(T::ScxStickyCpu),
            "scx.holding_cpu" => task(T::ScxHoldingCpu),
            "scx.ops_state.counter" => task(T::ScxOpsState),
            "scx.runnable_at" => task(T::ScxRunnableAt),
            "scx.core_sched_at" => task(T::ScxCoreSchedAt),
            "scx.dsq_seq" => task(T::ScxDsqSeq),
            "scx.dsq_flags" => task(T::ScxDsqFlags),
            "scx.ddsp_dsq_id" => task(T::ScxDdspDsqId),
            "scx.ddsp_enq_flags" => task(T::ScxDdspEnqFlags),
            "scx.slice" => task(T::ScxSlice),
            "scx.dsq_vtime" => task(T::ScxDsqVtime),
            "scx.disallow" => task(T::ScxDisallow),
            "scx.dsq" => Some(Binding::Ptr(PtrField::ScxDsq)),
            "real_parent" => Some(Binding::Ptr(PtrField::RealParent)),
            "parent" => Some(Binding::Ptr(PtrField::Parent)),
            "group_leader" => Some(Binding::Ptr(PtrField::GroupLeader)),
            "comm" => Some(Binding::Comm),
            "cpus_mask.bits" => Some(Binding::TaskMaskWords),
            "cpus_ptr" => Some(Binding::TaskCpusPtr),
            _ => None,
        },
        (Window::Cgroup, p) => match p {
            "level" => Some(Binding::Cgroup(CgroupField::Level)),
            "max_depth" => Some(Binding::Cgroup(CgroupField::MaxDepth)),
            "flags" => Some(Binding::Cgroup(CgroupField::Flags)),
            "self.serial_nr" => Some(Binding::Cgroup(CgroupField::SerialNr)),
            "self.cgroup" => Some(Binding::CgroupSelf),
            "self.parent" => Some(Binding::Ptr(PtrField::CgroupParent)),
            "kn" => Some(Binding::CgroupKn),
            "ancestors" => Some(Binding::CgroupAncestors),
            _ => None,
        },
        (Window::Kernfs, "id") => Some(Binding::Cgroup(CgroupField::Id)),
        (Window::Rq, p) => Some(Binding::Rq(match p {
            "cpu" => RqField::Cpu,
            "online" => RqField::Online,
            "nr_running" => RqField::NrRunning,
            "nr_switches" => RqField::NrSwitches,
            "clock" => RqField::Clock,
            "clock_task" => RqField::ClockTask,
            "scx.nr_running" => RqField::ScxNrRunning,
            "scx.flags" => RqField::ScxFlags,
            "scx.cpuperf_target" => RqField::ScxCpuperfTarget,
            "scx.cpu_released" => RqField::ScxCpuReleased,
            "scx.ops_qseq" => RqField::ScxOpsQseq,
            "scx.local_dsq.nr" => RqField::LocalDsqNr,
            "curr" => return Some(Binding::Ptr(PtrField::RqCurr)),
            "idle" => return Some(Binding::Ptr(PtrField::RqIdle)),
            _ => return None,
        })),
        (Window::Dsq, "id") => Some(Binding::Dsq(DsqField::Id)),
        (Window::Dsq, "nr") => Some(Binding::Dsq(DsqField::Nr)),
        (Window::Dsq, "seq") => Some(Binding::Dsq(DsqField::Seq)),
        (Window::Mask, "bits") => Some(Binding::MaskWords),
        _ => None,
    }
}

/// Size used for unbounded trailing arrays (`ancestors[]`).
const FLEX_SIZE: u32 = 8 * 4096;

impl KernelTypes {
    /// Build the table.
    pub fn new() -> KernelTypes {
        let mut b = Builder::new();
        base_types(&mut b);
        small_structs(&mut b);
        enums(&mut b);
        sched_ext_types(&mut b);
        task_struct(&mut b);
        cgroup_rq_types(&mut b);
        arg_structs(&mut b);
        let mut kt = KernelTypes {
            btf: b.btf,
            windows: BTreeMap::new(),
        };
        for w in [
            Window::Task,
            Window::Cgroup,
            Window::Kernfs,
            Window::Rq,
            Window::Dsq,
            Window::Mask,
        ] {
            let id = kt.btf.find_struct(w.struct_name()).expect("window struct");
            let mut leaves = Vec::new();
            kt.collect_leaves(w, id, 0, "", &mut leaves);
            leaves.sort_by_key(|l| l.off);
            kt.windows.insert(w, leaves);
        }
        kt
    }

    fn collect_leaves(&self, w: Window, ty: u32, base: u32, prefix: &str, out: &mut Vec<Leaf>) {
        for m in self.btf.members(ty) {
            let path = if prefix.is_empty() {
                m.name.clone()
            } else {
                format!("{prefix}.{}", m.name)
            };
            let off = base + m.bit_offset / 8;
            let size = self.btf.size_of(m.ty).unwrap_or(0) as u32;
            if let Some(bind) = binding(w, &path) {
                let (elem, size) = match self.btf.array_info(m.ty) {
                    // comm is served whole by the host.
                    _ if bind == Binding::Comm => (size, size),
                    Some((e, 0)) => (self.btf.size_of(e).unwrap_or(8) as u32, FLEX_SIZE),
                    Some((e, _)) => (self.btf.size_of(e).unwrap_or(1) as u32, size),
                    None => (size, size),
                };
                out.push(Leaf {
                    off,
                    size,
                    elem,
                    bind,
                });
            } else if !self.btf.members(m.ty).is_empty() {
                self.collect_leaves(w, m.ty, off, &path, out);
            }
        }
    }

    /// The backed leaf containing byte `off` of a window, if any.
    pub fn leaf(&self, w: Window, off: u32) -> Option<&Leaf> {
        let leaves = self.windows.get(&w)?;
        let i = leaves.partition_point(|l| l.off <= off).checked_sub(1)?;
        let l = &leaves[i];
        (off < l.off + l.size).then_some(l)
    }

    /// Byte offset of a member path (`scx.slice`) in a named struct.
    pub fn offset_of(&self, strukt: &str, path: &str) -> Option<u32> {
        let mut ty = self.btf.find_struct(strukt)?;
        let mut off = 0;
        for part in path.split('.') {
            let (o, t) = self.btf.member_offset(ty, part)?;
            off += o;
            ty = t;
        }
        Some(off)
    }

    /// Size of a named struct.
    pub fn struct_size(&self, strukt: &str) -> Option<u32> {
        self.btf
            .find_struct(strukt)
            .and_then(|i| self.btf.size_of(i))
            .map(|s| s as u32)
    }
}

impl Default for KernelTypes {
    fn default() -> Self {
        KernelTypes::new()
    }
}

/// How [`c_header`] lays out structs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderLayout {
    /// Exactly the table's layout.
    Sim,
    /// Every struct's members in reverse order with a leading pad: a
    /// deliberately different layout for CO-RE tests.
    Shuffled,
}

/// C declarations for every struct, union-free typedef and enum in the
/// table, each struct marked `preserve_access_index` so field accesses are
/// CO-RE relocated.
pub fn c_header(kt: &KernelTypes, layout: HeaderLayout) -> String {
    let btf = &kt.btf;
    let mut out = String::new();
    out.push_str(
        "/* Generated from scx-bpf's kernel type table (src/vmlinux.rs); do not edit. */\n",
    );
    for (id, t) in btf.types.iter().enumerate() {
        if matches!(t.kind, Kind::Struct { .. }) && !t.name.is_empty() {
            let _ = writeln!(out, "struct {};", t.name);
        }
        let _ = id;
    }
    for t in &btf.types {
        match &t.kind {
            Kind::Typedef(target) if !is_builtin_typedef(&t.name) => {
                let _ = writeln!(out, "typedef {};", decl(btf, *target, &t.name));
            }
            Kind::Enum { values, .. } => {
                let _ = writeln!(out, "enum {} {{", t.name);
                for (n, v) in values {
                    let _ = writeln!(out, "\t{n} = {},", enum_literal(*v));
                }
                out.push_str("};\n");
            }
            _ => {}
        }
    }
    // Structs in dependency order: a struct embedding another by value must
    // come after it.
    let mut done = vec![false; btf.types.len()];
    for id in 0..btf.types.len() as u32 {
        emit_struct(btf, id, layout, &mut done, &mut out);
    }
    out
}

fn is_builtin_typedef(name: &str) -> bool {
    matches!(
        name,
        "bool"
            | "u8"
            | "s8"
            | "u16"
            | "s16"
            | "u32"
            | "s32"
            | "u64"
            | "s64"
            | "__u8"
            | "__u16"
            | "__u32"
            | "__u64"
            | "__s32"
            | "__s64"
    )
}

fn enum_literal(v: i64) -> String {
    if v < 0 || v > u32::MAX as i64 {
        format!("{:#x}ULL", v as u64)
    } else {
        v.to_string()
    }
}

fn emit_struct(btf: &Btf, id: u32, layout: HeaderLayout, done: &mut [bool], out: &mut String) {
    let Some(Type2 { name, members }) = struct_of(btf, id) else {
        return;
    };
    if done[id as usize] {
        return;
    }
    done[id as usize] = true;
    for m in &members {
        let mut inner = btf.skip_mods_and_typedefs(m.ty);
        while let Some((e, _)) = btf.array_info(inner) {
            inner = btf.skip_mods_and_typedefs(e);
        }
        emit_struct(btf, inner, layout, done, out);
    }
    let _ = writeln!(out, "struct {name} {{");
    let mut list: Vec<&Member> = members.iter().collect();
    if layout == HeaderLayout::Shuffled {
        list.reverse();
        let _ = writeln!(out, "\tchar __shuffle_pad[24];");
    }
    for m in list {
        let _ = writeln!(out, "\t{};", decl(btf, m.ty, &m.name));
    }
    out.push_str("} __attribute__((preserve_access_index));\n");
}

struct Type2 {
    name: String,
    members: Vec<Member>,
}

fn struct_of(btf: &Btf, id: u32) -> Option<Type2> {
    let t = btf.get(id)?;
    match &t.kind {
        Kind::Struct { members, .. } if !t.name.is_empty() => Some(Type2 {
            name: t.name.clone(),
            members: members.clone(),
        }),
        _ => None,
    }
}

/// A C declarator for `name` of type `ty`.
fn decl(btf: &Btf, ty: u32, name: &str) -> String {
    let t = match btf.get(ty) {
        Some(t) => t,
        None => return format!("void {name}"),
    };
    match &t.kind {
        Kind::Void => format!("void {name}"),
        Kind::Int { .. } | Kind::Typedef(_) => format!("{} {name}", t.name),
        Kind::Struct { .. } => format!("struct {} {name}", t.name),
        Kind::Enum { .. } => format!("enum {} {name}", t.name),
        Kind::Const(x) => format!("const {}", decl(btf, *x, name)),
        Kind::Ptr(x) => decl(btf, *x, &format!("*{name}")),
        Kind::Array { elem, nelems, .. } => decl(btf, *elem, &format!("{name}[{nelems}]")),
        _ => format!("void {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_builds_and_binds() {
        let kt = KernelTypes::new();
        let slice = kt.offset_of("task_struct", "scx.slice").unwrap();
        let l = kt.leaf(Window::Task, slice).unwrap();
        assert_eq!(l.bind, Binding::Task(TaskField::ScxSlice));
        assert_eq!(l.size, 8);
        let comm = kt.offset_of("task_struct", "comm").unwrap();
        assert_eq!(kt.leaf(Window::Task, comm + 5).unwrap().bind, Binding::Comm);
        let bits = kt.offset_of("task_struct", "cpus_mask").unwrap();
        assert_eq!(
            kt.leaf(Window::Task, bits + 8).unwrap().bind,
            Binding::TaskMaskWords
        );
        let anc = kt.offset_of("cgroup", "ancestors").unwrap();
        assert_eq!(
            kt.leaf(Window::Cgroup, anc + 16).unwrap().bind,
            Binding::CgroupAncestors
        );
        assert_eq!(kt.struct_size("bpf_iter_scx_dsq"), Some(48));
        assert!(kt.offset_of("task_struct", "scx.dsq_vtime").is_some());
        assert!(kt.offset_of("sched_ext_entity", "dsq_list").is_some());
    }

    #[test]
    fn header_mentions_everything() {
        let kt = KernelTypes::new();
        let h = c_header(&kt, HeaderLayout::Sim);
        assert!(h.contains("struct task_struct {"));
        assert!(h.contains("SCX_DSQ_LOCAL_ON = 0xc000000000000000ULL"));
        assert!(h.contains("const cpumask_t *cpus_ptr;"));
        assert!(
            h.find("struct sched_ext_entity {").unwrap() < h.find("struct task_struct {").unwrap()
        );
        let s = c_header(&kt, HeaderLayout::Shuffled);
        assert!(s.contains("__shuffle_pad"));
    }
}
