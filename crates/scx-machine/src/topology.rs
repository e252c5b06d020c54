//! CPU topology: NUMA nodes × last-level caches × cores × SMT threads.
//!
//! CPU ids are numbered the way x86 firmware usually enumerates them: first
//! thread 0 of every core (cores in node, then LLC order), then thread 1 of
//! every core, and so on. So on `1x1x4x2` CPUs 0 and 4 are SMT siblings,
//! as on a typical 4-core/8-thread laptop.
//!
//! Accepted forms (see [`Topology::parse`]): a flat CPU count (`4`: one node,
//! one LLC, no SMT), `NODESxLLCSxCORESxTHREADS` (`2x2x8x2` = 64 CPUs), or a
//! named preset from [`PRESETS`].

use crate::cpumask::{Cpumask, MAX_CPUS};

/// Named topologies, each `(name, spec, what it stands for)`.
pub const PRESETS: &[(&str, &str, &str)] = &[
    (
        "laptop",
        "1x1x4x2",
        "4 cores, 2 threads each, one LLC (8 CPUs)",
    ),
    (
        "desktop",
        "1x1x8x2",
        "8 cores, 2 threads each, one LLC (16 CPUs)",
    ),
    (
        "chiplet",
        "1x4x4x2",
        "one socket of 4 chiplets with their own L3, 4 cores each, SMT2 (32 CPUs)",
    ),
    (
        "server",
        "2x2x8x2",
        "2 NUMA nodes, 2 LLCs each, 8 cores per LLC, SMT2 (64 CPUs)",
    ),
    (
        "numa4",
        "4x1x8x1",
        "4 NUMA nodes with 8 cores each, no SMT (32 CPUs)",
    ),
];

/// A machine's CPU layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    nodes: usize,
    llcs_per_node: usize,
    cores_per_llc: usize,
    threads_per_core: usize,
}

