//! Task conservation (DESIGN.md "Nothing is ever lost", core issue): a
//! property test over random workloads (every kind of workload step, random
//! task counts, nice values, affinities, policies including FIFO/RR/BATCH/
//! IDLE/EXT, cgroups and cgroup weight changes, CPU hotplug), random
//! topologies (flat
//! 1-8 CPUs and structured NODESxLLCSxCORESxTHREADS ones), random seeds and
//! kernel knobs, and every built-in scheduler with random valid flags of
//! its real tool, attached and detached at random times.
//!
//! What it proves:
//! * the kernel's own whole-state check (`Kernel::check_conservation`) runs
//!   after every event of every case (it is switched on explicitly, and a
//!   corrupted state is shown to make it fail), and never fires;
//! * at the end of each case, checked independently of that code from the
//!   public state: every live task is in exactly one place (running on one
//!   CPU, queued on one fair/RT runqueue, linked on one DSQ, owned by the
//!   BPF scheduler — and then really in that scheduler's own queues where
//!   the scheduler has them — on a deferred-dispatch list, or held by a
//!   migrating CPU) if runnable, and in none if blocked or dead;
//! * no pid is lost: every task the event stream announced is either alive
//!   under its pid or has exited; tasks alive = tasks created − tasks
//!   exited, and the kernel's fork counter is the number created; every
//!   parent's live-children count matches its living children;
//! * after the scheduler is unregistered, every task is back in the fair
//!   (or RT) class and every DSQ is empty (ext.c `scx_ops_disable_workfn`).
//!
//! The whole space is `every_task_is_always_in_exactly_one_place`, ignored
//! while two simulator bugs break it (each with a deterministic regression
//! test below); the two parts of the space those bugs cannot reach (one
//! CPU with every scheduler; every topology without a scheduler, both
//! without RT priority changes) run by default. `PROPTEST_CASES=N` searches
//! deeper.
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError};
use scx_kernel::config::KernelConfig;
use scx_kernel::consts::{PF_EXITING, SCX_DSQ_LOCAL, SCX_OPSS_QUEUED, SCX_SLICE_DFL};
use scx_kernel::ext::EnableState;
use scx_kernel::ops::{Cx, OpsInfo, Scheduler, Task};
use scx_kernel::task::{Class, TaskState, Tid};
use scx_kernel::Kernel;
use scx_machine::clock::{Ns, NSEC_PER_MSEC, NSEC_PER_USEC};
use scx_machine::{Cpumask, Topology};
use scx_observe::{Event, Op, Sink};
use scx_scheds::central::Central;
use scx_scheds::qmap::Qmap;
use scx_scheds::tool::{make_tool, with_sched};
use scx_workload::{
    BarrierSpec, CgroupSpec, Policy, Repeat, Step, TaskSpec, TimedAction, TimerMode, TimerSpec,
    Workload,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;

const MS: Ns = NSEC_PER_MSEC;
const US: Ns = NSEC_PER_USEC;

// ----------------------------------------------------------------------
// Shared objects every generated workload has.

const NR_CONDS: usize = 3;
const NR_MUTEXES: usize = 2;
const NR_TEMPLATES: usize = 3;
const NR_CGROUPS: usize = 2;

// ----------------------------------------------------------------------
// Generators.

/// What a generated step may refer to.
#[derive(Clone, Copy, Debug)]
struct Gen {
    nr_cpus: usize,
    /// Templates `fork_from..NR_TEMPLATES` may be forked (templates only
    /// fork later templates, so fork trees are finite).
    fork_from: usize,
    /// Inside a loop: forks are always followed by `WaitChildren`, so the
    /// number of live tasks stays bounded.
    in_loop: bool,
    /// `SetPolicy` may switch to `SCHED_FIFO`/`SCHED_RR` (and so change an
    /// RT task's priority while it runs).
    rt_changes: bool,
}

fn mask(nr_cpus: usize) -> impl Strategy<Value = Cpumask> {
    (1u64..(1u64 << nr_cpus))
        .prop_map(|bits| Cpumask::from_cpus((0..64).filter(|c| bits >> c & 1 == 1)))
}

/// RT priorities stay below 50, the priority of the kernel's own
/// `scx_ops_helper` kthread (`sched_set_fifo()` = `MAX_RT_PRIO / 2`): an RT
/// hog above it starves the disable work on a real kernel too, and then
/// the scheduler can never be detached.
fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        4 => Just(Policy::Normal),
        1 => Just(Policy::Batch),
        1 => Just(Policy::Idle),
        3 => Just(Policy::Ext),
        1 => (1u32..=49).prop_map(Policy::Fifo),
        1 => (1u32..=49).prop_map(Policy::Rr),
    ]
}

