/* Generated from scx-bpf's kernel type table (src/vmlinux.rs); do not edit. */
struct atomic_t;
struct atomic_long_t;
struct refcount_struct;
struct list_head;
struct rb_node;
struct rb_root;
struct raw_spinlock;
struct cpumask;
struct load_weight;
struct scx_dispatch_q;
struct task_struct;
struct cgroup;
struct scx_dsq_list_node;
struct sched_ext_entity;
struct sched_entity;
struct thread_info;
struct kernfs_node;
struct cgroup_subsys_state;
struct scx_rq;
struct rq;
struct scx_exit_info;
struct scx_init_task_args;
struct scx_exit_task_args;
struct scx_cgroup_init_args;
struct scx_cpu_acquire_args;
struct scx_cpu_release_args;
struct scx_dump_ctx;
struct bpf_iter_scx_dsq;
struct bpf_iter_num;
struct bpf_cpumask;
typedef int pid_t;
typedef struct refcount_struct refcount_t;
typedef struct raw_spinlock raw_spinlock_t;
typedef struct cpumask cpumask_t;
enum scx_public_consts {
	SCX_OPS_NAME_LEN = 128,
	SCX_SLICE_DFL = 20000000,
	SCX_SLICE_INF = 0xffffffffffffffffULL,
};
enum scx_dsq_id_flags {
	SCX_DSQ_FLAG_BUILTIN = 0x8000000000000000ULL,
	SCX_DSQ_FLAG_LOCAL_ON = 0x4000000000000000ULL,
	SCX_DSQ_INVALID = 0x8000000000000000ULL,
	SCX_DSQ_GLOBAL = 0x8000000000000001ULL,
	SCX_DSQ_LOCAL = 0x8000000000000002ULL,
	SCX_DSQ_LOCAL_ON = 0xc000000000000000ULL,
	SCX_DSQ_LOCAL_CPU_MASK = 4294967295,
};
enum scx_consts {
	SCX_DSP_DFL_MAX_BATCH = 32,
	SCX_DSP_MAX_LOOPS = 32,
	SCX_WATCHDOG_MAX_TIMEOUT = 30000,
	SCX_EXIT_BT_LEN = 64,
	SCX_EXIT_MSG_LEN = 1024,
	SCX_EXIT_DUMP_DFL_LEN = 32768,
	SCX_CPUPERF_ONE = 1024,
	SCX_OPS_TASK_ITER_BATCH = 32,
};
enum scx_exit_kind {
	SCX_EXIT_NONE = 0,
	SCX_EXIT_DONE = 1,
	SCX_EXIT_UNREG = 64,
	SCX_EXIT_UNREG_BPF = 65,
	SCX_EXIT_UNREG_KERN = 66,
	SCX_EXIT_SYSRQ = 67,
	SCX_EXIT_ERROR = 1024,
	SCX_EXIT_ERROR_BPF = 1025,
	SCX_EXIT_ERROR_STALL = 1026,
};
enum scx_exit_code {
	SCX_ECODE_RSN_HOTPLUG = 0x100000000ULL,
	SCX_ECODE_ACT_RESTART = 0x1000000000000ULL,
};
enum scx_ops_flags {
	SCX_OPS_KEEP_BUILTIN_IDLE = 1,
	SCX_OPS_ENQ_LAST = 2,
	SCX_OPS_ENQ_EXITING = 4,
	SCX_OPS_SWITCH_PARTIAL = 8,
	SCX_OPS_HAS_CGROUP_WEIGHT = 65536,
	SCX_OPS_ALL_FLAGS = 65551,
};
enum scx_cpu_preempt_reason {
	SCX_CPU_PREEMPT_RT = 0,
	SCX_CPU_PREEMPT_DL = 1,
	SCX_CPU_PREEMPT_STOP = 2,
	SCX_CPU_PREEMPT_UNKNOWN = 3,
};
enum scx_wake_flags {
	SCX_WAKE_FORK = 4,
	SCX_WAKE_TTWU = 8,
	SCX_WAKE_SYNC = 16,
};
enum scx_enq_flags {
	SCX_ENQ_WAKEUP = 1,
	SCX_ENQ_HEAD = 16,
	SCX_ENQ_CPU_SELECTED = 1024,
	SCX_ENQ_PREEMPT = 0x100000000ULL,
	SCX_ENQ_REENQ = 0x10000000000ULL,
	SCX_ENQ_LAST = 0x20000000000ULL,
	__SCX_ENQ_INTERNAL_MASK = 0xff00000000000000ULL,
	SCX_ENQ_CLEAR_OPSS = 0x100000000000000ULL,
	SCX_ENQ_DSQ_PRIQ = 0x200000000000000ULL,
};
enum scx_deq_flags {
	SCX_DEQ_SLEEP = 1,
	SCX_DEQ_CORE_SCHED_EXEC = 0x100000000ULL,
};
enum scx_pick_idle_cpu_flags {
	SCX_PICK_IDLE_CORE = 1,
};
enum scx_kick_flags {
	SCX_KICK_IDLE = 1,
	SCX_KICK_PREEMPT = 2,
	SCX_KICK_WAIT = 4,
};
enum scx_tg_flags {
	SCX_TG_ONLINE = 1,
	SCX_TG_INITED = 2,
};
enum scx_ops_state {
	SCX_OPSS_NONE = 0,
	SCX_OPSS_QUEUEING = 1,
	SCX_OPSS_QUEUED = 2,
	SCX_OPSS_DISPATCHING = 3,
	SCX_OPSS_QSEQ_SHIFT = 2,
};
enum scx_dsq_iter_flags {
	SCX_DSQ_ITER_REV = 65536,
	__SCX_DSQ_ITER_HAS_SLICE = 1073741824,
	__SCX_DSQ_ITER_HAS_VTIME = 2147483648,
	__SCX_DSQ_ITER_USER_FLAGS = 65536,
	__SCX_DSQ_ITER_ALL_FLAGS = 3221291008,
};
enum scx_ent_flags {
	SCX_TASK_QUEUED = 1,
	SCX_TASK_RESET_RUNNABLE_AT = 4,
	SCX_TASK_DEQD_FOR_SLEEP = 8,
	SCX_TASK_STATE_SHIFT = 8,
	SCX_TASK_STATE_BITS = 2,
	SCX_TASK_STATE_MASK = 768,
	SCX_TASK_CURSOR = 2147483648,
};
enum scx_task_state {
	SCX_TASK_NONE = 0,
	SCX_TASK_INIT = 1,
	SCX_TASK_READY = 2,
	SCX_TASK_ENABLED = 3,
	SCX_TASK_NR_STATES = 4,
};
enum scx_ent_dsq_flags {
	SCX_TASK_DSQ_ON_PRIQ = 1,
};
enum scx_kf_mask {
	SCX_KF_UNLOCKED = 0,
	SCX_KF_CPU_RELEASE = 1,
	SCX_KF_DISPATCH = 2,
	SCX_KF_ENQUEUE = 4,
	SCX_KF_SELECT_CPU = 8,
	SCX_KF_REST = 16,
	__SCX_KF_RQ_LOCKED = 31,
	__SCX_KF_TERMINAL = 28,
};
enum scx_dsq_lnode_flags {
	SCX_DSQ_LNODE_ITER_CURSOR = 1,
	__SCX_DSQ_LNODE_PRIV_SHIFT = 16,
};
struct atomic_t {
	char __shuffle_pad[24];
	int counter;
} __attribute__((preserve_access_index));
struct atomic_long_t {
	char __shuffle_pad[24];
	long counter;
} __attribute__((preserve_access_index));
struct refcount_struct {
	char __shuffle_pad[24];
	struct atomic_t refs;
} __attribute__((preserve_access_index));
struct list_head {
	char __shuffle_pad[24];
	struct list_head *prev;
	struct list_head *next;
} __attribute__((preserve_access_index));
struct rb_node {
	char __shuffle_pad[24];
	struct rb_node *rb_left;
	struct rb_node *rb_right;
	unsigned long __rb_parent_color;
} __attribute__((preserve_access_index));
struct rb_root {
	char __shuffle_pad[24];
	struct rb_node *rb_node;
} __attribute__((preserve_access_index));
struct raw_spinlock {
	char __shuffle_pad[24];
	u32 raw_lock;
} __attribute__((preserve_access_index));
struct cpumask {
	char __shuffle_pad[24];
	unsigned long bits[8];
} __attribute__((preserve_access_index));
struct load_weight {
	char __shuffle_pad[24];
	u32 inv_weight;
	unsigned long weight;
} __attribute__((preserve_access_index));
struct scx_dispatch_q {
	char __shuffle_pad[24];
	struct list_head free_node;
	u64 id;
	u32 seq;
	u32 nr;
	struct rb_root priq;
	struct list_head list;
	raw_spinlock_t lock;
} __attribute__((preserve_access_index));
struct thread_info {
	char __shuffle_pad[24];
	u32 cpu;
	u32 status;
	unsigned long syscall_work;
	unsigned long flags;
} __attribute__((preserve_access_index));
struct sched_entity {
	char __shuffle_pad[24];
	u64 nr_migrations;
	u64 slice;
	s64 vlag;
	u64 vruntime;
	u64 prev_sum_exec_runtime;
	u64 sum_exec_runtime;
	u64 exec_start;
	unsigned int on_rq;
	u64 min_vruntime;
	u64 deadline;
	struct rb_node run_node;
	struct load_weight load;
} __attribute__((preserve_access_index));
struct scx_dsq_list_node {
	char __shuffle_pad[24];
	u32 priv;
	u32 flags;
	struct list_head node;
} __attribute__((preserve_access_index));
struct sched_ext_entity {
	char __shuffle_pad[24];
	struct list_head tasks_node;
	struct cgroup *cgrp_moving_from;
	bool disallow;
	u64 dsq_vtime;
	u64 slice;
	u64 ddsp_enq_flags;
	u64 ddsp_dsq_id;
	u64 core_sched_at;
	unsigned long runnable_at;
	struct list_head runnable_node;
	struct atomic_long_t ops_state;
	struct task_struct *kf_tasks[2];
	u32 ops_qseq;
	u32 kf_mask;
	s32 holding_cpu;
	s32 sticky_cpu;
	u32 weight;
	u32 flags;
	u32 dsq_flags;
	u32 dsq_seq;
	struct rb_node dsq_priq;
	struct scx_dsq_list_node dsq_list;
	struct scx_dispatch_q *dsq;
} __attribute__((preserve_access_index));
struct task_struct {
	char __shuffle_pad[24];
	char comm[16];
	u64 start_time;
	struct task_struct *group_leader;
	struct task_struct *parent;
	struct task_struct *real_parent;
	pid_t tgid;
	pid_t pid;
	int exit_code;
	int exit_state;
	unsigned short migration_disabled;
	cpumask_t cpus_mask;
	cpumask_t *user_cpus_ptr;
	const cpumask_t *cpus_ptr;
	int nr_cpus_allowed;
	unsigned int policy;
	struct sched_ext_entity scx;
	struct sched_entity se;
	unsigned int rt_priority;
	int normal_prio;
	int static_prio;
	int prio;
	int on_rq;
	int wake_cpu;
	int on_cpu;
	unsigned int flags;
	refcount_t usage;
	void *stack;
	unsigned int __state;
	struct thread_info thread_info;
} __attribute__((preserve_access_index));
struct cgroup_subsys_state {
	char __shuffle_pad[24];
	unsigned int flags;
	int id;
	struct cgroup_subsys_state *parent;
	u64 serial_nr;
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));
struct cgroup {
	char __shuffle_pad[24];
	struct cgroup *ancestors[0];
	struct kernfs_node *kn;
	int nr_descendants;
	int max_depth;
	int level;
	unsigned long flags;
	struct cgroup_subsys_state self;
} __attribute__((preserve_access_index));
struct kernfs_node {
	char __shuffle_pad[24];
	unsigned short flags;
	u64 id;
	const char *name;
	struct kernfs_node *parent;
	struct atomic_t active;
	struct atomic_t count;
} __attribute__((preserve_access_index));
struct scx_rq {
	char __shuffle_pad[24];
	bool cpu_released;
	u32 cpuperf_target;
	u32 flags;
	u32 nr_running;
	u64 extra_enq_flags;
	unsigned long ops_qseq;
	struct list_head ddsp_deferred_locals;
	struct list_head runnable_list;
	struct scx_dispatch_q local_dsq;
} __attribute__((preserve_access_index));
struct rq {
	char __shuffle_pad[24];
	int online;
	int cpu;
	u64 clock_task;
	u64 clock;
	struct task_struct *idle;
	struct task_struct *curr;
	struct scx_rq scx;
	u64 nr_switches;
	unsigned int nr_running;
	raw_spinlock_t __lock;
} __attribute__((preserve_access_index));
struct scx_exit_info {
	char __shuffle_pad[24];
	char *dump;
	char *msg;
	u32 bt_len;
	unsigned long *bt;
	const char *reason;
	s64 exit_code;
	enum scx_exit_kind kind;
} __attribute__((preserve_access_index));
struct scx_init_task_args {
	char __shuffle_pad[24];
	struct cgroup *cgroup;
	bool fork;
} __attribute__((preserve_access_index));
struct scx_exit_task_args {
	char __shuffle_pad[24];
	bool cancelled;
} __attribute__((preserve_access_index));
struct scx_cgroup_init_args {
	char __shuffle_pad[24];
	u32 weight;
} __attribute__((preserve_access_index));
struct scx_cpu_acquire_args {
	char __shuffle_pad[24];
} __attribute__((preserve_access_index));
struct scx_cpu_release_args {
	char __shuffle_pad[24];
	struct task_struct *task;
	enum scx_cpu_preempt_reason reason;
} __attribute__((preserve_access_index));
struct scx_dump_ctx {
	char __shuffle_pad[24];
	u64 at_jiffies;
	u64 at_ns;
	const char *reason;
	s64 exit_code;
	enum scx_exit_kind kind;
} __attribute__((preserve_access_index));
struct bpf_iter_scx_dsq {
	char __shuffle_pad[24];
	u64 __opaque[6];
} __attribute__((preserve_access_index));
struct bpf_iter_num {
	char __shuffle_pad[24];
	u64 __opaque[1];
} __attribute__((preserve_access_index));
struct bpf_cpumask {
	char __shuffle_pad[24];
	refcount_t usage;
	cpumask_t cpumask;
} __attribute__((preserve_access_index));