impl Topology {
    /// `nodes x llcs_per_node x cores_per_llc x threads_per_core`.
    pub fn new(
        nodes: usize,
        llcs_per_node: usize,
        cores_per_llc: usize,
        threads_per_core: usize,
    ) -> Result<Topology, String> {
        let dims = [nodes, llcs_per_node, cores_per_llc, threads_per_core];
        if dims.contains(&0) {
            return Err("every topology dimension must be at least 1".into());
        }
        let n = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d));
        match n {
            Some(n) if n <= MAX_CPUS => Ok(Topology {
                nodes,
                llcs_per_node,
                cores_per_llc,
                threads_per_core,
            }),
            _ => Err(format!("a machine may have at most {MAX_CPUS} CPUs")),
        }
    }

    /// A flat machine: `n` CPUs, one node, one LLC, no SMT.
    pub fn flat(n: usize) -> Result<Topology, String> {
        Topology::new(1, 1, n, 1)
    }

    /// Parses `N`, `AxBxCxD` or a preset name.
    pub fn parse(spec: &str) -> Result<Topology, String> {
        let spec = spec.trim();
        if let Some((_, s, _)) = PRESETS.iter().find(|(n, _, _)| *n == spec) {
            return Topology::parse(s);
        }
        let parts: Vec<&str> = spec.split('x').collect();
        let nums: Result<Vec<usize>, _> = parts.iter().map(|p| p.trim().parse::<usize>()).collect();
        let names: Vec<&str> = PRESETS.iter().map(|(n, _, _)| *n).collect();
        let expected = format!(
            "expected a CPU count, NODESxLLCSxCORESxTHREADS (e.g. 2x2x8x2) or a preset ({})",
            names.join(", ")
        );
        match nums {
            Ok(v) if v.len() == 1 => Topology::flat(v[0]),
            Ok(v) if v.len() == 4 => Topology::new(v[0], v[1], v[2], v[3]),
            _ => Err(format!("bad topology {spec:?}: {expected}")),
        }
    }

    /// Number of CPUs (`nr_cpu_ids`).
    pub fn nr_cpus(&self) -> usize {
        self.nodes * self.llcs_per_node * self.cores_per_llc * self.threads_per_core
    }

    /// Number of physical cores.
    pub fn nr_cores(&self) -> usize {
        self.nodes * self.llcs_per_node * self.cores_per_llc
    }

    /// Number of NUMA nodes.
    pub fn nr_nodes(&self) -> usize {
        self.nodes
    }

    /// Number of last-level caches.
    pub fn nr_llcs(&self) -> usize {
        self.nodes * self.llcs_per_node
    }

    /// SMT threads per core.
    pub fn threads_per_core(&self) -> usize {
        self.threads_per_core
    }

    /// The kernel's `sched_smt_active()`.
    pub fn smt_active(&self) -> bool {
        self.threads_per_core > 1
    }

    /// Core index of `cpu` (0..nr_cores).
    pub fn core_of(&self, cpu: usize) -> usize {
        cpu % self.nr_cores()
    }

    /// SMT thread index of `cpu` within its core.
    pub fn thread_of(&self, cpu: usize) -> usize {
        cpu / self.nr_cores()
    }

    /// LLC index of `cpu`.
    pub fn llc_of(&self, cpu: usize) -> usize {
        self.core_of(cpu) / self.cores_per_llc
    }

    /// NUMA node of `cpu` (`cpu_to_node`).
    pub fn node_of(&self, cpu: usize) -> usize {
        self.llc_of(cpu) / self.llcs_per_node
    }

    /// `cpu_smt_mask(cpu)`: `cpu` and its SMT siblings.
    pub fn smt_siblings(&self, cpu: usize) -> Cpumask {
        let core = self.core_of(cpu);
        Cpumask::from_cpus((0..self.threads_per_core).map(|t| t * self.nr_cores() + core))
    }

    /// CPUs sharing `cpu`'s last-level cache (`cpus_share_cache`).
    pub fn llc_cpus(&self, cpu: usize) -> Cpumask {
        let llc = self.llc_of(cpu);
        Cpumask::from_cpus((0..self.nr_cpus()).filter(|c| self.llc_of(*c) == llc))
    }

    /// CPUs of NUMA node `node`.
    pub fn node_cpus(&self, node: usize) -> Cpumask {
        Cpumask::from_cpus((0..self.nr_cpus()).filter(|c| self.node_of(*c) == node))
    }

    /// Every CPU.
    pub fn all_cpus(&self) -> Cpumask {
        Cpumask::first_n(self.nr_cpus())
    }

    /// The `AxBxCxD` spelling of this topology.
    pub fn spec(&self) -> String {
        format!(
            "{}x{}x{}x{}",
            self.nodes, self.llcs_per_node, self.cores_per_llc, self.threads_per_core
        )
    }

    /// One-line human description.
    pub fn describe(&self) -> String {
        format!(
            "{} CPUs ({} node{}, {} LLC{}, {} core{}, {} thread{}/core)",
            self.nr_cpus(),
            self.nodes,
            plural(self.nodes),
            self.nr_llcs(),
            plural(self.nr_llcs()),
            self.nr_cores(),
            plural(self.nr_cores()),
            self.threads_per_core,
            plural(self.threads_per_core)
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_structured() {
        let t = Topology::parse("4").unwrap();
        assert_eq!(t.nr_cpus(), 4);
        assert!(!t.smt_active());
        let t = Topology::parse("2x2x8x2").unwrap();
        assert_eq!(t.nr_cpus(), 64);
        assert_eq!(t.nr_cores(), 32);
        assert_eq!(t.smt_siblings(3), Cpumask::from_cpus([3, 35]));
        assert_eq!(t.node_of(0), 0);
        assert_eq!(t.node_of(16), 1);
        assert_eq!(t.node_of(48), 1, "thread 1 of core 16 is on node 1");
        assert_eq!(t.llc_of(8), 1);
        assert_eq!(t.llc_cpus(0).weight(), 16);
    }

    #[test]
    fn presets_resolve() {
        for (name, spec, _) in PRESETS {
            let t = Topology::parse(name).unwrap();
            assert_eq!(t.spec(), *spec);
        }
    }

    #[test]
    fn bad_specs() {
        assert!(Topology::parse("0").is_err());
        assert!(Topology::parse("1x2x3").is_err());
        assert!(Topology::parse("laptopx").is_err());
        assert!(Topology::parse("9999").is_err());
        let e = Topology::parse("2x2").unwrap_err();
        assert!(e.contains("NODESxLLCSxCORESxTHREADS"), "{e}");
    }
}
