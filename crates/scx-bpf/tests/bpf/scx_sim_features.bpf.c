/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * scx_sim_features: one small program per BPF-side feature, each called
 * directly by scx-bpf's tests (they are not in a struct_ops table).
 * Programs return values the tests check; some deliberately fault.
 */
#include "scx_sim.bpf.h"

char _license[] SEC("license") = "GPL";

/* ---- rbtree + list under a spin lock, in a private data section */

struct node_data {
	struct bpf_rb_node node;
	struct bpf_list_node lnode;
	u64 key;
};

private(A) struct bpf_spin_lock glock;
private(A) struct bpf_rb_root groot __contains(node_data, node);
private(A) struct bpf_list_head ghead __contains(node_data, lnode);

static bool less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct node_data *na = (void *)a, *nb = (void *)b;

	return na->key < nb->key;
}

static long add_key(u64 key)
{
	struct node_data *n = bpf_obj_new(struct node_data);

	if (!n)
		return -1;
	n->key = key;
	bpf_spin_lock(&glock);
	bpf_rbtree_add(&groot, &n->node, less);
	bpf_spin_unlock(&glock);
	return 0;
}

static u64 pop_first(void)
{
	struct bpf_rb_node *rb;
	struct node_data *n;
	u64 key;

	bpf_spin_lock(&glock);
	rb = bpf_rbtree_first(&groot);
	if (!rb) {
		bpf_spin_unlock(&glock);
		return 0;
	}
	rb = bpf_rbtree_remove(&groot, rb);
	bpf_spin_unlock(&glock);
	if (!rb)
		return 0;
	n = (void *)rb;
	key = n->key;
	bpf_obj_drop(n);
	return key;
}

/* Insert 50, 10, 30 and pop them back: returns 10*10000 + 30*100 + 50. */
SEC("struct_ops/f_rbtree") u64 f_rbtree(unsigned long long *ctx)
{
	u64 a, b, c;

	add_key(50);
	add_key(10);
	add_key(30);
	a = pop_first();
	b = pop_first();
	c = pop_first();
	return a * 10000 + b * 100 + c;
}

/* push_back 1, push_back 2, push_front 3; pop_front, pop_back, pop_back. */
SEC("struct_ops/f_list") u64 f_list(unsigned long long *ctx)
{
	u64 out = 0, keys[3] = { 1, 2, 3 };
	int i;

	for (i = 0; i < 3; i++) {
		struct node_data *n = bpf_obj_new(struct node_data);

		if (!n)
			return 999;
		n->key = keys[i];
		bpf_spin_lock(&glock);
		if (i == 2)
			bpf_list_push_front(&ghead, &n->lnode);
		else
			bpf_list_push_back(&ghead, &n->lnode);
		bpf_spin_unlock(&glock);
	}
	for (i = 0; i < 3; i++) {
		struct bpf_list_node *l;
		struct node_data *n;

		bpf_spin_lock(&glock);
		l = i == 0 ? bpf_list_pop_front(&ghead) : bpf_list_pop_back(&ghead);
		bpf_spin_unlock(&glock);
		if (!l)
			return 998;
		n = (void *)((char *)l - __builtin_offsetof(struct node_data, lnode));
		out = out * 10 + n->key;
		bpf_obj_drop(n);
	}
	return out;
}

/* ---- cpumask kfuncs, kptr stashing */

struct mask_holder {
	struct bpf_cpumask __kptr *mask;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct mask_holder);
} masks SEC(".maps");

/* ctx[0] = task. Returns weight(mask) | first<<8 | (mask & task allowed weight)<<16. */
SEC("struct_ops/f_cpumask") u64 f_cpumask(unsigned long long *ctx)
{
	struct task_struct *p = (void *)ctx[0];
	struct bpf_cpumask *m = bpf_cpumask_create(), *tmp, *old;
	struct mask_holder *h;
	u32 key = 0;
	u64 ret;

	if (!m)
		return 0;
	bpf_cpumask_set_cpu(1, m);
	bpf_cpumask_set_cpu(3, m);
	bpf_cpumask_set_cpu(9999, m);
	tmp = bpf_cpumask_create();
	if (!tmp) {
		bpf_cpumask_release(m);
		return 0;
	}
	bpf_cpumask_and(tmp, cast_mask(m), p->cpus_ptr);
	ret = bpf_cpumask_weight(cast_mask(m)) | (bpf_cpumask_first(cast_mask(m)) << 8) |
	      ((u64)bpf_cpumask_weight(cast_mask(tmp)) << 16) |
	      ((u64)bpf_cpumask_test_cpu(3, cast_mask(m)) << 24);
	bpf_cpumask_release(tmp);
	h = bpf_map_lookup_elem(&masks, &key);
	if (!h) {
		bpf_cpumask_release(m);
		return 0;
	}
	old = bpf_kptr_xchg(&h->mask, m);
	if (old)
		bpf_cpumask_release(old);
	return ret;
}

