//! Helpers that make a Rust scheduler's state read like its BPF original:
//! task-local storage (`BPF_MAP_TYPE_TASK_STORAGE`), per-CPU data
//! (`BPF_MAP_TYPE_PERCPU_ARRAY`) and queue maps (`BPF_MAP_TYPE_QUEUE`).
//!
//! All are deterministic (no hashing) and keep a mutation generation so a
//! scheduler's [`crate::ops::Scheduler::state_digest`] can be computed
//! cheaply.

use super::Task;
use std::collections::VecDeque;

/// Per-task storage, like `bpf_task_storage_get(map, p, NULL,
/// BPF_LOCAL_STORAGE_GET_F_CREATE)`.
#[derive(Clone, Debug)]
pub struct TaskStorage<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for TaskStorage<T> {
    fn default() -> Self {
        TaskStorage { slots: Vec::new() }
    }
}

impl<T> TaskStorage<T> {
    /// Looks up `p`'s value.
    pub fn get(&self, p: Task) -> Option<&T> {
        self.slots.get(p.0 as usize).and_then(Option::as_ref)
    }

    /// Looks up `p`'s value mutably.
    pub fn get_mut(&mut self, p: Task) -> Option<&mut T> {
        self.slots.get_mut(p.0 as usize).and_then(Option::as_mut)
    }

    /// Creates (or replaces) `p`'s value.
    pub fn insert(&mut self, p: Task, v: T) -> &mut T {
        let i = p.0 as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(v);
        self.slots[i].as_mut().expect("just inserted")
    }

    /// Deletes `p`'s value (`bpf_task_storage_delete`).
    pub fn remove(&mut self, p: Task) -> Option<T> {
        self.slots.get_mut(p.0 as usize).and_then(Option::take)
    }
}

/// Per-CPU data indexed by CPU number.
#[derive(Clone, Debug)]
pub struct PerCpu<T> {
    v: Vec<T>,
}

impl<T: Clone> PerCpu<T> {
    /// `n` copies of `init`.
    pub fn new(n: usize, init: T) -> PerCpu<T> {
        PerCpu { v: vec![init; n] }
    }
}

impl<T> PerCpu<T> {
    /// The value of `cpu`.
    pub fn get(&self, cpu: usize) -> &T {
        &self.v[cpu]
    }

    /// The value of `cpu`, mutably.
    pub fn get_mut(&mut self, cpu: usize) -> &mut T {
        &mut self.v[cpu]
    }

    /// Values of all CPUs.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.v.iter()
    }
}

/// A bounded FIFO of values, like `BPF_MAP_TYPE_QUEUE` with `max_entries`.
#[derive(Clone, Debug)]
pub struct BpfQueue<T> {
    q: VecDeque<T>,
    max_entries: usize,
    generation: u64,
}

impl<T> BpfQueue<T> {
    /// An empty queue holding at most `max_entries`.
    pub fn new(max_entries: usize) -> BpfQueue<T> {
        BpfQueue {
            q: VecDeque::new(),
            max_entries,
            generation: 0,
        }
    }

    /// `bpf_map_push_elem(.., 0)`: fails with `-E2BIG` (-7) when full.
    pub fn push(&mut self, v: T) -> Result<(), i32> {
        if self.q.len() >= self.max_entries {
            return Err(-crate::consts::E2BIG);
        }
        self.q.push_back(v);
        self.generation += 1;
        Ok(())
    }

    /// `bpf_map_pop_elem`: `None` (`-ENOENT`) when empty.
    pub fn pop(&mut self) -> Option<T> {
        let v = self.q.pop_front();
        if v.is_some() {
            self.generation += 1;
        }
        v
    }

    /// Number of queued values.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Values in FIFO order (non-destructive, for dumps).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.q.iter()
    }

    /// Changes every time the contents change.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_bounds() {
        let mut q = BpfQueue::new(2);
        q.push(1).unwrap();
        q.push(2).unwrap();
        assert_eq!(q.push(3), Err(-7));
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn task_storage() {
        let mut s = TaskStorage::default();
        s.insert(Task(5), 7u32);
        assert_eq!(s.get(Task(5)), Some(&7));
        assert_eq!(s.get(Task(4)), None);
        *s.get_mut(Task(5)).unwrap() += 1;
        assert_eq!(s.remove(Task(5)), Some(8));
        assert_eq!(s.get(Task(5)), None);
    }
}
