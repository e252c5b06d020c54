/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * scx_sim.bpf.h - the programming header for scxsim's own sched_ext test
 * schedulers.
 *
 * Kernel struct layouts come from scx_sim_vmlinux.h, which scx-bpf generates
 * from its kernel type table (src/vmlinux.rs); every struct there carries
 * preserve_access_index, so all field accesses are CO-RE relocated and the
 * same object runs against any layout. This file adds the scalar types, the
 * BPF section/map/helper conventions, the sched_ext kfunc declarations and
 * convenience macros.
 */
#ifndef __SCX_SIM_BPF_H
#define __SCX_SIM_BPF_H

typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)
typedef unsigned char u8;
typedef signed char s8;
typedef unsigned short u16;
typedef short s16;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef s32 __s32;
typedef s64 __s64;

#include <scx_sim_vmlinux.h>

/* ------------------------------------------------------------------ ELF */

#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))
#define __weak __attribute__((weak))
#define __hidden __attribute__((visibility("hidden")))
#define __always_inline inline __attribute__((always_inline))
#define __noinline __attribute__((noinline))

/* BTF-described map definitions: values are encoded in member types. */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]

enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_LRU_PERCPU_HASH = 10,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
	BPF_MAP_TYPE_HASH_OF_MAPS = 13,
	BPF_MAP_TYPE_QUEUE = 22,
	BPF_MAP_TYPE_STACK = 23,
	BPF_MAP_TYPE_RINGBUF = 27,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
	BPF_MAP_TYPE_CGRP_STORAGE = 32,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
	BPF_F_NO_PREALLOC = 1,
	BPF_LOCAL_STORAGE_GET_F_CREATE = 1,
	BPF_F_TIMER_ABS = 1,
	BPF_F_TIMER_CPU_PIN = 2,
	CLOCK_MONOTONIC = 1,
};

#define PF_KTHREAD 0x00200000
#define PF_EXITING 0x00000004
#define ESRCH 3
#define ENOMEM 12
#define EINVAL 22

