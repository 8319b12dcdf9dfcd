// SPDX-License-Identifier: GPL-2.0
/* bpf_link iterator: "id type prog_id" per link. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/bpf_link")
int dump_bpf_link(struct bpf_iter__bpf_link *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_link *link = ctx->link;

	if (!link)
		return 0;
	BPF_SEQ_PRINTF(seq, "%u %u %u\n", link->id, link->type, link->prog->aux->id);
	return 0;
}
