// SPDX-License-Identifier: GPL-2.0
/* Maps and data but no program at all. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} lonely SEC(".maps");

__u32 lonely_data = 3;

char LICENSE[] SEC("license") = "GPL";
