//! scx_flatcg on the simulated machine: CPU shares of sibling and nested
//! cgroups follow the flattened hierarchical weights, weight changes and
//! cgroup moves take effect, and the callbacks see the cgroup tree.

mod common;

use common::*;
use scx_kernel::Kernel;
use scx_machine::clock::{NSEC_PER_MSEC, NSEC_PER_SEC};
use scx_observe::{Event, Op};
use scx_scheds::flatcg::{Flatcg, Stat};
use scx_scheds::tool::with_sched;
use scx_workload::{CgroupSpec, Repeat, Step, TaskSpec, TimedAction, Workload};
use std::collections::BTreeMap;

const CPUS: usize = 4;
/// Hogs are created once the scheduler is attached (at 20 ms), so all of
/// their runtime is under scx_flatcg.
const START: u64 = 100 * NSEC_PER_MSEC;

/// A cgroup of the test tree: path, parent index (into the same list),
/// weight, and how many hogs it holds.
#[derive(Clone, Debug)]
struct Cg {
    path: &'static str,
    parent: Option<usize>,
    weight: u32,
    hogs: u32,
}

fn cg(path: &'static str, parent: Option<usize>, weight: u32, hogs: u32) -> Cg {
    Cg {
        path,
        parent,
        weight,
        hogs,
    }
}

/// The tree of the scheduler's own documentation: `A` (100) holding `B`
/// (100) and `C` (100), next to `D` (200); plus a deeper branch `E` (50) →
/// `F` (300) → `G` (100) with a sibling `H` (100) of `G`.
fn doc_tree() -> Vec<Cg> {
    vec![
        cg("/A", None, 100, 0),
        cg("/A/B", Some(0), 100, 4),
        cg("/A/C", Some(0), 100, 4),
        cg("/D", None, 200, 6),
        cg("/E", None, 50, 0),
        cg("/E/F", Some(4), 300, 0),
        cg("/E/F/G", Some(5), 100, 3),
        cg("/E/F/H", Some(5), 300, 3),
    ]
}

fn forever(body: Vec<Step>) -> Step {
    Step::Loop {
        repeat: Repeat::Forever,
        body,
    }
}

/// A workload with the cgroups of `tree` and each cgroup's hogs (named
/// after the cgroup's last path component), started at [`START`].
fn cgroup_hogs(tree: &[Cg]) -> Workload {
    let mut w = Workload::default();
    for (i, c) in tree.iter().enumerate() {
        w.cgroups.push(CgroupSpec {
            path: c.path.to_string(),
            parent: c.parent,
            weight: c.weight,
        });
        if c.hogs == 0 {
            continue;
        }
        let name = format!("hog{}", c.path.replace('/', "."));
        let mut t =
            TaskSpec::new(&name, vec![forever(vec![Step::Run(NSEC_PER_SEC)])]).instances(c.hogs);
        t.cgroup = Some(i);
        t.start_delay = START;
        w.tasks.push(t);
    }
    w.validate(CPUS).expect("valid workload");
    w
}

/// The expected share of the machine of every cgroup with hogs, computed
/// from the tree alone: at each level a cgroup gets its weight over the sum
/// of the weights of its siblings that have runnable tasks below them.
fn expected_shares(tree: &[Cg]) -> BTreeMap<usize, f64> {
    let active = |i: usize| -> bool {
        let mut stack = vec![i];
        while let Some(c) = stack.pop() {
            if tree[c].hogs > 0 {
                return true;
            }
            stack.extend((0..tree.len()).filter(|j| tree[*j].parent == Some(c)));
        }
        false
    };
    let siblings_weight = |i: usize| -> f64 {
        (0..tree.len())
            .filter(|j| tree[*j].parent == tree[i].parent && active(*j))
            .map(|j| f64::from(tree[j].weight))
            .sum()
    };
    let mut shares = BTreeMap::new();
    for i in (0..tree.len()).filter(|i| tree[*i].hogs > 0) {
        let mut share = 1.0;
        let mut c = Some(i);
        while let Some(j) = c {
            share *= f64::from(tree[j].weight) / siblings_weight(j);
            c = tree[j].parent;
        }
        shares.insert(i, share);
    }
    shares
}

/// Each cgroup's measured share of the runtime of all hogs.
fn measured_shares(k: &Kernel, tree: &[Cg]) -> BTreeMap<usize, f64> {
    let runtime = |i: usize| -> u64 {
        k.tasks
            .iter()
            .filter(|t| t.comm.starts_with("hog") && t.cgroup == i + 1)
            .map(|t| t.sum_exec_runtime)
            .sum()
    };
    let per: BTreeMap<usize, u64> = (0..tree.len())
        .filter(|i| tree[*i].hogs > 0)
        .map(|i| (i, runtime(i)))
        .collect();
    let total: u64 = per.values().sum();
    per.into_iter()
        .map(|(i, r)| (i, r as f64 / total as f64))
        .collect()
}

