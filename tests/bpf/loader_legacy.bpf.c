// SPDX-License-Identifier: GPL-2.0
/* The legacy "maps" section (struct bpf_map_def, no BTF), which libbpf 1.0 dropped. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 10,
};

struct bpf_map_def SEC("maps") legacy_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = 4,
	.value_size = 4,
	.max_entries = 3,
	.map_flags = BPF_F_RDONLY_PROG,
};

SEC("syscall")
int legacy_prog(void *ctx)
{
	__u32 k = 7;
	__u64 v = 77;
	__u32 *a;

	bpf_map_update_elem(&legacy_hash, &k, &v, BPF_ANY);
	k = 1;
	a = bpf_map_lookup_elem(&legacy_array, &k);
	return a ? *a : 0;
}

char LICENSE[] SEC("license") = "GPL";
