/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * scx_sim_vtime: a global-queue scheduler for scxsim's tests.
 *
 * All tasks share one DSQ created in ops.init(). In vtime mode (default)
 * tasks are ordered by virtual time, charged in ops.stopping() in inverse
 * proportion to their weight; with fifo_mode set the DSQ is plain FIFO.
 * Wakeups that find an idle CPU go straight to that CPU's local DSQ.
 */
#include "scx_sim.bpf.h"

char _license[] SEC("license") = "GPL";

#define GLOBAL_DSQ 7

const volatile bool fifo_mode;
const volatile u64 slice_ns = 20000000;

static u64 clock_vtime;
struct scx_sim_exit exit_info SEC(".data");

enum stat_idx { STAT_DIRECT, STAT_QUEUED, STAT_CONSUMED, NR_STATS };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_STATS);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

static void bump(u32 idx)
{
	u64 *cnt = bpf_map_lookup_elem(&stats, &idx);

	if (cnt)
		(*cnt)++;
}

static bool before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

s32 BPF_STRUCT_OPS(vt_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &idle);

	if (idle) {
		bump(STAT_DIRECT);
		scx_bpf_dispatch(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(vt_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 vtime = p->scx.dsq_vtime;

	bump(STAT_QUEUED);
	if (fifo_mode) {
		scx_bpf_dispatch(p, GLOBAL_DSQ, slice_ns, enq_flags);
		return;
	}
	/* Bound the credit a long sleeper can bank to one slice. */
	if (before(vtime, clock_vtime - slice_ns))
		vtime = clock_vtime - slice_ns;
	scx_bpf_dispatch_vtime(p, GLOBAL_DSQ, slice_ns, vtime, enq_flags);
}

void BPF_STRUCT_OPS(vt_dispatch, s32 cpu, struct task_struct *prev)
{
	if (scx_bpf_consume(GLOBAL_DSQ))
		bump(STAT_CONSUMED);
}

void BPF_STRUCT_OPS(vt_running, struct task_struct *p)
{
	if (fifo_mode)
		return;
	if (before(clock_vtime, p->scx.dsq_vtime))
		clock_vtime = p->scx.dsq_vtime;
}

void BPF_STRUCT_OPS(vt_stopping, struct task_struct *p, bool runnable)
{
	if (fifo_mode)
		return;
	/* Charge the used part of the slice, scaled by 100 / weight. */
	p->scx.dsq_vtime += (slice_ns - p->scx.slice) * 100 / p->scx.weight;
}

void BPF_STRUCT_OPS(vt_enable, struct task_struct *p)
{
	p->scx.dsq_vtime = clock_vtime;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(vt_init)
{
	return scx_bpf_create_dsq(GLOBAL_DSQ, -1);
}

void BPF_STRUCT_OPS(vt_exit, struct scx_exit_info *ei)
{
	SCX_SIM_RECORD_EXIT(exit_info, ei);
}

SCX_OPS_DEFINE(vtime_ops,
	       .select_cpu = (void *)vt_select_cpu,
	       .enqueue = (void *)vt_enqueue,
	       .dispatch = (void *)vt_dispatch,
	       .running = (void *)vt_running,
	       .stopping = (void *)vt_stopping,
	       .enable = (void *)vt_enable,
	       .init = (void *)vt_init,
	       .exit = (void *)vt_exit,
	       .timeout_ms = 3000,
	       .name = "sim_vtime");