fn assert_shares(tree: &[Cg], got: &BTreeMap<usize, f64>, want: &BTreeMap<usize, f64>, tol: f64) {
    for (i, w) in want {
        let g = got[i];
        assert!(
            (g - w).abs() <= tol * w,
            "{}: share {:.4}, expected {:.4} (±{:.0}%); all: {:?} vs {:?}",
            tree[*i].path,
            g,
            w,
            tol * 100.0,
            got,
            want
        );
    }
}

#[test]
fn expected_shares_follow_the_documentation() {
    let s = expected_shares(&doc_tree());
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(s[&1], 100.0 / 350.0 * 0.5), "{s:?}");
    assert!(close(s[&3], 200.0 / 350.0), "{s:?}");
    assert!(close(s[&6], 50.0 / 350.0 * 100.0 / 400.0), "{s:?}");
    assert!(close(s.values().sum::<f64>(), 1.0), "{s:?}");
}

#[test]
fn shares_follow_flattened_weights() {
    let tree = doc_tree();
    let cfg = config("flatcg", &[], CPUS, cgroup_hogs(&tree), 20 * NSEC_PER_SEC);
    let mut o = run_quiet(&cfg);
    assert_eq!(o.res.exits.len(), 1);
    assert_eq!(o.res.exits[0].info.reason, "unregistered from user space");
    let want = expected_shares(&tree);
    let got = measured_shares(&o.res.kernel, &tree);
    assert_shares(&tree, &got, &want, 0.02);
    let fails = with_sched(&mut o.res.kernel, |f: &Flatcg| {
        f.totals()[Stat::PncFail as usize]
    });
    assert_eq!(fails, Some(0));
}

#[test]
fn fifo_within_cgroups_keeps_cgroup_shares() {
    let tree = doc_tree();
    let cfg = config(
        "flatcg",
        &["-f"],
        CPUS,
        cgroup_hogs(&tree),
        10 * NSEC_PER_SEC,
    );
    let o = run_quiet(&cfg);
    let got = measured_shares(&o.res.kernel, &tree);
    assert_shares(&tree, &got, &expected_shares(&tree), 0.03);
}

/// The same workload under scx_simple, which knows nothing of cgroups,
/// gives every hog the same share: the measurement can tell the two apart.
#[test]
fn a_cgroup_blind_scheduler_misses_the_shares() {
    let tree = doc_tree();
    let cfg = config("simple", &[], CPUS, cgroup_hogs(&tree), 10 * NSEC_PER_SEC);
    let o = run_quiet(&cfg);
    let got = measured_shares(&o.res.kernel, &tree);
    let want = expected_shares(&tree);
    let hogs: u32 = tree.iter().map(|c| c.hogs).sum();
    let d = 3;
    let per_task = f64::from(tree[d].hogs) / f64::from(hogs);
    assert!((got[&d] - per_task).abs() < 0.02, "{got:?}");
    assert!((got[&d] - want[&d]).abs() > 0.2, "{got:?} vs {want:?}");
}

/// Runtime accumulated per kernel cgroup index since `before` (a runtime
/// snapshot), attributing each task to the cgroup it is in now.
fn cgroup_shares_since(k: &Kernel, before: &BTreeMap<u32, u64>) -> BTreeMap<usize, f64> {
    let mut per: BTreeMap<usize, u64> = BTreeMap::new();
    for (tid, r0) in before {
        let t = k.task(*tid);
        *per.entry(t.cgroup).or_default() += t.sum_exec_runtime - r0;
    }
    let total: u64 = per.values().sum();
    per.into_iter()
        .map(|(c, r)| (c, r as f64 / total as f64))
        .collect()
}

/// Kernel cgroup index → share, from tree index → share.
fn by_kernel_index(m: &BTreeMap<usize, f64>) -> BTreeMap<usize, f64> {
    m.iter().map(|(i, s)| (i + 1, *s)).collect()
}

fn assert_close(got: &BTreeMap<usize, f64>, want: &BTreeMap<usize, f64>, tol: f64, what: &str) {
    for (c, w) in want {
        let g = got.get(c).copied().unwrap_or(0.0);
        assert!(
            (g - w).abs() <= tol * w,
            "{what}: cgroup {c} got {g:.4} want {w:.4}; {got:?} vs {want:?}"
        );
    }
}