/* Take the stashed mask back out: returns its weight, or 77 if none. */
SEC("struct_ops/f_cpumask_unstash") u64 f_cpumask_unstash(unsigned long long *ctx)
{
	struct mask_holder *h;
	struct bpf_cpumask *m;
	u32 key = 0;
	u64 w;

	h = bpf_map_lookup_elem(&masks, &key);
	if (!h)
		return 0;
	m = bpf_kptr_xchg(&h->mask, NULL);
	if (!m)
		return 77;
	w = bpf_cpumask_weight(cast_mask(m));
	bpf_cpumask_release(m);
	return w;
}

/* ---- ring buffer */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct event {
	u32 pid;
	u32 kind;
	u64 value;
};

/* ctx[0] = value. Submits one reserved record, discards one, outputs one. */
SEC("struct_ops/f_ringbuf") u64 f_ringbuf(unsigned long long *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	struct event out = { .pid = 7, .kind = 2, .value = ctx[0] + 1 };

	if (!e)
		return 1;
	e->pid = 7;
	e->kind = 1;
	e->value = ctx[0];
	bpf_ringbuf_submit(e, 0);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e)
		bpf_ringbuf_discard(e, 0);
	return bpf_ringbuf_output(&events, &out, sizeof(out), 0);
}

/* ---- hash maps */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} recent SEC(".maps");

/* ctx[0] = key: count it; also record it in the LRU. Returns the count. */
SEC("struct_ops/f_hash") u64 f_hash(unsigned long long *ctx)
{
	u32 key = ctx[0];
	u64 one = 1, *v;

	v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	bpf_map_update_elem(&recent, &key, &one, BPF_ANY);
	v = bpf_map_lookup_elem(&counts, &key);
	return v ? *v : 0;
}

/* ---- bpf_loop and number iterators */

struct loop_ctx {
	u64 sum;
	u64 stop_at;
};

static long loop_body(u32 i, struct loop_ctx *c)
{
	c->sum += i;
	return i + 1 == c->stop_at;
}

/* ctx[0] = n, ctx[1] = stop_at. Returns iterations << 32 | sum. */
SEC("struct_ops/f_loop") u64 f_loop(unsigned long long *ctx)
{
	struct loop_ctx c = { .sum = 0, .stop_at = ctx[1] };
	long n = bpf_loop(ctx[0], loop_body, &c, 0);

	return ((u64)n << 32) | c.sum;
}

/* ctx[0] = n. Sum of 0..n with bpf_for, plus bpf_repeat count. */
SEC("struct_ops/f_iter_num") u64 f_iter_num(unsigned long long *ctx)
{
	u64 sum = 0, reps = 0;
	int i, n = ctx[0];

	bpf_for(i, 0, n)
		sum += i;
	bpf_repeat(5)
		reps++;
	return sum * 100 + reps;
}

/* ---- atomics */

u64 atom64 = 100;
u32 atom32 = 100;

/* Returns a checksum of fetch results; tests also read the globals. */
SEC("struct_ops/f_atomics") u64 f_atomics(unsigned long long *ctx)
{
	u64 r = 0;

	r += __sync_fetch_and_add(&atom64, 5);	/* 100 -> 105 */
	r += __sync_fetch_and_or(&atom64, 0x100);	/* 105 -> 0x169 */
	r += __sync_fetch_and_and(&atom64, 0xff);	/* -> 0x69 */
	r += __sync_fetch_and_xor(&atom64, 0x1);	/* -> 0x68 */
	r += __sync_val_compare_and_swap(&atom64, 0x68, 7);	/* -> 7 */
	r += __sync_lock_test_and_set(&atom64, 9);	/* xchg -> 9 */
	__sync_fetch_and_add(&atom32, 1);
	r += __sync_val_compare_and_swap(&atom32, 101, 55);
	__sync_fetch_and_sub(&atom32, 5);
	return r;
}

/* ---- kernel fields */

/*
 * ctx[0] = task. Writes p->scx.slice = 1234 and returns
 * pid | weight<<16 | (cpus_ptr word 0 & 0xff)<<32 | parent pid<<40 | comm[0]<<56.
 */
SEC("struct_ops/f_task_fields") u64 f_task_fields(unsigned long long *ctx)
{
	struct task_struct *p = (void *)ctx[0];
	char comm[16];

	bpf_probe_read_kernel_str(comm, sizeof(comm), p->comm);
	p->scx.slice = 1234;
	return (u64)p->pid | ((u64)p->scx.weight << 16) | ((p->cpus_ptr->bits[0] & 0xff) << 32) |
	       ((u64)(p->real_parent->pid & 0xff) << 40) | ((u64)comm[0] << 56);
}

