//! Intrusive doubly-linked lists over index arenas, the kernel's
//! `struct list_head` without pointers.
//!
//! A node id is a task index, or (with [`CURSOR_BIT`] set) an iterator
//! cursor: DSQ iterators link a cursor node into the DSQ's list exactly as
//! `bpf_iter_scx_dsq` does, so removals during iteration are safe. All
//! operations are O(1) and allocation-free once the arenas have grown.

/// Marks a node id as a cursor rather than a task.
pub const CURSOR_BIT: u32 = 1 << 31;
const NIL: u32 = u32::MAX;

/// A list node id (task index or cursor).
pub type NodeId = u32;

#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
    linked: bool,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
    linked: false,
};

/// Head of one list: first and last node and the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListHead {
    head: u32,
    tail: u32,
    len: u32,
}

impl Default for ListHead {
    fn default() -> Self {
        ListHead {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl ListHead {
    /// Number of nodes (cursors included).
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True if no node is linked.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The link storage shared by all lists of one kind (a node is on at most
/// one list of that kind at a time).
#[derive(Default, Debug)]
pub struct Links {
    tasks: Vec<Link>,
    cursors: Vec<Link>,
    free_cursors: Vec<u32>,
}

impl Links {
    /// Makes room for task node `id`.
    pub fn grow_tasks(&mut self, n: usize) {
        if self.tasks.len() < n {
            self.tasks.resize(n, UNLINKED);
        }
    }

    /// Allocates a cursor node.
    pub fn alloc_cursor(&mut self) -> NodeId {
        if let Some(i) = self.free_cursors.pop() {
            self.cursors[i as usize] = UNLINKED;
            return i | CURSOR_BIT;
        }
        self.cursors.push(UNLINKED);
        (self.cursors.len() as u32 - 1) | CURSOR_BIT
    }

    /// Frees a cursor node (it must be unlinked).
    pub fn free_cursor(&mut self, id: NodeId) {
        assert!(is_cursor(id));
        assert!(!self.is_linked(id), "freeing a linked cursor");
        self.free_cursors.push(id & !CURSOR_BIT);
    }

    fn at(&self, id: NodeId) -> &Link {
        if is_cursor(id) {
            &self.cursors[(id & !CURSOR_BIT) as usize]
        } else {
            &self.tasks[id as usize]
        }
    }

    fn at_mut(&mut self, id: NodeId) -> &mut Link {
        if is_cursor(id) {
            &mut self.cursors[(id & !CURSOR_BIT) as usize]
        } else {
            &mut self.tasks[id as usize]
        }
    }

    /// True if `id` is on some list.
    pub fn is_linked(&self, id: NodeId) -> bool {
        self.at(id).linked
    }

    /// First node of `h`.
    pub fn first(&self, h: &ListHead) -> Option<NodeId> {
        opt(h.head)
    }

    /// Last node of `h`.
    pub fn last(&self, h: &ListHead) -> Option<NodeId> {
        opt(h.tail)
    }

    /// Node after `id`.
    pub fn next(&self, id: NodeId) -> Option<NodeId> {
        opt(self.at(id).next)
    }

    /// Node before `id`.
    pub fn prev(&self, id: NodeId) -> Option<NodeId> {
        opt(self.at(id).prev)
    }

    /// `list_add_tail`.
    pub fn push_back(&mut self, h: &mut ListHead, id: NodeId) {
        let tail = h.tail;
        self.link_between(h, id, tail, NIL);
    }

    /// `list_add`.
    pub fn push_front(&mut self, h: &mut ListHead, id: NodeId) {
        let head = h.head;
        self.link_between(h, id, NIL, head);
    }

    /// Links `id` right after `after`.
    pub fn insert_after(&mut self, h: &mut ListHead, after: NodeId, id: NodeId) {
        assert!(self.is_linked(after));
        let next = self.at(after).next;
        self.link_between(h, id, after, next);
    }

    /// Links `id` right before `before`.
    pub fn insert_before(&mut self, h: &mut ListHead, before: NodeId, id: NodeId) {
        assert!(self.is_linked(before));
        let prev = self.at(before).prev;
        self.link_between(h, id, prev, before);
    }

    fn link_between(&mut self, h: &mut ListHead, id: NodeId, prev: u32, next: u32) {
        assert!(!self.is_linked(id), "node {id:#x} is already on a list");
        *self.at_mut(id) = Link {
            prev,
            next,
            linked: true,
        };
        if prev == NIL {
            h.head = id;
        } else {
            self.at_mut(prev).next = id;
        }
        if next == NIL {
            h.tail = id;
        } else {
            self.at_mut(next).prev = id;
        }
        h.len += 1;
    }

    /// `list_del_init`.
    pub fn remove(&mut self, h: &mut ListHead, id: NodeId) {
        let l = *self.at(id);
        assert!(l.linked, "removing unlinked node {id:#x}");
        if l.prev == NIL {
            assert_eq!(h.head, id, "node {id:#x} is not on this list");
            h.head = l.next;
        } else {
            self.at_mut(l.prev).next = l.next;
        }
        if l.next == NIL {
            assert_eq!(h.tail, id, "node {id:#x} is not on this list");
            h.tail = l.prev;
        } else {
            self.at_mut(l.next).prev = l.prev;
        }
        *self.at_mut(id) = UNLINKED;
        h.len -= 1;
    }

    /// Task nodes of `h` in order (cursors skipped).
    pub fn tasks<'a>(&'a self, h: &ListHead) -> impl Iterator<Item = u32> + 'a {
        let mut cur = opt(h.head);
        std::iter::from_fn(move || loop {
            let id = cur?;
            cur = self.next(id);
            if !is_cursor(id) {
                return Some(id);
            }
        })
    }
}

/// True for cursor node ids.
pub fn is_cursor(id: NodeId) -> bool {
    id & CURSOR_BIT != 0
}

fn opt(v: u32) -> Option<u32> {
    (v != NIL).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_remove_iterate() {
        let mut l = Links::default();
        l.grow_tasks(8);
        let mut h = ListHead::default();
        l.push_back(&mut h, 1);
        l.push_back(&mut h, 2);
        l.push_front(&mut h, 3);
        let c = l.alloc_cursor();
        l.insert_after(&mut h, 3, c);
        assert_eq!(l.tasks(&h).collect::<Vec<_>>(), vec![3, 1, 2]);
        assert_eq!(h.len(), 4);
        l.remove(&mut h, 1);
        l.remove(&mut h, c);
        l.free_cursor(c);
        assert_eq!(l.tasks(&h).collect::<Vec<_>>(), vec![3, 2]);
        l.insert_before(&mut h, 2, 5);
        assert_eq!(l.tasks(&h).collect::<Vec<_>>(), vec![3, 5, 2]);
        assert_eq!(l.last(&h), Some(2));
    }

    #[test]
    #[should_panic(expected = "already on a list")]
    fn double_link_is_a_bug() {
        let mut l = Links::default();
        l.grow_tasks(2);
        let mut h = ListHead::default();
        l.push_back(&mut h, 1);
        l.push_back(&mut h, 1);
    }
}