#[test]
fn weight_changes_take_effect() {
    let tree = doc_tree();
    let mut w = cgroup_hogs(&tree);
    // At 3 s, /A goes from 100 to 400.
    w.actions
        .push((3 * NSEC_PER_SEC, TimedAction::CgroupWeight(0, 400)));
    let mut k = attached("flatcg", &[], CPUS, w);
    let mut after = tree.clone();
    after[0].weight = 400;
    k.run_until(500 * NSEC_PER_MSEC);
    let t0 = runtimes(&k, "hog");
    k.run_until(3 * NSEC_PER_SEC);
    let before = cgroup_shares_since(&k, &t0);
    assert_close(
        &before,
        &by_kernel_index(&expected_shares(&tree)),
        0.03,
        "before",
    );
    k.run_until(3500 * NSEC_PER_MSEC);
    let t1 = runtimes(&k, "hog");
    k.run_until(9 * NSEC_PER_SEC);
    let later = cgroup_shares_since(&k, &t1);
    assert_close(
        &later,
        &by_kernel_index(&expected_shares(&after)),
        0.03,
        "after",
    );
    let weight = with_sched(&mut k, |f: &Flatcg| f.cgrps[&2].weight);
    assert_eq!(weight, Some(400));
}

/// `/X` (100) and `/Y` (300) with two hogs each; a third hog starts in
/// cgroup `from` (0 = `/X`, 1 = `/Y`) and moves to the other one after 3 s
/// of wall time.
fn mover_workload(from: usize) -> Workload {
    let mut w = Workload::default();
    for (path, weight) in [("/X", 100), ("/Y", 300)] {
        w.cgroups.push(CgroupSpec {
            path: path.to_string(),
            parent: None,
            weight,
        });
    }
    for g in 0..2 {
        let mut t = TaskSpec::new(
            &format!("hog{g}"),
            vec![forever(vec![Step::Run(NSEC_PER_SEC)])],
        )
        .instances(2);
        t.cgroup = Some(g);
        t.start_delay = START;
        w.tasks.push(t);
    }
    let prog = vec![
        Step::RunWall(3 * NSEC_PER_SEC - START),
        Step::SetCgroup(1 - from),
        forever(vec![Step::Run(NSEC_PER_SEC)]),
    ];
    let mut m = TaskSpec::new("hogmover", prog);
    m.cgroup = Some(from);
    m.start_delay = START;
    w.tasks.push(m);
    w
}

#[test]
fn moved_tasks_count_in_their_new_cgroup() {
    let mut k = attached("flatcg", &[], 2, mover_workload(0));
    k.run_until(500 * NSEC_PER_MSEC);
    let t0 = runtimes(&k, "hog");
    k.run_until(2900 * NSEC_PER_MSEC);
    let mover = k
        .tasks
        .iter()
        .find(|t| t.comm == "hogmover")
        .map(|t| t.tid)
        .expect("mover");
    assert_eq!(k.task(mover).cgroup, 1);
    let want: BTreeMap<usize, f64> = [(1, 0.25), (2, 0.75)].into_iter().collect();
    assert_close(
        &cgroup_shares_since(&k, &t0),
        &want,
        0.03,
        "before the move",
    );
    let mover_before = (k.task(mover).sum_exec_runtime - t0[&mover]) as f64;
    let total_before: u64 = runtimes(&k, "hog").iter().map(|(t, r)| r - t0[t]).sum();
    // One of three tasks in a quarter of the machine.
    assert!((mover_before / total_before as f64 - 0.25 / 3.0).abs() < 0.01);
    k.run_until(3500 * NSEC_PER_MSEC);
    assert_eq!(k.task(mover).cgroup, 2);
    let t1 = runtimes(&k, "hog");
    k.run_until(8 * NSEC_PER_SEC);
    assert_close(&cgroup_shares_since(&k, &t1), &want, 0.03, "after the move");
    let mover_after = (k.task(mover).sum_exec_runtime - t1[&mover]) as f64;
    let total_after: u64 = runtimes(&k, "hog").iter().map(|(t, r)| r - t1[t]).sum();
    // Now one of three tasks in three quarters of it.
    assert!(
        (mover_after / total_after as f64 - 0.25).abs() < 0.02,
        "{}",
        mover_after / total_after as f64
    );
}

#[test]
fn hweights_are_the_flattened_shares() {
    let tree = doc_tree();
    let mut k = attached("flatcg", &[], CPUS, cgroup_hogs(&tree));
    k.run_until(2 * NSEC_PER_SEC);
    let want = expected_shares(&tree);
    let (hweights, gen) = with_sched(&mut k, |f: &Flatcg| {
        let h: BTreeMap<u64, u32> = f.cgrps.iter().map(|(id, c)| (*id, c.hweight)).collect();
        (h, f.hweight_gen)
    })
    .expect("flatcg attached");
    assert!(gen > 1);
    for (i, share) in want {
        // cgroup id = kernel index + 1 = tree index + 2
        let h = f64::from(hweights[&(i as u64 + 2)]);
        let exact = share * 65536.0;
        // Rounded up once per level.
        assert!(
            h >= exact - 1e-6 && h <= exact + 4.0,
            "{}: hweight {h}, exact {exact:.1}",
            tree[i].path
        );
    }
}