/* ctx[0] = task: stores to p->pid, which the verifier would reject. */
SEC("struct_ops/f_bad_write") u64 f_bad_write(unsigned long long *ctx)
{
	struct task_struct *p = (void *)ctx[0];

	p->pid = 1;
	return 0;
}

/* ctx[0] = cgroup. Returns kn->id | level<<16 | root ancestor id<<32. */
SEC("struct_ops/f_cgroup") u64 f_cgroup(unsigned long long *ctx)
{
	struct cgroup *cg = (void *)ctx[0];
	struct cgroup *anc = bpf_cgroup_ancestor(cg, 0);
	u64 root = 0;

	if (anc) {
		root = anc->kn->id;
		bpf_cgroup_release(anc);
	}
	return cg->kn->id | ((u64)cg->level << 16) | (root << 32) | ((u64)(cg->ancestors[1]->kn->id & 0xff) << 48);
}

struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64);
} cg_stor SEC(".maps");

/* ctx[0] = cgroup: bump and return its storage counter. */
SEC("struct_ops/f_cgrp_storage") u64 f_cgrp_storage(unsigned long long *ctx)
{
	u64 *v = bpf_cgrp_storage_get(&cg_stor, (void *)ctx[0], 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!v)
		return 0;
	return ++*v;
}

/* ---- CO-RE existence checks, answered as 6.12 would */

struct sched_ext_entity___future {
	u64 slice;
	u64 field_from_a_later_kernel;
} __attribute__((preserve_access_index));

enum scx_enq_flags___future {
	SCX_ENQ_PREEMPT___future = 1ULL << 32,
	SCX_ENQ_ONLY_IN_LATER___future = 1ULL << 33,
};

/* Returns bit flags: which fields/enumerators/types exist. */
SEC("struct_ops/f_core") u64 f_core(unsigned long long *ctx)
{
	struct task_struct *p = (void *)ctx[0];
	struct sched_ext_entity___future *fut = (void *)&p->scx;
	u64 r = 0;

	r |= bpf_core_field_exists(p->scx.dsq_vtime) << 0;
	r |= bpf_core_field_exists(p->migration_disabled) << 1;
	r |= bpf_core_field_exists(fut->slice) << 2;
	r |= bpf_core_field_exists(fut->field_from_a_later_kernel) << 3;
	r |= bpf_core_enum_value_exists(enum scx_enq_flags___future, SCX_ENQ_PREEMPT___future) << 4;
	r |= bpf_core_enum_value_exists(enum scx_enq_flags___future, SCX_ENQ_ONLY_IN_LATER___future) << 5;
	r |= bpf_core_type_exists(struct scx_exit_info) << 6;
	r |= (bpf_core_field_size(p->comm) == 16) << 7;
	r |= (bpf_core_enum_value(enum scx_enq_flags___future, SCX_ENQ_PREEMPT___future) == 1ULL << 32) << 8;
	r |= bpf_ksym_exists(scx_bpf_task_cgroup) << 9;
	return r;
}

/* ctx[0] = task: reads a field that does not exist in 6.12 (poisoned). */
SEC("struct_ops/f_core_poison") u64 f_core_poison(unsigned long long *ctx)
{
	struct task_struct *p = (void *)ctx[0];
	struct sched_ext_entity___future *fut = (void *)&p->scx;

	return fut->field_from_a_later_kernel;
}

/* ---- printk, snprintf, prandom */

SEC("struct_ops/f_printk") u64 f_printk(unsigned long long *ctx)
{
	char buf[32];
	u64 args[2];

	/* Filled at run time: BPF global data cannot hold addresses. */
	args[0] = ctx[0];
	args[1] = (u64)"xyz";

	bpf_printk("four %d %u %x %s", -1, 7, 255, "str");
	bpf_snprintf(buf, sizeof(buf), "n=%d s=%s", args, sizeof(args));
	bpf_printk("%s", buf);
	return bpf_get_prandom_u32();
}

/* ---- faults */

u64 spin_forever = 1;

SEC("struct_ops/f_runaway") u64 f_runaway(unsigned long long *ctx)
{
	u64 n = 0;

	while (READ_ONCE(spin_forever))
		n++;
	return n;
}

/* ctx[0] = index into an 8-byte map value: out of bounds when >= 1. */
SEC("struct_ops/f_oob") u64 f_oob(unsigned long long *ctx)
{
	u32 key = 3;
	u64 *v = bpf_map_lookup_elem(&counts, &key);
	u64 one = 1;

	if (!v) {
		bpf_map_update_elem(&counts, &key, &one, BPF_ANY);
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v)
			return 0;
	}
	return v[ctx[0]];
}