/* Opaque BPF-side objects (sizes as the 6.12 uapi defines them). */
struct bpf_timer { u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_spin_lock { u32 val; };
struct bpf_rb_root { u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_rb_node { u64 __opaque[4]; } __attribute__((aligned(8)));
struct bpf_list_head { u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_list_node { u64 __opaque[3]; } __attribute__((aligned(8)));
struct bpf_refcount { u32 __opaque[1]; } __attribute__((aligned(4)));
struct bpf_iter_css { u64 __opaque[3]; } __attribute__((aligned(8)));

#define __kptr __attribute__((btf_type_tag("kptr")))
#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))
#define private(name) SEC(".data." #name) __hidden __attribute__((aligned(8)))

/* -------------------------------------------------------------- helpers */

/* A helper is a call to a constant function pointer holding its id. */
#define __scx_helper(ret, name, id, params...) static ret (*const name)(params) = (void *)id

__scx_helper(void *, bpf_map_lookup_elem, 1, void *map, const void *key);
__scx_helper(long, bpf_map_update_elem, 2, void *map, const void *key, const void *value, u64 flags);
__scx_helper(long, bpf_map_delete_elem, 3, void *map, const void *key);
__scx_helper(u64, bpf_ktime_get_ns, 5, void);
__scx_helper(long, bpf_trace_printk, 6, const char *fmt, u32 fmt_size, ...);
__scx_helper(u32, bpf_get_prandom_u32, 7, void);
__scx_helper(u32, bpf_get_smp_processor_id, 8, void);
__scx_helper(long, bpf_map_push_elem, 87, void *map, const void *value, u64 flags);
__scx_helper(long, bpf_map_pop_elem, 88, void *map, void *value);
__scx_helper(long, bpf_map_peek_elem, 89, void *map, void *value);
__scx_helper(long, bpf_spin_lock, 93, struct bpf_spin_lock *lock);
__scx_helper(long, bpf_spin_unlock, 94, struct bpf_spin_lock *lock);
__scx_helper(long, bpf_probe_read_kernel, 113, void *dst, u32 size, const void *src);
__scx_helper(long, bpf_probe_read_kernel_str, 115, void *dst, u32 size, const void *src);
__scx_helper(long, bpf_ringbuf_output, 130, void *ringbuf, void *data, u64 size, u64 flags);
__scx_helper(void *, bpf_ringbuf_reserve, 131, void *ringbuf, u64 size, u64 flags);
__scx_helper(void, bpf_ringbuf_submit, 132, void *data, u64 flags);
__scx_helper(void, bpf_ringbuf_discard, 133, void *data, u64 flags);
__scx_helper(void *, bpf_task_storage_get, 156, void *map, struct task_struct *task, void *value, u64 flags);
__scx_helper(long, bpf_task_storage_delete, 157, void *map, struct task_struct *task);
__scx_helper(long, bpf_snprintf, 165, char *str, u32 str_size, const char *fmt, u64 *data, u32 data_len);
__scx_helper(long, bpf_timer_init, 169, struct bpf_timer *timer, void *map, u64 flags);
__scx_helper(long, bpf_timer_set_callback, 170, struct bpf_timer *timer, void *callback_fn);
__scx_helper(long, bpf_timer_start, 171, struct bpf_timer *timer, u64 nsecs, u64 flags);
__scx_helper(long, bpf_timer_cancel, 172, struct bpf_timer *timer);
__scx_helper(long, bpf_trace_vprintk, 177, const char *fmt, u32 fmt_size, const void *data, u32 data_len);
__scx_helper(long, bpf_loop, 181, u32 nr_loops, void *callback_fn, void *callback_ctx, u64 flags);
__scx_helper(void *, bpf_kptr_xchg, 194, void *map_value, void *ptr);
__scx_helper(void *, bpf_map_lookup_percpu_elem, 195, void *map, const void *key, u32 cpu);
__scx_helper(void *, bpf_cgrp_storage_get, 210, void *map, struct cgroup *cgroup, void *value, u64 flags);
__scx_helper(long, bpf_cgrp_storage_delete, 211, void *map, struct cgroup *cgroup);

/* ------------------------------------------------------- argument magic */

/* Count 0..12 variadic arguments. */
#define __scx_nargs(...) __scx_pick13(_, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define __scx_pick13(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, N, ...) N
#define __scx_cat_(a, b) a##b
#define __scx_cat(a, b) __scx_cat_(a, b)

/* Store each argument into consecutive u64 slots of an array. */
#define __scx_fill(arr, args...) __scx_cat(__scx_fill_, __scx_nargs(args))(arr, ##args)
#define __scx_fill_0(arr)
#define __scx_fill_1(arr, a) arr[0] = (u64)(a);
#define __scx_fill_2(arr, a, b) __scx_fill_1(arr, a) arr[1] = (u64)(b);
#define __scx_fill_3(arr, a, b, c) __scx_fill_2(arr, a, b) arr[2] = (u64)(c);
#define __scx_fill_4(arr, a, b, c, d) __scx_fill_3(arr, a, b, c) arr[3] = (u64)(d);
#define __scx_fill_5(arr, a, b, c, d, e) __scx_fill_4(arr, a, b, c, d) arr[4] = (u64)(e);
#define __scx_fill_6(arr, a, b, c, d, e, f) __scx_fill_5(arr, a, b, c, d, e) arr[5] = (u64)(f);
#define __scx_fill_7(arr, a, b, c, d, e, f, g) __scx_fill_6(arr, a, b, c, d, e, f) arr[6] = (u64)(g);
#define __scx_fill_8(arr, a, b, c, d, e, f, g, h) __scx_fill_7(arr, a, b, c, d, e, f, g) arr[7] = (u64)(h);
#define __scx_fill_9(arr, a, b, c, d, e, f, g, h, i) __scx_fill_8(arr, a, b, c, d, e, f, g, h) arr[8] = (u64)(i);
#define __scx_fill_10(arr, a, b, c, d, e, f, g, h, i, j) __scx_fill_9(arr, a, b, c, d, e, f, g, h, i) arr[9] = (u64)(j);
#define __scx_fill_11(arr, a, b, c, d, e, f, g, h, i, j, k) __scx_fill_10(arr, a, b, c, d, e, f, g, h, i, j) arr[10] = (u64)(k);
#define __scx_fill_12(arr, a, b, c, d, e, f, g, h, i, j, k, l) __scx_fill_11(arr, a, b, c, d, e, f, g, h, i, j, k) arr[11] = (u64)(l);

/* Pass ctx[0..n) as the arguments of a struct_ops body. */
#define __scx_unpack(args...) __scx_cat(__scx_unpack_, __scx_nargs(args))
#define __scx_unpack_0
#define __scx_unpack_1 , (void *)ctx[0]
#define __scx_unpack_2 __scx_unpack_1, (void *)ctx[1]
#define __scx_unpack_3 __scx_unpack_2, (void *)ctx[2]
#define __scx_unpack_4 __scx_unpack_3, (void *)ctx[3]
#define __scx_unpack_5 __scx_unpack_4, (void *)ctx[4]
#define __scx_unpack_6 __scx_unpack_5, (void *)ctx[5]

/*
 * A struct_ops program receives an array of u64 arguments; the body is
 * written with typed parameters. Usage: `s32 BPF_STRUCT_OPS(name, args...)`.
 */
#define __SCX_PROG(secname, name, args...)                                        \
	name(unsigned long long *ctx);                                            \
	static __always_inline typeof(name(0)) __body_##name(unsigned long long *ctx, ##args); \
	SEC(secname) typeof(name(0)) name(unsigned long long *ctx)               \
	{                                                                         \
		_Pragma("GCC diagnostic push")                                    \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")            \
		return __body_##name(ctx __scx_unpack(args));                     \
		_Pragma("GCC diagnostic pop")                                     \
	}                                                                         \
	static __always_inline typeof(name(0)) __body_##name(unsigned long long *ctx, ##args)

#define BPF_STRUCT_OPS(name, args...) __SCX_PROG("struct_ops/" #name, name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) __SCX_PROG("struct_ops.s/" #name, name, ##args)

/* ------------------------------------------------------------------ CO-RE */

#define bpf_core_field_offset(field) __builtin_preserve_field_info(field, 0)
#define bpf_core_field_size(field) __builtin_preserve_field_info(field, 1)
#define bpf_core_field_exists(field) __builtin_preserve_field_info(field, 2)
#define bpf_core_type_exists(type) __builtin_preserve_type_info(*(typeof(type) *)0, 0)
#define bpf_core_type_size(type) __builtin_preserve_type_info(*(typeof(type) *)0, 1)
#define bpf_core_type_id_local(type) __builtin_btf_type_id(*(typeof(type) *)0, 0)
#define bpf_core_type_id_kernel(type) __builtin_btf_type_id(*(typeof(type) *)0, 1)
#define bpf_core_enum_value_exists(enum_type, enumerator) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enumerator, 0)
#define bpf_core_enum_value(enum_type, enumerator) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enumerator, 1)

/* A weak kfunc resolves to 0 when the kernel lacks it. */
#define bpf_ksym_exists(sym) (!!(sym))

/* --------------------------------------------------------------- kfuncs */

s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags, bool *is_idle) __ksym;
void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
void scx_bpf_dispatch_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime, u64 enq_flags) __ksym;
u32 scx_bpf_dispatch_nr_slots(void) __ksym;
void scx_bpf_dispatch_cancel(void) __ksym;
bool scx_bpf_consume(u64 dsq_id) __ksym;
void scx_bpf_dispatch_from_dsq_set_slice(struct bpf_iter_scx_dsq *it__iter, u64 slice) __ksym __weak;
void scx_bpf_dispatch_from_dsq_set_vtime(struct bpf_iter_scx_dsq *it__iter, u64 vtime) __ksym __weak;
bool scx_bpf_dispatch_from_dsq(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p, u64 dsq_id, u64 enq_flags) __ksym __weak;
bool scx_bpf_dispatch_vtime_from_dsq(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p, u64 dsq_id, u64 enq_flags) __ksym __weak;
u32 scx_bpf_reenqueue_local(void) __ksym;
void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym;
s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym;
void scx_bpf_destroy_dsq(u64 dsq_id) __ksym;
int bpf_iter_scx_dsq_new(struct bpf_iter_scx_dsq *it, u64 dsq_id, u64 flags) __ksym __weak;
struct task_struct *bpf_iter_scx_dsq_next(struct bpf_iter_scx_dsq *it) __ksym __weak;
void bpf_iter_scx_dsq_destroy(struct bpf_iter_scx_dsq *it) __ksym __weak;
void scx_bpf_exit_bstr(s64 exit_code, char *fmt, unsigned long long *data, u32 data__sz) __ksym __weak;
void scx_bpf_error_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym;
void scx_bpf_dump_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym __weak;
u32 scx_bpf_cpuperf_cap(s32 cpu) __ksym __weak;
u32 scx_bpf_cpuperf_cur(s32 cpu) __ksym __weak;
void scx_bpf_cpuperf_set(s32 cpu, u32 perf) __ksym __weak;
u32 scx_bpf_nr_cpu_ids(void) __ksym __weak;
const struct cpumask *scx_bpf_get_possible_cpumask(void) __ksym __weak;
const struct cpumask *scx_bpf_get_online_cpumask(void) __ksym __weak;
void scx_bpf_put_cpumask(const struct cpumask *cpumask) __ksym __weak;
const struct cpumask *scx_bpf_get_idle_cpumask(void) __ksym;
const struct cpumask *scx_bpf_get_idle_smtmask(void) __ksym;
void scx_bpf_put_idle_cpumask(const struct cpumask *cpumask) __ksym;
bool scx_bpf_test_and_clear_cpu_idle(s32 cpu) __ksym;
s32 scx_bpf_pick_idle_cpu(const cpumask_t *cpus_allowed, u64 flags) __ksym;
s32 scx_bpf_pick_any_cpu(const cpumask_t *cpus_allowed, u64 flags) __ksym;
bool scx_bpf_task_running(const struct task_struct *p) __ksym;
s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym;
struct rq *scx_bpf_cpu_rq(s32 cpu) __ksym;
struct cgroup *scx_bpf_task_cgroup(struct task_struct *p) __ksym __weak;

struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
void bpf_task_release(struct task_struct *p) __ksym;
struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) __ksym;
struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
void bpf_cgroup_release(struct cgroup *cgrp) __ksym;

void bpf_rcu_read_lock(void) __ksym;
void bpf_rcu_read_unlock(void) __ksym;

void *bpf_obj_new_impl(u64 local_type_id, void *meta) __ksym;
void bpf_obj_drop_impl(void *kptr, void *meta) __ksym;
void *bpf_refcount_acquire_impl(void *kptr, void *meta) __ksym;
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)
#define bpf_refcount_acquire(kptr) bpf_refcount_acquire_impl(kptr, NULL)

