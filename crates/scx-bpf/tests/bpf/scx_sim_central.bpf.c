/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * scx_sim_central: one CPU makes every scheduling decision.
 *
 * Runnable PIDs wait in a BPF queue. The central CPU's ops.dispatch() hands
 * them to CPUs that asked for work (want_task[], an array the loader resizes
 * to nr_cpu_ids) by dispatching to SCX_DSQ_LOCAL_ON|cpu. A bpf_timer pinned
 * to the central CPU (BPF_F_TIMER_CPU_PIN) periodically kicks CPUs whose
 * task has used up its slice.
 */
#include "scx_sim.bpf.h"

char _license[] SEC("license") = "GPL";

#define FALLBACK_DSQ 0
#define TICK_NS 1000000ULL

const volatile s32 central_cpu;
const volatile u32 nr_cpu_ids = 1;
const volatile u64 slice_ns = 10000000;

u64 nr_timer_runs, nr_kicks, nr_handed;
bool timer_on_wrong_cpu;

bool RESIZABLE_ARRAY(data, want_task);
u64 RESIZABLE_ARRAY(data, run_started);

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 128);
	__type(value, s32);
} pending SEC(".maps");

struct central_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct central_timer);
} timer_map SEC(".maps");

s32 BPF_STRUCT_OPS(c_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	return central_cpu;
}

void BPF_STRUCT_OPS(c_enqueue, struct task_struct *p, u64 enq_flags)
{
	s32 pid = p->pid;

	if ((p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1) {
		scx_bpf_dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_INF, enq_flags | SCX_ENQ_PREEMPT);
		return;
	}
	if (bpf_map_push_elem(&pending, &pid, 0)) {
		scx_bpf_dispatch(p, FALLBACK_DSQ, SCX_SLICE_INF, enq_flags);
		return;
	}
	if (!scx_bpf_task_running(p))
		scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
}

static bool hand_to(s32 cpu)
{
	struct task_struct *p;
	s32 pid;

	bpf_repeat(128) {
		if (bpf_map_pop_elem(&pending, &pid))
			break;
		p = bpf_task_from_pid(pid);
		if (!p)
			continue;
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
			scx_bpf_dispatch(p, FALLBACK_DSQ, SCX_SLICE_INF, 0);
			bpf_task_release(p);
			continue;
		}
		scx_bpf_dispatch(p, SCX_DSQ_LOCAL_ON | cpu, SCX_SLICE_INF, 0);
		if (cpu != central_cpu)
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		bpf_task_release(p);
		nr_handed++;
		return true;
	}
	return false;
}

void BPF_STRUCT_OPS(c_dispatch, s32 cpu, struct task_struct *prev)
{
	s32 i;

	if (cpu != central_cpu) {
		bool *want = ARRAY_ELEM_PTR(want_task, cpu, nr_cpu_ids);

		if (scx_bpf_consume(FALLBACK_DSQ))
			return;
		if (want)
			*want = true;
		scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
		return;
	}
	bpf_for(i, 0, nr_cpu_ids) {
		bool *want = ARRAY_ELEM_PTR(want_task, i, nr_cpu_ids);

		if (!want || !*want)
			continue;
		if (hand_to(i))
			*want = false;
	}
	if (!scx_bpf_consume(FALLBACK_DSQ))
		hand_to(central_cpu);
}

void BPF_STRUCT_OPS(c_running, struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);
	u64 *at = ARRAY_ELEM_PTR(run_started, cpu, nr_cpu_ids);

	if (at)
		*at = bpf_ktime_get_ns() ?: 1;
}

void BPF_STRUCT_OPS(c_stopping, struct task_struct *p, bool runnable)
{
	s32 cpu = scx_bpf_task_cpu(p);
	u64 *at = ARRAY_ELEM_PTR(run_started, cpu, nr_cpu_ids);

	if (at)
		*at = 0;
}

static int tick_fn(void *map, int *key, struct bpf_timer *timer)
{
	u64 now = bpf_ktime_get_ns();
	s32 i;

	if (bpf_get_smp_processor_id() != central_cpu)
		timer_on_wrong_cpu = true;
	bpf_for(i, 0, nr_cpu_ids) {
		u64 *at = ARRAY_ELEM_PTR(run_started, i, nr_cpu_ids);

		if (i == central_cpu || !at || !*at)
			continue;
		if (now - *at >= slice_ns) {
			scx_bpf_kick_cpu(i, SCX_KICK_PREEMPT);
			nr_kicks++;
		}
	}
	nr_timer_runs++;
	bpf_timer_start(timer, TICK_NS, BPF_F_TIMER_CPU_PIN);
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(c_init)
{
	u32 key = 0;
	struct bpf_timer *timer;
	s32 ret = scx_bpf_create_dsq(FALLBACK_DSQ, -1);

	if (ret)
		return ret;
	timer = bpf_map_lookup_elem(&timer_map, &key);
	if (!timer)
		return -ESRCH;
	bpf_timer_init(timer, &timer_map, CLOCK_MONOTONIC);
	bpf_timer_set_callback(timer, tick_fn);
	return bpf_timer_start(timer, TICK_NS, BPF_F_TIMER_CPU_PIN);
}

SCX_OPS_DEFINE(central_ops,
	       .flags = SCX_OPS_ENQ_LAST,
	       .select_cpu = (void *)c_select_cpu,
	       .enqueue = (void *)c_enqueue,
	       .dispatch = (void *)c_dispatch,
	       .running = (void *)c_running,
	       .stopping = (void *)c_stopping,
	       .init = (void *)c_init,
	       .dispatch_max_batch = 16,
	       .exit_dump_len = 8192,
	       .hotplug_seq = 42,
	       .name = "sim_central");
