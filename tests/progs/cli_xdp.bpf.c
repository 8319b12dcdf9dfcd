// SPDX-License-Identifier: GPL-2.0
/* Programs and BTF-described maps for the pybpftool differential tests (tests/cli):
 * a map with BTF (btf_id in `map show`), a prog_array with an owner (owner_prog_type),
 * and a leaf program to store in prog_array slots. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} cli_btf_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} cli_jmp SEC(".maps");

SEC("xdp")
int cli_main(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&cli_btf_hash, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	bpf_tail_call(ctx, &cli_jmp, 0);
	return XDP_PASS;
}

SEC("xdp")
int cli_leaf(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