int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node,
			bool (less)(struct bpf_rb_node *a, const struct bpf_rb_node *b),
			void *meta, u64 off) __ksym;
struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root) __ksym;
struct bpf_rb_node *bpf_rbtree_remove(struct bpf_rb_root *root, struct bpf_rb_node *node) __ksym;
#define bpf_rbtree_add(root, node, less) bpf_rbtree_add_impl(root, node, less, NULL, 0)
int bpf_list_push_front_impl(struct bpf_list_head *head, struct bpf_list_node *node, void *meta, u64 off) __ksym;
int bpf_list_push_back_impl(struct bpf_list_head *head, struct bpf_list_node *node, void *meta, u64 off) __ksym;
struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head) __ksym;
struct bpf_list_node *bpf_list_pop_back(struct bpf_list_head *head) __ksym;
#define bpf_list_push_front(head, node) bpf_list_push_front_impl(head, node, NULL, 0)
#define bpf_list_push_back(head, node) bpf_list_push_back_impl(head, node, NULL, 0)

struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
struct bpf_cpumask *bpf_cpumask_acquire(struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym;
u32 bpf_cpumask_first(const struct cpumask *cpumask) __ksym;
u32 bpf_cpumask_first_zero(const struct cpumask *cpumask) __ksym;
void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;
bool bpf_cpumask_test_and_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_setall(struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_clear(struct bpf_cpumask *cpumask) __ksym;
bool bpf_cpumask_and(struct bpf_cpumask *dst, const struct cpumask *src1, const struct cpumask *src2) __ksym;
void bpf_cpumask_or(struct bpf_cpumask *dst, const struct cpumask *src1, const struct cpumask *src2) __ksym;
bool bpf_cpumask_equal(const struct cpumask *src1, const struct cpumask *src2) __ksym;
bool bpf_cpumask_empty(const struct cpumask *cpumask) __ksym;
u32 bpf_cpumask_any_distribute(const struct cpumask *cpumask) __ksym;
u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym;
#define cast_mask(m) ((const struct cpumask *)(m))

int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

/* ---------------------------------------------------------------- loops */

/* Iterate an open-coded iterator; `cur` receives each element. */
#define bpf_for_each(kind, cur, args...)                                           \
	for (struct bpf_iter_##kind ___it                                           \
		__attribute__((aligned(8), cleanup(bpf_iter_##kind##_destroy))),   \
	     *___dummy = (bpf_iter_##kind##_new(&___it, ##args), (void *)0);      \
	     ((cur) = bpf_iter_##kind##_next(&___it)); (void)___dummy)

/* The iterator of the innermost bpf_for_each, for dispatch_from_dsq. */
#define BPF_FOR_EACH_ITER (&___it)

/* for (i = start; i < end; i++) with a bounded number iterator. */
#define bpf_for(i, start, end)                                                     \
	for (struct bpf_iter_num ___it                                              \
		__attribute__((aligned(8), cleanup(bpf_iter_num_destroy))),         \
	     *___dummy = (bpf_iter_num_new(&___it, (start), (end)), (void *)0);   \
	     ({ int *___n = bpf_iter_num_next(&___it); if (___n) (i) = *___n; ___n != 0; }); \
	     (void)___dummy)

/* Repeat the body at most n times. */
#define bpf_repeat(n)                                                              \
	for (struct bpf_iter_num ___it                                              \
		__attribute__((aligned(8), cleanup(bpf_iter_num_destroy))),         \
	     *___dummy = (bpf_iter_num_new(&___it, 0, (n)), (void *)0);           \
	     bpf_iter_num_next(&___it); (void)___dummy)

#define BPF_MAX_LOOPS (8 * 1024 * 1024)

/* ------------------------------------------------------ bstr and printk */

#define __scx_bstr(call, fmt, args...)                                              \
	({                                                                          \
		static char ___fmt[] = fmt;                                         \
		unsigned long long ___param[__scx_nargs(args) ?: 1] = {};           \
		__scx_fill(___param, ##args)                                        \
		call;                                                               \
	})

#define scx_bpf_error(fmt, args...) \
	__scx_bstr(scx_bpf_error_bstr(___fmt, ___param, sizeof(___param)), fmt, ##args)
#define scx_bpf_exit(code, fmt, args...) \
	__scx_bstr(scx_bpf_exit_bstr(code, ___fmt, ___param, sizeof(___param)), fmt, ##args)
#define scx_bpf_dump(fmt, args...) \
	__scx_bstr(scx_bpf_dump_bstr(___fmt, ___param, sizeof(___param)), fmt, ##args)

#define bpf_printk(fmt, args...)                                                    \
	({                                                                          \
		static const char ___pfmt[] = fmt;                                  \
		unsigned long long ___pargs[__scx_nargs(args) ?: 1] = {};           \
		__scx_fill(___pargs, ##args)                                        \
		bpf_trace_vprintk(___pfmt, sizeof(___pfmt), ___pargs,               \
				  __scx_nargs(args) * 8);                            \
	})

#define __sync_fetch_and_add_u64(p, v) __sync_fetch_and_add(p, v)
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

/* Bounds-checked pointer to arr[i] for arrays resized at load time. */
#define ARRAY_ELEM_PTR(arr, i, n) ((u64)(i) < (u64)(n) ? &(arr)[(i)] : NULL)

/* Data-section array that the loader may grow (see resize_array). */
#define RESIZABLE_ARRAY(elfsec, arr) arr[1] SEC("." #elfsec "." #arr)

/* ----------------------------------------------------------- struct_ops */

struct sched_ext_ops {
	s32 (*select_cpu)(struct task_struct *p, s32 prev_cpu, u64 wake_flags);
	void (*enqueue)(struct task_struct *p, u64 enq_flags);
	void (*dequeue)(struct task_struct *p, u64 deq_flags);
	void (*dispatch)(s32 cpu, struct task_struct *prev);
	void (*tick)(struct task_struct *p);
	void (*runnable)(struct task_struct *p, u64 enq_flags);
	void (*running)(struct task_struct *p);
	void (*stopping)(struct task_struct *p, bool runnable);
	void (*quiescent)(struct task_struct *p, u64 deq_flags);
	bool (*yield)(struct task_struct *from, struct task_struct *to);
	bool (*core_sched_before)(struct task_struct *a, struct task_struct *b);
	void (*set_weight)(struct task_struct *p, u32 weight);
	void (*set_cpumask)(struct task_struct *p, const struct cpumask *cpumask);
	void (*update_idle)(s32 cpu, bool idle);
	void (*cpu_acquire)(s32 cpu, struct scx_cpu_acquire_args *args);
	void (*cpu_release)(s32 cpu, struct scx_cpu_release_args *args);
	s32 (*init_task)(struct task_struct *p, struct scx_init_task_args *args);
	void (*exit_task)(struct task_struct *p, struct scx_exit_task_args *args);
	void (*enable)(struct task_struct *p);
	void (*disable)(struct task_struct *p);
	void (*dump)(struct scx_dump_ctx *ctx);
	void (*dump_cpu)(struct scx_dump_ctx *ctx, s32 cpu, bool idle);
	void (*dump_task)(struct scx_dump_ctx *ctx, struct task_struct *p);
	s32 (*cgroup_init)(struct cgroup *cgrp, struct scx_cgroup_init_args *args);
	void (*cgroup_exit)(struct cgroup *cgrp);
	s32 (*cgroup_prep_move)(struct task_struct *p, struct cgroup *from, struct cgroup *to);
	void (*cgroup_move)(struct task_struct *p, struct cgroup *from, struct cgroup *to);
	void (*cgroup_cancel_move)(struct task_struct *p, struct cgroup *from, struct cgroup *to);
	void (*cgroup_set_weight)(struct cgroup *cgrp, u32 weight);
	void (*cpu_online)(s32 cpu);
	void (*cpu_offline)(s32 cpu);
	s32 (*init)(void);
	void (*exit)(struct scx_exit_info *info);
	u32 dispatch_max_batch;
	u64 flags;
	u32 timeout_ms;
	u32 exit_dump_len;
	u64 hotplug_seq;
	char name[128];
};

#define SCX_OPS_DEFINE(__name, ...) \
	SEC(".struct_ops.link") struct sched_ext_ops __name = { __VA_ARGS__, };

/* Where ops.exit() leaves the exit information for the loader. */
struct scx_sim_exit {
	int kind;
	s64 exit_code;
	char reason[128];
	char msg[1024];
};

#define SCX_SIM_RECORD_EXIT(dst, ei)                                                \
	({                                                                          \
		bpf_probe_read_kernel_str((dst).reason, sizeof((dst).reason), (ei)->reason); \
		bpf_probe_read_kernel_str((dst).msg, sizeof((dst).msg), (ei)->msg); \
		(dst).exit_code = (ei)->exit_code;                                  \
		(dst).kind = (ei)->kind;                                            \
	})

#endif /* __SCX_SIM_BPF_H */