/* Acquires a task reference and never releases it. */
SEC("struct_ops/f_leak") u64 f_leak(unsigned long long *ctx)
{
	struct task_struct *p = bpf_task_from_pid(1);

	return p ? 1 : 0;
}

/* Calls a kernel function through scx_bpf_error with a bad format. */
SEC("struct_ops/f_error") u64 f_error(unsigned long long *ctx)
{
	scx_bpf_error("bad value %d in %s (%llx)", -5, "place", 0xabcULL);
	return 0;
}

/* ---- arithmetic that -mcpu=v4 turns into sdiv/smod/movsx/ldsx/bswap */

s8 small8[2] = { -3, 5 };
s16 small16[2] = { -300, 7 };
s32 small32[2] = { -70000, 9 };

#if defined(__BPF_CPU_VERSION__) && __BPF_CPU_VERSION__ >= 4
#define SDIV(a, b) ((a) / (b))
#define SMOD(a, b) ((a) % (b))
#else
/* v3 has no signed division: divide magnitudes, then fix the signs. */
#define __MAG(x) ((x) < 0 ? -(u64)(x) : (u64)(x))
#define SDIV(a, b) (((a) < 0) != ((b) < 0) ? -(s64)(__MAG(a) / __MAG(b)) : (s64)(__MAG(a) / __MAG(b)))
#define SMOD(a, b) ((a) < 0 ? -(s64)(__MAG(a) % __MAG(b)) : (s64)(__MAG(a) % __MAG(b)))
#endif

/* ctx[0] = divisor (signed, non-zero), ctx[1] = index. Returns a mix. */
SEC("struct_ops/f_v4ops") u64 f_v4ops(unsigned long long *ctx)
{
	s64 d = (s64)ctx[0], n = -1000;
	s32 d32 = (s32)ctx[0], n32 = -1000;
	u32 i = ctx[1] & 1;
	s64 q = SDIV(n, d), r = SMOD(n, d);
	s32 q32 = SDIV(n32, d32), r32 = SMOD(n32, d32);
	s64 wide = small8[i] + small16[i] + small32[i];

	return (u64)(q * 1000000 + r * 10000 + q32 * 100 + r32) ^ (u64)wide ^
	       __builtin_bswap64(ctx[0]) ^ __builtin_bswap32((u32)ctx[1]) ^ __builtin_bswap16((u16)ctx[1]);
}

/* ---- spin lock left held (the verifier would reject this) */

SEC("struct_ops/f_lock_leak") u64 f_lock_leak(unsigned long long *ctx)
{
	bpf_spin_lock(&glock);
	return 0;
}

/* ---- timers: init twice, start, cancel, cancel from own callback */

struct timer_val {
	u64 fired;
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, struct timer_val);
} timers SEC(".maps");

s64 self_cancel_ret;
u32 cb_key;

static int timer_cb(void *map, u32 *key, struct timer_val *val)
{
	val->fired++;
	cb_key = *key;
	self_cancel_ret = bpf_timer_cancel(&val->t);
	return 0;
}

/* Returns init | second init << 8 | start << 16 (as small negatives). */
SEC("struct_ops/f_timer") u64 f_timer(unsigned long long *ctx)
{
	u32 key = 1;
	struct timer_val *v = bpf_map_lookup_elem(&timers, &key);
	s64 a, b, c;

	if (!v)
		return 0;
	a = bpf_timer_init(&v->t, &timers, CLOCK_MONOTONIC);
	b = bpf_timer_init(&v->t, &timers, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&v->t, timer_cb);
	c = bpf_timer_start(&v->t, 5000, 0);
	return (u64)(-a) | (u64)(-b) << 8 | (u64)(-c) << 16;
}

SEC("struct_ops/f_timer_cancel") u64 f_timer_cancel(unsigned long long *ctx)
{
	u32 key = 1;
	struct timer_val *v = bpf_map_lookup_elem(&timers, &key);

	return v ? bpf_timer_cancel(&v->t) : 99;
}

/* ---- comm through probe_read_kernel_str and through direct loads */

char last_comm[16];
char direct_comm[4];

SEC("struct_ops/f_comm") u64 f_comm(unsigned long long *ctx)
{
	struct task_struct *p = (void *)ctx[0];
	int i;

	for (i = 0; i < 4; i++)
		direct_comm[i] = p->comm[i + 1];
	return bpf_probe_read_kernel_str(last_comm, sizeof(last_comm), p->comm);
}

/* ---- bstr failure: data__sz not a multiple of 8 */

static char bad_fmt[] = "x=%d";

SEC("struct_ops/f_error_bad_size") u64 f_error_bad_size(unsigned long long *ctx)
{
	unsigned long long data[2] = { 1, 2 };

	scx_bpf_error_bstr(bad_fmt, data, 12);
	return 0;
}