fn range(lo: Ns, hi: Ns) -> impl Strategy<Value = (Ns, Ns)> {
    (lo..=hi, lo..=hi).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

/// One step or a short block of steps that belong together.
fn block(g: Gen) -> BoxedStrategy<Vec<Step>> {
    let c = 0..NR_CONDS;
    let m = 0..NR_MUTEXES;
    let mut choices: Vec<(u32, BoxedStrategy<Vec<Step>>)> = vec![
        (
            8,
            (10 * US..=3 * MS).prop_map(|d| vec![Step::Run(d)]).boxed(),
        ),
        (
            2,
            range(10 * US, 2 * MS)
                .prop_map(|(min, max)| vec![Step::RunRange { min, max }])
                .boxed(),
        ),
        (
            1,
            (10 * US..=2 * MS)
                .prop_map(|d| vec![Step::RunWall(d)])
                .boxed(),
        ),
        (
            5,
            (10 * US..=5 * MS)
                .prop_map(|d| vec![Step::Sleep(d)])
                .boxed(),
        ),
        (
            2,
            range(10 * US, 4 * MS)
                .prop_map(|(min, max)| vec![Step::SleepRange { min, max }])
                .boxed(),
        ),
        (1, Just(vec![Step::Timer(0)]).boxed()),
        (2, Just(vec![Step::Yield]).boxed()),
        (2, c.clone().prop_map(|c| vec![Step::Suspend(c)]).boxed()),
        (3, c.clone().prop_map(|c| vec![Step::Resume(c)]).boxed()),
        (
            1,
            (c.clone(), m.clone())
                .prop_map(|(cond, mutex)| {
                    vec![
                        Step::Lock(mutex),
                        Step::Wait { cond, mutex },
                        Step::Unlock(mutex),
                    ]
                })
                .boxed(),
        ),
        (1, c.clone().prop_map(|c| vec![Step::Signal(c)]).boxed()),
        (1, c.clone().prop_map(|c| vec![Step::Broadcast(c)]).boxed()),
        (
            1,
            (c.clone(), c, m.clone())
                .prop_map(|(signal, wait, mutex)| {
                    vec![
                        Step::Lock(mutex),
                        Step::SignalWait {
                            signal,
                            wait,
                            mutex,
                        },
                        Step::Unlock(mutex),
                    ]
                })
                .boxed(),
        ),
        (
            2,
            (m, 10 * US..=MS)
                .prop_map(|(mutex, d)| vec![Step::Lock(mutex), Step::Run(d), Step::Unlock(mutex)])
                .boxed(),
        ),
        (1, Just(vec![Step::Barrier(0)]).boxed()),
        (1, Just(vec![Step::Exec("exec'd".into())]).boxed()),
        (
            2,
            mask(g.nr_cpus).prop_map(|m| vec![Step::SetCpus(m)]).boxed(),
        ),
        (
            2,
            (-20i32..=19).prop_map(|n| vec![Step::SetNice(n)]).boxed(),
        ),
        (
            2,
            policy()
                .prop_filter("no RT policy changes", move |p| g.rt_changes || !p.is_rt())
                .prop_map(|p| vec![Step::SetPolicy(p)])
                .boxed(),
        ),
        (
            1,
            (0..NR_CGROUPS)
                .prop_map(|c| vec![Step::SetCgroup(c)])
                .boxed(),
        ),
        (
            2,
            (10 * US..=MS, proptest::bool::ANY)
                .prop_map(|(d, sleep)| {
                    let inner = if sleep { Step::Sleep(d) } else { Step::Run(d) };
                    vec![Step::MigrateDisable, inner, Step::MigrateEnable]
                })
                .boxed(),
        ),
        (1, Just(vec![Step::Exit]).boxed()),
    ];
    if g.fork_from < NR_TEMPLATES {
        let in_loop = g.in_loop;
        choices.push((
            3,
            (g.fork_from..NR_TEMPLATES, 1usize..=2, proptest::bool::ANY)
                .prop_map(move |(t, n, wait)| {
                    let mut v = vec![Step::Fork(t); n];
                    if wait || in_loop {
                        v.push(Step::WaitChildren);
                    }
                    v
                })
                .boxed(),
        ));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

/// A straight sequence of blocks, possibly with one nested finite loop.
fn program(g: Gen, max_blocks: usize) -> BoxedStrategy<Vec<Step>> {
    let flat = proptest::collection::vec(block(g), 1..=max_blocks)
        .prop_map(|bs| bs.into_iter().flatten().collect::<Vec<_>>());
    let inner = Gen { in_loop: true, ..g };
    let nested = (
        proptest::collection::vec(block(g), 0..=2),
        1u64..=4,
        proptest::collection::vec(block(inner), 1..=3),
    )
        .prop_map(|(pre, n, body)| {
            let mut v: Vec<Step> = pre.into_iter().flatten().collect();
            v.push(Step::Loop {
                repeat: Repeat::Times(n),
                body: body.into_iter().flatten().collect(),
            });
            v
        });
    prop_oneof![3 => flat, 1 => nested].boxed()
}

/// A boot task: its program runs once, or (mostly) for ever.
fn boot_task(nr_cpus: usize, i: usize, rt_changes: bool) -> impl Strategy<Value = TaskSpec> {
    let g = Gen {
        nr_cpus,
        fork_from: 0,
        in_loop: false,
        rt_changes,
    };
    let looping = Gen { in_loop: true, ..g };
    (
        prop_oneof![1 => program(g, 6), 3 => program(looping, 6).prop_map(|body| vec![Step::Loop { repeat: Repeat::Forever, body }])],
        1u32..=2,
        policy(),
        -20i32..=19,
        proptest::option::weighted(0.3, mask(nr_cpus)),
        proptest::option::weighted(0.3, 0..NR_CGROUPS),
        prop_oneof![2 => Just(0), 1 => 0..=60 * MS],
        proptest::bool::ANY,
    )
        .prop_map(
            move |(program, instances, policy, nice, cpus, cgroup, start_delay, same_process)| {
                TaskSpec {
                    name: format!("w{i}"),
                    instances,
                    policy,
                    nice,
                    cpus,
                    cgroup,
                    start_delay,
                    same_process,
                    program,
                }
            },
        )
}

fn template(nr_cpus: usize, i: usize, rt_changes: bool) -> impl Strategy<Value = TaskSpec> {
    let g = Gen {
        nr_cpus,
        fork_from: i + 1,
        in_loop: false,
        rt_changes,
    };
    program(g, 4).prop_map(move |p| TaskSpec::new(&format!("child{i}"), p))
}

fn workload(nr_cpus: usize, duration: Ns, rt_changes: bool) -> impl Strategy<Value = Workload> {
    let tasks = (1usize..=6).prop_flat_map(move |n| {
        (0..n)
            .map(|i| boot_task(nr_cpus, i, rt_changes))
            .collect::<Vec<_>>()
    });
    let templates = (0..NR_TEMPLATES)
        .map(|i| template(nr_cpus, i, rt_changes))
        .collect::<Vec<_>>();
    let cgroups = (1u32..=10000, 1u32..=10000, proptest::bool::ANY).prop_map(|(a, b, nested)| {
        vec![
            CgroupSpec {
                path: "/a".into(),
                parent: None,
                weight: a,
            },
            CgroupSpec {
                path: if nested { "/a/b" } else { "/b" }.into(),
                parent: nested.then_some(0),
                weight: b,
            },
        ]
    });
    let weights = proptest::collection::vec((0..duration, 0..NR_CGROUPS, 1u32..=10000), 0..=2)
        .prop_map(|v| {
            v.into_iter()
                .map(|(at, g, w)| (at, TimedAction::CgroupWeight(g, w)))
                .collect::<Vec<_>>()
        });
    // CPU hotplug: some CPUs other than 0 (so one always stays online) go
    // offline at a random time and maybe come back later.
    let hotplug = proptest::collection::btree_set(1..nr_cpus.max(2), 0..=2)
        .prop_flat_map(move |cpus| {
            let cpus: Vec<usize> = cpus.into_iter().filter(|c| *c < nr_cpus).collect();
            let n = cpus.len();
            (
                Just(cpus),
                proptest::collection::vec((0..duration, proptest::option::of(0..duration)), n),
            )
        })
        .prop_map(move |(cpus, times)| {
            let mut v = Vec::new();
            for (cpu, (down, up)) in cpus.into_iter().zip(times) {
                v.push((down, TimedAction::CpuOffline(cpu)));
                if let Some(up) = up {
                    v.push((
                        down + 1 + up % (duration - down),
                        TimedAction::CpuOnline(cpu),
                    ));
                }
            }
            v
        });
    let actions = (weights, hotplug).prop_map(|(mut w, h)| {
        w.extend(h);
        w.sort_by_key(|(at, _)| *at);
        w
    });
    let timer = (MS..=5 * MS, proptest::bool::ANY, proptest::bool::ANY).prop_map(
        |(period, absolute, shared)| TimerSpec {
            name: "tick".into(),
            period,
            mode: if absolute {
                TimerMode::Absolute
            } else {
                TimerMode::Relative
            },
            shared,
        },
    );
    (tasks, templates, cgroups, actions, timer, 2u32..=3).prop_map(
        move |(tasks, templates, cgroups, actions, timer, parties)| {
            let w = Workload {
                name: "random".into(),
                tasks,
                templates,
                conds: (0..NR_CONDS).map(|i| format!("c{i}")).collect(),
                mutexes: (0..NR_MUTEXES).map(|i| format!("m{i}")).collect(),
                barriers: vec![BarrierSpec {
                    name: "b".into(),
                    parties,
                }],
                timers: vec![timer],
                cgroups,
                actions,
                ..Default::default()
            };
            w.validate(nr_cpus).expect("generated workloads are valid");
            w
        },
    )
}

/// Topologies of at most 8 CPUs: flat, or NUMA × LLC × core × SMT.
fn topology() -> impl Strategy<Value = Topology> {
    prop_oneof![
        (1usize..=8).prop_map(|n| Topology::flat(n).unwrap()),
        (1usize..=2, 1usize..=2, 1usize..=2, 1usize..=2)
            .prop_map(|(a, b, c, d)| Topology::new(a, b, c, d).unwrap()),
        Just(Topology::parse("laptop").unwrap()),
    ]
}

/// A built-in scheduler with random valid flags of its real tool.
fn scheduler(nr_cpus: usize) -> impl Strategy<Value = (String, Vec<String>)> {
    let opt = |flag: &'static str, v: std::ops::RangeInclusive<u64>| {
        proptest::option::weighted(0.3, v).prop_map(move |o| {
            o.map(|n| vec![flag.to_string(), n.to_string()])
                .unwrap_or_default()
        })
    };
    let sw = |flag: &'static str| {
        proptest::bool::weighted(0.3).prop_map(
            move |b| {
                if b {
                    vec![flag.to_string()]
                } else {
                    vec![]
                }
            },
        )
    };
    let simple = (sw("-f"), sw("-v")).prop_map(|(a, b)| ("simple".to_string(), [a, b].concat()));
    let qmap = (
        (
            opt("-s", 100..=20_000),
            opt("-b", 1..=8),
            sw("-H"),
            sw("-P"),
        ),
        (
            sw("-S"),
            sw("-p"),
            opt("-e", 20..=3000),
            opt("-l", 20..=2000),
        ),
        (
            opt("-t", 2..=20),
            opt("-T", 2..=20),
            opt("-d", 1..=40),
            opt("-D", 0..=4096),
        ),
    )
        .prop_map(|((a, b, c, d), (e, f, g, h), (i, j, k, l))| {
            let args = [a, b, c, d, e, f, g, h, i, j, k, l].concat();
            ("qmap".to_string(), args)
        });
    let central = (opt("-s", 100..=20_000), opt("-c", 0..=nr_cpus as u64 - 1))
        .prop_map(|(a, b)| ("central".to_string(), [a, b].concat()));
    let flatcg = (
        proptest::option::weighted(0.3, 100u64..=20_000),
        sw("-f"),
        sw("-d"),
    )
        .prop_map(|(s, f, d)| {
            let mut args = s
                .map(|us| vec!["-s".to_string(), us.to_string()])
                .unwrap_or_default();
            args.extend(f);
            args.extend(d);
            ("flatcg".to_string(), args)
        });
    prop_oneof![simple, qmap, central, flatcg]
}

/// One attach/detach cycle of the loader.
#[derive(Clone, Debug)]
struct Cycle {
    /// Delay after the previous cycle (or boot) before attaching.
    gap: Ns,
    /// How long the scheduler stays attached; `None` = until the end.
    hold: Option<Ns>,
}

#[derive(Clone, Debug)]
struct Case {
    topo: Topology,
    seed: u64,
    sched: String,
    args: Vec<String>,
    kernel: KernelConfig,
    workload: Workload,
    cycles: Vec<Cycle>,
    duration: Ns,
}

fn kernel_config(nr_cpus: usize) -> impl Strategy<Value = KernelConfig> {
    (
        prop_oneof![Just(1000u32), Just(250), Just(100)],
        proptest::bool::ANY,
        proptest::bool::ANY,
        proptest::option::weighted(0.2, mask(nr_cpus)),
        prop_oneof![Just(32u32), Just(1), Just(4)],
    )
        .prop_map(|(hz, housekeeping, rcu, nohz_full, batch)| {
            let mut k = KernelConfig::default();
            k.set("hz", &hz.to_string()).unwrap();
            if !housekeeping {
                k.housekeeping_period = 0;
            }
            if !rcu {
                k.rcu_period = 0;
            }
            if let Some(m) = nohz_full {
                k.nohz_full = m;
            }
            k.dsp_max_batch = batch;
            k
        })
}

/// Which part of the space a property test explores.
#[derive(Clone, Copy, Debug)]
struct Space {
    /// The machines.
    topo: fn() -> BoxedStrategy<Topology>,
    /// Whether a scheduler is attached at all.
    attach: bool,
    /// Whether running tasks may change to another RT priority.
    rt_changes: bool,
}

fn one_cpu() -> BoxedStrategy<Topology> {
    Just(Topology::flat(1).unwrap()).boxed()
}

fn any_topology() -> BoxedStrategy<Topology> {
    topology().boxed()
}

fn case(space: Space) -> impl Strategy<Value = Case> {
    ((space.topo)(), 100 * MS..=600 * MS).prop_flat_map(move |(topo, duration)| {
        let n = topo.nr_cpus();
        let cycle = (
            0..=80 * MS,
            proptest::option::weighted(0.6, 5 * MS..=150 * MS),
        )
            .prop_map(|(gap, hold)| Cycle { gap, hold });
        let cycles = if space.attach {
            proptest::collection::vec(cycle, 1..=3).boxed()
        } else {
            Just(Vec::new()).boxed()
        };
        (
            Just(topo),
            any::<u64>(),
            scheduler(n),
            kernel_config(n),
            workload(n, duration, space.rt_changes),
            cycles,
            Just(duration),
        )
            .prop_map(
                |(topo, seed, (sched, args), kernel, workload, cycles, duration)| Case {
                    topo,
                    seed,
                    sched,
                    args,
                    kernel,
                    workload,
                    cycles,
                    duration,
                },
            )
    })
}

// ----------------------------------------------------------------------
// The event-stream ledger: what tasks were created and which exited.

#[derive(Default)]
struct Ledger {
    /// tid → (pid, parent) of every task announced by `TaskNew` (idle
    /// tasks excluded).
    created: BTreeMap<Tid, (u32, Option<Tid>)>,
    /// Tasks that called `do_exit()`, in order (duplicates kept, to catch
    /// a task exiting twice).
    exits: Vec<Tid>,
}

#[derive(Clone, Default)]
struct LedgerSink(Rc<RefCell<Ledger>>);

impl Sink for LedgerSink {
    fn event(&mut self, _t: u64, ev: &Event) {
        match ev {
            Event::TaskNew {
                tid,
                pid,
                parent,
                idle_cpu: None,
                ..
            } => {
                let dup = self.0.borrow_mut().created.insert(*tid, (*pid, *parent));
                assert!(dup.is_none(), "TaskNew twice for tid {tid}");
            }
            Event::TaskExit { tid } => self.0.borrow_mut().exits.push(*tid),
            _ => {}
        }
    }
}

// ----------------------------------------------------------------------
// The end-of-case checks, from public state only.

/// Where each task is, counted over every structure that can hold it.
fn places(k: &Kernel) -> BTreeMap<Tid, Vec<String>> {
    let mut at: BTreeMap<Tid, Vec<String>> = BTreeMap::new();
    let mut put = |t: Tid, what: String| at.entry(t).or_default().push(what);
    for rq in &k.rqs {
        if !k.task(rq.curr).is_idle() {
            put(rq.curr, format!("running on CPU {}", rq.cpu));
        }
        for t in rq.cfs.tree.values() {
            put(*t, format!("fair rq of CPU {}", rq.cpu));
        }
        for t in rq.rt.queue.values() {
            put(*t, format!("RT rq of CPU {}", rq.cpu));
        }
    }
    for (i, d) in k.scx.dsqs.arena.iter().enumerate() {
        for t in k.scx.dsqs.tasks(i as u32) {
            put(t, format!("DSQ {:#x} ({:?})", d.id, d.kind));
        }
    }
    for t in &k.tasks {
        if t.is_idle() || t.freed {
            continue;
        }
        if t.scx.opss() == SCX_OPSS_QUEUED {
            put(t.tid, "owned by the BPF scheduler".into());
        }
        if t.scx.on_ddsp_deferred {
            put(t.tid, "deferred direct dispatch".into());
        }
        if t.scx.holding_cpu >= 0 {
            put(t.tid, format!("held by CPU {}", t.scx.holding_cpu));
        }
    }
    at
}

/// PIDs the attached scheduler holds in its own (BPF map) queues, plus the
/// ones sitting in a CPU's dispatch buffer; `None` when the scheduler keeps
/// no such queue we can read, or deliberately loses tasks (qmap `-t`/`-T`).
fn bpf_side_pids(k: &mut Kernel, sched: &str, args: &[String]) -> Option<BTreeSet<u32>> {
    let mut pids: BTreeSet<u32> = BTreeSet::new();
    for rq in &k.rqs {
        for e in &rq.scx.dsp_buf {
            pids.insert(k.task(e.task).pid);
        }
    }
    let theirs: Option<Vec<u32>> = match sched {
        "qmap" if !args.iter().any(|a| a == "-t" || a == "-T") => with_sched(k, |q: &Qmap| {
            q.queues.iter().flat_map(|q| q.iter().copied()).collect()
        }),
        "central" => with_sched(k, |c: &Central| {
            c.central_q.iter().map(|p| *p as u32).collect()
        }),
        _ => None,
    };
    pids.extend(theirs?);
    Some(pids)
}

fn check_final_state(
    k: &mut Kernel,
    ledger: &Ledger,
    sched: &str,
    args: &[String],
) -> Result<(), String> {
    let at = places(k);
    let bpf = bpf_side_pids(k, sched, args);
    // scx_simple and scx_flatcg dispatch every task from ops.enqueue()
    // (direct dispatch): they never own a task.
    let never_owns = matches!(sched, "simple" | "flatcg");
    for t in k.tasks.iter().filter(|t| !t.is_idle() && !t.freed) {
        let here = at.get(&t.tid).cloned().unwrap_or_default();
        let running = k.rqs[t.cpu].curr == t.tid;
        let who = format!("{}[{}] ({:?}, {:?})", t.comm, t.pid, t.state, t.class);
        if t.on_rq {
            if here.len() != 1 {
                return Err(format!(
                    "runnable task {who} is in {} places: {here:?}",
                    here.len()
                ));
            }
        } else if running {
            // Blocked or dead but not yet switched out: only on its CPU.
            if here.len() != 1 {
                return Err(format!("current task {who} off the rq is also in {here:?}"));
            }
        } else if !here.is_empty() {
            return Err(format!("task {who} is not queued but is in {here:?}"));
        } else if t.state == TaskState::Running && !t.waking {
            return Err(format!("task {who} is runnable but nowhere"));
        }
        if t.state == TaskState::Dead && t.on_rq && !running {
            return Err(format!("dead task {who} still queued"));
        }
        if t.class != Class::Ext && (t.scx.dsq.is_some() || t.scx.opss() != 0) {
            return Err(format!("non-ext task {who} on a DSQ or owned by BPF"));
        }
        if t.scx.opss() == SCX_OPSS_QUEUED {
            if never_owns {
                return Err(format!("{sched} never owns tasks, but owns {who}"));
            }
            if let Some(pids) = &bpf {
                if !pids.contains(&t.pid) {
                    return Err(format!(
                        "{who} is owned by {sched} but in none of its queues"
                    ));
                }
            }
        }
    }

    // No pid lost; live = created - exited.
    let exited: BTreeSet<Tid> = ledger.exits.iter().copied().collect();
    if exited.len() != ledger.exits.len() {
        return Err(format!("a task exited twice: {:?}", ledger.exits));
    }
    for tid in &exited {
        if !ledger.created.contains_key(tid) {
            return Err(format!("tid {tid} exited but was never created"));
        }
    }
    let mut alive = 0usize;
    for (tid, (pid, _)) in &ledger.created {
        let t = k.task(*tid);
        if t.pid != *pid {
            return Err(format!("tid {tid} changed pid {pid} -> {}", t.pid));
        }
        if exited.contains(tid) {
            if t.flags & PF_EXITING == 0 {
                return Err(format!("{}[{pid}] exited without PF_EXITING", t.comm));
            }
            continue;
        }
        alive += 1;
        if t.freed || t.state == TaskState::Dead || t.flags & PF_EXITING != 0 {
            return Err(format!(
                "{}[{pid}] never exited but is gone (freed={} state={:?})",
                t.comm, t.freed, t.state
            ));
        }
        if k.task_by_pid(*pid) != Some(*tid) {
            return Err(format!("pid {pid} of a live task is not in the pid table"));
        }
    }
    let live_in_kernel = k
        .tasks
        .iter()
        .filter(|t| !t.is_idle() && t.flags & PF_EXITING == 0 && !t.freed)
        .count();
    if live_in_kernel != alive {
        return Err(format!(
            "{live_in_kernel} live tasks in the kernel, but {} created - {} exited = {alive}",
            ledger.created.len(),
            exited.len()
        ));
    }
    if k.stats.forks != ledger.created.len() as u64 {
        return Err(format!(
            "kernel counted {} forks, the event stream {} new tasks",
            k.stats.forks,
            ledger.created.len()
        ));
    }
    let unfreed = k.tasks.iter().filter(|t| !t.is_idle() && !t.freed).count();
    if k.pids.len() != unfreed {
        return Err(format!(
            "{} pids in the table, {unfreed} unfreed tasks",
            k.pids.len()
        ));
    }
    // Every parent's live_children is its children that have not died.
    let mut children: BTreeMap<Tid, u32> = BTreeMap::new();
    for (tid, (_, parent)) in &ledger.created {
        let c = k.task(*tid);
        if let Some(p) = parent {
            if c.state != TaskState::Dead && !c.freed {
                *children.entry(*p).or_default() += 1;
            }
        }
    }
    for t in k.tasks.iter().filter(|t| !t.is_idle() && !t.freed) {
        let want = children.get(&t.tid).copied().unwrap_or(0);
        if t.live_children != want {
            return Err(format!(
                "{}[{}] has live_children={} but {want} living children",
                t.comm, t.pid, t.live_children
            ));
        }
    }
    Ok(())
}

/// After the scheduler is gone: nothing in sched_ext any more.
fn check_unregistered(k: &Kernel) -> Result<(), String> {
    if k.scx.enable_state != EnableState::Disabled {
        return Err(format!(
            "enable state {:?} after disable",
            k.scx.enable_state
        ));
    }
    for t in k.tasks.iter().filter(|t| !t.is_idle() && !t.freed) {
        if t.class == Class::Ext {
            return Err(format!("{}[{}] still in the ext class", t.comm, t.pid));
        }
    }
    for d in &k.scx.dsqs.arena {
        if d.nr != 0 {
            return Err(format!("DSQ {:#x} still holds {} tasks", d.id, d.nr));
        }
    }
    Ok(())
}

// ----------------------------------------------------------------------
// Running a case.

/// Steps until `done` or `limit`; returns whether `done` held.
fn step_until(k: &mut Kernel, limit: Ns, done: impl Fn(&Kernel) -> bool) -> bool {
    while !done(k) && k.halted().is_none() {
        match k.next_event_time() {
            Some(t) if t <= limit => k.step(),
            _ => break,
        }
    }
    done(k)
}

/// Events one case may process before it is cut short (keeps the slowest
/// random cases, e.g. yield storms on 8 CPUs, to a fraction of a second).
const EVENTS_MAX: u64 = 400_000;

/// Runs until `t` in 5 ms slices; once the case has used up
/// [`EVENTS_MAX`], it ends here instead (`end` becomes now).
fn run_to(k: &mut Kernel, t: Ns, end: &mut Ns) {
    while k.now < t && k.halted().is_none() {
        if k.stats.events >= EVENTS_MAX {
            *end = k.now;
            return;
        }
        let next = (k.now + 5 * MS).min(t);
        k.run_until(next);
    }
}

fn run_case(c: &Case) -> Result<(), TestCaseError> {
    let mut k = Kernel::new(c.kernel.clone(), c.topo.clone(), c.seed);
    k.check_invariants = true;
    let ledger = LedgerSink::default();
    k.set_sink(Box::new(ledger.clone()));
    k.boot(Some(Arc::new(c.workload.clone())), c.seed)
        .map_err(|e| TestCaseError::fail(format!("boot: {e}")))?;
    let mut tool = make_tool(&c.sched, &c.args)
        .map_err(|e| TestCaseError::fail(format!("{} {:?}: {e:?}", c.sched, c.args)))?;
    let mut end = c.duration;
    // disable_seq before the last attach, while that instance may still be
    // enabled (or enabling).
    let mut live: Option<u64> = None;
    for cy in &c.cycles {
        let at = (k.now + cy.gap).min(end);
        run_to(&mut k, at, &mut end);
        if k.now >= end || k.halted().is_some() {
            break;
        }
        let seq = k.scx.disable_seq;
        let s = tool.scheduler(&k, false);
        k.attach(s)
            .map_err(|e| TestCaseError::fail(format!("load: {e}")))?;
        live = Some(seq);
        if !step_until(&mut k, end, |k| k.attach_result().is_some()) {
            break;
        }
        let until = cy.hold.map_or(end, |h| (k.now + h).min(end));
        while k.now < until && k.scx.disable_seq == seq && k.halted().is_none() {
            let next = (k.now + 20 * MS).min(until);
            run_to(&mut k, next, &mut end);
            let _ = tool.stats(&mut k);
            if k.now >= end {
                break;
            }
        }
        if k.halted().is_some() {
            break;
        }
        if k.scx.disable_seq == seq && k.now < end {
            k.detach();
            let grace = k.now + 2000 * MS;
            prop_assert!(
                step_until(&mut k, grace, |k| k.scx.disable_seq > seq),
                "disable did not complete"
            );
        }
        if k.scx.disable_seq > seq {
            live = None;
        }
    }
    if k.now < end && k.halted().is_none() {
        run_to(&mut k, end, &mut end);
    }
    let check = |k: &mut Kernel| check_final_state(k, &ledger.0.borrow(), &c.sched, &c.args);
    check(&mut k).map_err(TestCaseError::fail)?;
    if k.halted().is_some() {
        return Ok(());
    }
    if let Some(seq) = live.filter(|s| k.scx.disable_seq == *s) {
        // The loader's SIGINT at the end of the run.
        let limit = k.now + 2000 * MS;
        step_until(&mut k, limit, |k| k.attach_result().is_some());
        k.detach();
        let limit = k.now + 2000 * MS;
        prop_assert!(
            step_until(&mut k, limit, |k| k.scx.disable_seq > seq),
            "final disable did not complete"
        );
        check(&mut k).map_err(TestCaseError::fail)?;
    }
    check_unregistered(&k).map_err(TestCaseError::fail)?;
    // Some more time in the fair class only.
    let t = k.now + 20 * MS;
    k.run_until(t);
    check(&mut k).map_err(TestCaseError::fail)?;
    Ok(())
}

/// Cases per run: `PROPTEST_CASES` if set (for deeper searches), else a
/// number that keeps this file to a few seconds in a debug build.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

fn config() -> Config {
    Config {
        cases: cases(),
        max_shrink_iters: 200,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The whole space: random workload × topology (1-8 CPUs, flat and
    /// NUMA/SMT) × scheduler and flags × attach/detach times.
    #[test]
    fn every_task_is_always_in_exactly_one_place(c in case(Space {
        topo: any_topology,
        attach: true,
        rt_changes: true,
    })) {
        run_case(&c)?;
    }

    /// Every scheduler and every workload step on one CPU (where no other
    /// CPU can wake a task in the middle of its switch-out), without RT
    /// priority changes of running tasks.
    #[test]
    fn every_scheduler_on_one_cpu_conserves_tasks(c in case(Space {
        topo: one_cpu,
        attach: true,
        rt_changes: false,
    })) {
        run_case(&c)?;
    }

    /// Every topology with the kernel's own classes only (fair, RT, idle;
    /// no scheduler attached), without RT priority changes of running
    /// tasks.
    #[test]
    fn every_topology_without_scheduler_conserves_tasks(c in case(Space {
        topo: any_topology,
        attach: false,
        rt_changes: false,
    })) {
        run_case(&c)?;
    }
}

// ----------------------------------------------------------------------
// The checks can fail.

fn small_machine() -> Kernel {
    let mut w = Workload::default();
    w.tasks.push(
        TaskSpec::new(
            "loop",
            vec![Step::Loop {
                repeat: Repeat::Forever,
                body: vec![Step::Run(2 * MS), Step::Sleep(MS)],
            }],
        )
        .instances(3),
    );
    let mut k = Kernel::new(KernelConfig::default(), Topology::flat(2).unwrap(), 1);
    k.boot(Some(Arc::new(w)), 1).unwrap();
    k
}

/// The kernel switches its whole-state check on by itself in debug builds
/// (this test binary is one), and the check notices a task linked on a DSQ
/// while it sleeps.
#[test]
fn kernel_invariant_check_is_on_and_catches_a_corrupt_state() {
    let mut k = small_machine();
    assert_eq!(k.check_invariants, cfg!(debug_assertions));
    k.run_until(30 * MS);
    k.check_conservation();
    let sleeper = k
        .tasks
        .iter()
        .find(|t| t.comm == "loop" && t.state == TaskState::Sleeping && !t.on_rq)
        .or_else(|| k.tasks.iter().find(|t| t.comm == "kthreadd"))
        .map(|t| t.tid)
        .unwrap();
    k.tasks[sleeper as usize].scx.dsq = Some(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| k.check_conservation()));
    assert!(
        r.is_err(),
        "check_conservation accepted a sleeping task on a DSQ"
    );
}

/// The independent end-state check notices a runnable task that is in no
/// runqueue, a task in two places, and a task gone without exiting.
#[test]
fn final_state_check_catches_lost_and_duplicated_tasks() {
    let mut w = Workload::default();
    w.tasks.push(
        TaskSpec::new(
            "spin",
            vec![Step::Loop {
                repeat: Repeat::Forever,
                body: vec![Step::Run(10 * MS)],
            }],
        )
        .instances(4),
    );
    let ledger = LedgerSink::default();
    let mut k = Kernel::new(KernelConfig::default(), Topology::flat(2).unwrap(), 1);
    k.set_sink(Box::new(ledger.clone()));
    k.boot(Some(Arc::new(w)), 1).unwrap();
    k.run_until(50 * MS);
    let check = |k: &mut Kernel| check_final_state(k, &ledger.0.borrow(), "simple", &[]);
    assert_eq!(check(&mut k), Ok(()));

    // A queued (not running) fair task taken off its runqueue: lost.
    let (cpu, key, t) = k
        .rqs
        .iter()
        .find_map(|rq| rq.cfs.tree.iter().next().map(|(key, t)| (rq.cpu, *key, *t)))
        .expect("4 spinners on 2 CPUs: some are queued");
    k.rqs[cpu].cfs.tree.remove(&key);
    let e = check(&mut k).unwrap_err();
    assert!(e.contains("0 places"), "{e}");
    // Put back, and also on the other CPU's runqueue: duplicated.
    k.rqs[cpu].cfs.tree.insert(key, t);
    k.rqs[1 - cpu].cfs.tree.insert((u64::MAX, u64::MAX), t);
    let e = check(&mut k).unwrap_err();
    assert!(e.contains("2 places"), "{e}");
    k.rqs[1 - cpu].cfs.tree.remove(&(u64::MAX, u64::MAX));
    assert_eq!(check(&mut k), Ok(()));
    // Freed although it never exited: its pid is lost.
    k.tasks[t as usize].freed = true;
    let e = check(&mut k).unwrap_err();
    assert!(e.contains("never exited but is gone"), "{e}");
}

/// A scheduler that makes a CPU's switch-out long and moves every woken
/// task: `select_cpu()` always proposes the next CPU, and each
/// `dispatch()` round "dispatches" kthreadd, which the BPF side does not
/// own — the kernel drops it but counts it, so `balance_one()` calls
/// `dispatch()` again (seven rounds, then one that dispatches nothing).
struct Hopper {
    rounds: Vec<u32>,
}

impl Scheduler for Hopper {
    fn info(&self) -> OpsInfo {
        OpsInfo::new("hopper", &[Op::SelectCpu, Op::Enqueue, Op::Dispatch])
    }

    fn select_cpu(&mut self, cx: &mut Cx, _p: Task, prev_cpu: i32, _wake_flags: u64) -> i32 {
        // CPUs 1.. in turn (CPU 0 is the waker's).
        let n = cx.nr_cpu_ids() as i32;
        1 + prev_cpu % (n - 1)
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, enq_flags);
    }

    fn dispatch(&mut self, cx: &mut Cx, cpu: i32, _prev: Option<Task>) {
        let r = &mut self.rounds[cpu as usize];
        *r += 1;
        if !r.is_multiple_of(8) {
            if let Some(kthreadd) = cx.task_from_pid(2) {
                cx.dispatch(kthreadd, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
            }
        }
    }
}

/// Regression: a task woken by another CPU while its own CPU is still
/// switching it out (inside `__schedule()`, here in a sched_ext balance of
/// several dispatch rounds) must not be moved before the switch completes:
/// the kernel's `try_to_wake_up()` waits for `p->on_cpu` to clear (or
/// hands the wakeup to that CPU's wake list) before `select_task_rq()` and
/// `set_task_cpu()`. So the CPU running a task is always its
/// `task_cpu()`, which the invariant check after every event verifies.
#[test]
fn wakeup_during_switch_out_does_not_move_the_task() {
    let forever = |body: Vec<Step>| Step::Loop {
        repeat: Repeat::Forever,
        body,
    };
    let mut w = Workload {
        conds: vec!["c".into()],
        ..Default::default()
    };
    w.tasks.push(TaskSpec::new(
        "sleeper",
        vec![forever(vec![Step::Run(US), Step::Suspend(0)])],
    ));
    w.tasks.push(
        TaskSpec::new(
            "waker",
            vec![forever(vec![Step::Run(20 * US), Step::Resume(0)])],
        )
        .cpus(Cpumask::of(0)),
    );
    let mut cfg = KernelConfig {
        housekeeping_period: 0,
        rcu_period: 0,
        ..Default::default()
    };
    // Seven 5 us rounds: the sleeper's CPU is inside __schedule() for
    // longer than the waker's 20 us period.
    cfg.set("cost.balance_round", "5us").unwrap();
    let mut k = Kernel::new(cfg, Topology::flat(4).unwrap(), 1);
    k.check_invariants = true;
    k.boot(Some(Arc::new(w)), 1).unwrap();
    k.attach(Box::new(Hopper { rounds: vec![0; 4] })).unwrap();
    k.run_until(200 * MS);
    assert_eq!(k.scx.enable_state, EnableState::Enabled);
    assert!(k.stats.wakeups > 1000, "{:?}", k.stats);
}
