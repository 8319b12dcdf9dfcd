// SPDX-License-Identifier: GPL-2.0
/* BTF-defined maps of several kinds: map-in-map (array and hash of maps) with initial inner
 * maps, a prog_array with initial programs, a NUMA-placed hash, per-CPU and LRU maps. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 4);
		__type(key, __u32);
		__type(value, __u32);
	});
} outer_hash SEC(".maps");

int tail_a(struct __sk_buff *skb);
int tail_b(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (struct __sk_buff *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_a, [3] = (void *)&tail_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NUMA_NODE);
	__uint(numa_node, 0);
} on_node0 SEC(".maps");

SEC("socket")
int tail_a(struct __sk_buff *skb)
{
	return 1;
}

SEC("socket")
int tail_b(struct __sk_buff *skb)
{
	return 2;
}

SEC("socket")
int entry(struct __sk_buff *skb)
{
	__u32 k = 0;
	void *inner = bpf_map_lookup_elem(&outer_array, &k);

	if (inner) {
		__u64 *v = bpf_map_lookup_elem(inner, &k);

		if (v)
			*v += 1;
	}
	bpf_tail_call(skb, &jumps, skb->len & 3);
	return bpf_map_lookup_elem(&outer_hash, &k) != 0;
}

char LICENSE[] SEC("license") = "GPL";
