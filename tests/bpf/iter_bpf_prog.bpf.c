// SPDX-License-Identifier: GPL-2.0
/* bpf_prog iterator: "id name" per loaded program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/bpf_prog")
int dump_bpf_prog(struct bpf_iter__bpf_prog *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_prog *prog = ctx->prog;

	if (!prog)
		return 0;
	BPF_SEQ_PRINTF(seq, "%u %s\n", prog->aux->id, prog->aux->name);
	return 0;
}
