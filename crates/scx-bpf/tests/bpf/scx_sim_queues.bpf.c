/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * scx_sim_queues: BPF-side queueing by PID for scxsim's tests.
 *
 * Three BPF_MAP_TYPE_QUEUE maps, reached through an array of maps, hold
 * PIDs by weight class. ops.dispatch() pops PIDs, turns them back into
 * tasks with bpf_task_from_pid() and moves them to a shared DSQ. Tasks
 * with the "urgent" flag in their task storage are pulled out of the
 * shared DSQ with the DSQ iterator. When stall_after_dispatches is set,
 * once that many tasks were dispatched, dispatch keeps dispatching PID 2
 * (an ineligible kernel thread) to the local DSQ, forcing the kernel to
 * call it again and again.
 */
#include "scx_sim.bpf.h"

char _license[] SEC("license") = "GPL";

#define SHARED_DSQ 1
#define URGENT_DSQ 2
#define NR_QUEUES 3

const volatile u64 slice_ns = 5000000;
const volatile u32 stall_after_dispatches;

u64 nr_enqueued, nr_dispatched, nr_reenqueued, nr_missing, nr_urgent;
struct scx_sim_exit exit_info SEC(".data");

struct pid_queue {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 64);
	__type(value, s32);
} q_low SEC(".maps"), q_mid SEC(".maps"), q_high SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, NR_QUEUES);
	__type(key, int);
	__array(values, struct pid_queue);
} queues SEC(".maps") = {
	.values = { [0] = &q_low, [1] = &q_mid, [2] = &q_high },
};

struct task_ctx {
	bool urgent;
	u32 enqueues;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

static int queue_of(u32 weight)
{
	if (weight < 100)
		return 0;
	if (weight == 100)
		return 1;
	return 2;
}

void BPF_STRUCT_OPS(q_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;
	s32 pid = p->pid;
	int idx = queue_of(p->scx.weight);
	void *q;

	if (enq_flags & SCX_ENQ_REENQ) {
		__sync_fetch_and_add(&nr_reenqueued, 1);
		scx_bpf_dispatch(p, SHARED_DSQ, slice_ns, enq_flags);
		return;
	}
	tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	if (!tctx) {
		scx_bpf_error("no task_ctx for pid %d", pid);
		return;
	}
	tctx->enqueues++;
	q = bpf_map_lookup_elem(&queues, &idx);
	if (!q) {
		scx_bpf_error("no queue %d", idx);
		return;
	}
	if (bpf_map_push_elem(q, &pid, 0)) {
		scx_bpf_dispatch(p, SHARED_DSQ, slice_ns, enq_flags);
		return;
	}
	__sync_fetch_and_add(&nr_enqueued, 1);
}

/* Move urgent tasks from the shared DSQ to the urgent DSQ. */
static void promote_urgent(void)
{
	struct task_struct *p;

	bpf_for_each(scx_dsq, p, SHARED_DSQ, 0) {
		struct task_ctx *tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);

		if (!tctx || !tctx->urgent)
			continue;
		scx_bpf_dispatch_from_dsq_set_slice(BPF_FOR_EACH_ITER, slice_ns * 2);
		if (scx_bpf_dispatch_from_dsq(BPF_FOR_EACH_ITER, p, URGENT_DSQ, 0))
			__sync_fetch_and_add(&nr_urgent, 1);
	}
}

void BPF_STRUCT_OPS(q_dispatch, s32 cpu, struct task_struct *prev)
{
	struct task_struct *p;
	s32 pid;
	int i;

	promote_urgent();
	if (scx_bpf_consume(URGENT_DSQ))
		return;

	if (stall_after_dispatches && nr_dispatched >= stall_after_dispatches) {
		p = bpf_task_from_pid(2);
		if (p) {
			scx_bpf_dispatch(p, SCX_DSQ_LOCAL, slice_ns, 0);
			bpf_task_release(p);
			return;
		}
	}

	for (i = NR_QUEUES - 1; i >= 0; i--) {
		void *q = bpf_map_lookup_elem(&queues, &i);

		if (!q)
			return;
		bpf_repeat(8) {
			if (bpf_map_pop_elem(q, &pid))
				break;
			p = bpf_task_from_pid(pid);
			if (!p) {
				__sync_fetch_and_add(&nr_missing, 1);
				continue;
			}
			scx_bpf_dispatch(p, SHARED_DSQ, slice_ns, 0);
			bpf_task_release(p);
			__sync_fetch_and_add(&nr_dispatched, 1);
			if (!scx_bpf_dispatch_nr_slots())
				break;
		}
	}
	scx_bpf_consume(SHARED_DSQ);
}

void BPF_STRUCT_OPS(q_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	scx_bpf_reenqueue_local();
}

s32 BPF_STRUCT_OPS(q_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!tctx)
		return -ENOMEM;
	tctx->urgent = p->prio < 110;
	return 0;
}

void BPF_STRUCT_OPS(q_dump, struct scx_dump_ctx *dctx)
{
	scx_bpf_dump("queues: enq=%llu dsp=%llu", nr_enqueued, nr_dispatched);
}

void BPF_STRUCT_OPS(q_cpu_online, s32 cpu)
{
	bpf_printk("cpu %d online, %s", cpu, "hello");
}

s32 BPF_STRUCT_OPS_SLEEPABLE(q_init)
{
	s32 ret = scx_bpf_create_dsq(SHARED_DSQ, -1);

	if (ret)
		return ret;
	return scx_bpf_create_dsq(URGENT_DSQ, -1);
}

void BPF_STRUCT_OPS(q_exit, struct scx_exit_info *ei)
{
	SCX_SIM_RECORD_EXIT(exit_info, ei);
}

SCX_OPS_DEFINE(queues_ops,
	       .enqueue = (void *)q_enqueue,
	       .dispatch = (void *)q_dispatch,
	       .cpu_release = (void *)q_cpu_release,
	       .init_task = (void *)q_init_task,
	       .dump = (void *)q_dump,
	       .cpu_online = (void *)q_cpu_online,
	       .init = (void *)q_init,
	       .exit = (void *)q_exit,
	       .flags = SCX_OPS_ENQ_LAST,
	       .timeout_ms = 5000U,
	       .name = "sim_queues");
