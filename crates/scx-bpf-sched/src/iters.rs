//! Open iterators of one callback invocation: `bpf_iter_scx_dsq` (backed by
//! the kernel's [`DsqIter`]) and `bpf_iter_css` (a walk of the cgroup
//! hierarchy computed when the iterator is created).
//!
//! The VM only sees opaque handles. Handles are slot indices, lowest free
//! first, and the tables live only as long as one invocation (the kernel
//! frees an op's DSQ iterator cursors when the op returns), so nothing here
//! carries state from one callback to the next.

use scx_kernel::ops::{Cgroup, Cx, DsqIter};

/// `BPF_CGROUP_ITER_DESCENDANTS_PRE`.
pub const CGROUP_ITER_DESCENDANTS_PRE: u32 = 2;
/// `BPF_CGROUP_ITER_DESCENDANTS_POST`.
pub const CGROUP_ITER_DESCENDANTS_POST: u32 = 3;
/// `BPF_CGROUP_ITER_ANCESTORS_UP`.
pub const CGROUP_ITER_ANCESTORS_UP: u32 = 4;

/// A table of open iterators addressed by small integer handles.
#[derive(Debug)]
pub struct Slots<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots { slots: Vec::new() }
    }
}

impl<T> Slots<T> {
    /// Stores `it` in the lowest free slot; returns its handle.
    pub fn insert(&mut self, it: T) -> u64 {
        match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = Some(it);
                i as u64
            }
            None => {
                self.slots.push(Some(it));
                (self.slots.len() - 1) as u64
            }
        }
    }

    /// The iterator behind `handle`, if open.
    pub fn get_mut(&mut self, handle: u64) -> Option<&mut T> {
        self.slots.get_mut(handle as usize).and_then(Option::as_mut)
    }

    /// Closes `handle`, returning its iterator.
    pub fn remove(&mut self, handle: u64) -> Option<T> {
        self.slots.get_mut(handle as usize).and_then(Option::take)
    }
}

/// The DSQ iterators of one invocation.
pub type DsqIters = Slots<DsqIter>;

/// The cgroup iterators of one invocation.
pub type CssIters = Slots<CssIter>;

/// A `bpf_iter_css` walk: the cgroups in visiting order.
#[derive(Debug)]
pub struct CssIter {
    order: Vec<Cgroup>,
    next: usize,
}

impl CssIter {
    /// The next cgroup of the walk.
    pub fn next_cgroup(&mut self) -> Option<Cgroup> {
        let c = self.order.get(self.next).copied();
        self.next += 1;
        c
    }
}

/// Every cgroup with its parent, in creation order (ids are dense from 1).
fn cgroup_tree(cx: &Cx) -> Vec<(Cgroup, Option<Cgroup>)> {
    (1u64..)
        .map_while(|id| cx.cgroup_from_id(id))
        .map(|cg| {
            let level = cx.cgroup_level(cg);
            let parent = level.checked_sub(1).and_then(|l| cx.cgroup_ancestor(cg, l));
            (cg, parent)
        })
        .collect()
}

/// Depth-first walk below `start` (children in creation order), `start`
/// first (`pre`) or last.
fn descendants(tree: &[(Cgroup, Option<Cgroup>)], start: Cgroup, pre: bool, out: &mut Vec<Cgroup>) {
    if pre {
        out.push(start);
    }
    for (child, _) in tree.iter().filter(|(_, p)| *p == Some(start)) {
        descendants(tree, *child, pre, out);
    }
    if !pre {
        out.push(start);
    }
}

/// `bpf_iter_css_new(it, start, flags)`: the walk, or `-EINVAL` for an
/// order the kfunc does not accept.
pub fn css_iter_new(cx: &Cx, start: Cgroup, flags: u32) -> Result<CssIter, i64> {
    let mut order = Vec::new();
    match flags {
        CGROUP_ITER_DESCENDANTS_PRE | CGROUP_ITER_DESCENDANTS_POST => {
            let tree = cgroup_tree(cx);
            descendants(
                &tree,
                start,
                flags == CGROUP_ITER_DESCENDANTS_PRE,
                &mut order,
            );
        }
        CGROUP_ITER_ANCESTORS_UP => {
            let level = cx.cgroup_level(start);
            order.extend(
                (0..=level)
                    .rev()
                    .filter_map(|l| cx.cgroup_ancestor(start, l)),
            );
        }
        _ => return Err(-22),
    }
    Ok(CssIter { order, next: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_reuse_the_lowest_free_slot() {
        let mut s = Slots::default();
        assert_eq!(s.insert('a'), 0);
        assert_eq!(s.insert('b'), 1);
        assert_eq!(s.remove(0), Some('a'));
        assert_eq!(s.remove(0), None);
        assert_eq!(s.insert('c'), 0);
        assert_eq!(s.get_mut(1).copied(), Some('b'));
        assert_eq!(s.get_mut(7), None);
    }

    #[test]
    fn descendant_orders() {
        let c = Cgroup;
        // 0 ─┬─ 1 ── 3
        //    └─ 2
        let tree = [
            (c(0), None),
            (c(1), Some(c(0))),
            (c(2), Some(c(0))),
            (c(3), Some(c(1))),
        ];
        let mut pre = Vec::new();
        descendants(&tree, c(0), true, &mut pre);
        assert_eq!(pre, [c(0), c(1), c(3), c(2)]);
        let mut post = Vec::new();
        descendants(&tree, c(0), false, &mut post);
        assert_eq!(post, [c(3), c(1), c(2), c(0)]);
        let mut sub = Vec::new();
        descendants(&tree, c(1), true, &mut sub);
        assert_eq!(sub, [c(1), c(3)]);
    }
}
