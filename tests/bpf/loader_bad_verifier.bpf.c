// SPDX-License-Identifier: GPL-2.0
/* Loads into the verifier and is refused (an unchecked map value pointer), after a good
 * program and with maps and global data created first: nothing may be left behind. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bad_pinned SEC(".maps");

__u64 bad_data = 1;

SEC("syscall")
int good_first(void *ctx)
{
	return bad_data;
}

SEC("syscall")
int refused(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&bad_pinned, &k);

	return *v;	/* no NULL check */
}

char LICENSE[] SEC("license") = "GPL";