#[test]
fn every_cgroup_gets_a_context_and_a_dsq() {
    let tree = doc_tree();
    let mut k = attached("flatcg", &[], CPUS, cgroup_hogs(&tree));
    k.run_until(300 * NSEC_PER_MSEC);
    let ids: Vec<u64> = (1..=tree.len() as u64 + 1).collect();
    let (ctx_ids, weights) = with_sched(&mut k, |f: &Flatcg| {
        let ids: Vec<u64> = f.cgrps.keys().copied().collect();
        let w: Vec<u32> = f.cgrps.values().map(|c| c.weight).collect();
        (ids, w)
    })
    .expect("flatcg attached");
    assert_eq!(ctx_ids, ids);
    let mut want_w = vec![100];
    want_w.extend(tree.iter().map(|c| c.weight));
    assert_eq!(weights, want_w);
    assert!(!k
        .log
        .iter()
        .any(|(_, l)| l.contains("does not implement cgroup cpu.weight")));
}

#[test]
fn cgroup_callbacks_in_the_kernels_order() {
    let tree = doc_tree();
    let cfg = config("flatcg", &[], CPUS, cgroup_hogs(&tree), NSEC_PER_SEC);
    let o = run(&cfg);
    let calls = |want: Op| -> Vec<u64> {
        o.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::OpCall { op, arg, .. } if *op == want => Some(*arg),
                _ => None,
            })
            .collect()
    };
    let n = tree.len() as u64 + 1;
    assert_eq!(calls(Op::CgroupInit), (0..n).collect::<Vec<_>>());
    assert_eq!(calls(Op::CgroupExit), (0..n).rev().collect::<Vec<_>>());
    assert_eq!(calls(Op::Init).len(), 1);
    assert!(o
        .out
        .contains("sched_ext: BPF scheduler \"flatcg\" disabled (unregistered from user space)"));
    assert!(
        o.err.ends_with("EXIT: unregistered from user space\n"),
        "{}",
        o.err
    );
}

/// Regression (`scx_cgroup_can_attach()` in scx-kernel `ext/cgroup.rs`):
/// scxsim used to call `ops.cgroup_move()` only when the scheduler
/// implemented `ops.cgroup_prep_move()`. In 6.12, `scx_cgroup_can_attach()` sets
/// `p->scx.cgrp_moving_from` for every task whose cgroup changes, calling
/// `ops.cgroup_prep_move()` only if it exists, and
/// `scx_cgroup_move_task()` calls `ops.cgroup_move()` whenever it is
/// implemented and `cgrp_moving_from` is set (ext.c:4075-4141). scx_flatcg
/// implements `cgroup_move` (to rebase the task's vtime onto its new
/// cgroup's clock) but not `cgroup_prep_move`, so the rebase never
/// happened.
///
/// Reproduction: a hog moves from `/Y` (weight 300, whose per-task vtime
/// clock runs about twice as fast as `/X`'s here) to `/X` (weight 100).
/// Rebased, its vtime lands next to `/X`'s clock; without the rebase it
/// keeps `/Y`'s much later vtime (and, once it runs, drags `/X`'s clock
/// forward with it).
#[test]
fn cgroup_move_rebases_vtime_without_prep_move() {
    let cfg = config("flatcg", &[], 2, mover_workload(1), 4 * NSEC_PER_SEC);
    let o = run(&cfg);
    let moves = o
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::OpCall {
                    op: Op::CgroupMove,
                    ..
                }
            )
        })
        .count();
    assert_eq!(moves, 1, "ops.cgroup_move() calls");
    let mut k = attached("flatcg", &[], 2, mover_workload(1));
    k.run_until(2950 * NSEC_PER_MSEC);
    let x_clock = with_sched(&mut k, |f: &Flatcg| f.cgrps[&2].tvtime_now).expect("flatcg");
    k.run_until(3200 * NSEC_PER_MSEC);
    let mover = k
        .tasks
        .iter()
        .find(|t| t.comm == "hogmover")
        .expect("mover");
    assert_eq!(mover.cgroup, 1);
    let v = mover.scx.dsq_vtime;
    assert!(
        v < x_clock + 5 * scx_kernel::consts::SCX_SLICE_DFL,
        "mover's vtime {}ms, /X's clock {}ms",
        v / NSEC_PER_MSEC,
        x_clock / NSEC_PER_MSEC
    );
}
