// SPDX-License-Identifier: GPL-2.0
/* Loader basics without vmlinux.h: several programs, subprograms (global and static, in .text),
 * bpf-to-bpf calls, global data in every section kind, BTF-defined maps, legacy-free. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 8);
} sized SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
	__uint(map_flags, 0);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32);
	__type(key, __u64);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__type(value, __u32);
	__uint(map_extra, 3);
} bloom SEC(".maps");

/* global data: .data, .bss, .rodata, custom .data.* and .rodata.* */
__u64 data_counter = 41;
__u32 bss_hits;
const volatile __u32 rodata_magic = 0xC0FFEE;
const char greeting[] = "hello";
__u64 custom_data SEC(".data.custom") = 7;
const volatile __u64 custom_ro SEC(".rodata.custom") = 0x1122334455667788ULL;
static __u32 static_in_bss;

__attribute__((noinline)) int add_global(int a, int b)
{
	return a + b + (int)rodata_magic - 0xC0FFEE;
}

static __attribute__((noinline)) int twice(int x)
{
	static_in_bss += 1;
	return add_global(x, x);
}

static __attribute__((noinline)) int thrice(int x)
{
	return twice(x) + x;
}

SEC("syscall")
int prog_data(void *ctx)
{
	__u32 k = 1;
	__u64 *v, one = 1;

	data_counter += 1;
	bss_hits = thrice(5) + greeting[1];
	custom_data += custom_ro & 0xff;
	v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &k, &one, BPF_ANY);
	return twice(3);
}

/* global but hidden: the loader marks its BTF FUNC static, as libbpf does */
__attribute__((noinline, visibility("hidden"))) int hidden_global(int x)
{
	return x - 1;
}

SEC("syscall")
int prog_second(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&sized, &k);

	if (v)
		*v = add_global(20, 22);
	return hidden_global(1);
}

SEC("socket")
int prog_socket(struct __sk_buff *skb)
{
	return thrice(1) > 100;
}

char LICENSE[] SEC("license") = "GPL";
