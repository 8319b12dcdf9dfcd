// SPDX-License-Identifier: GPL-2.0
/* ksym iterator: "type name" of each kernel symbol, like /proc/kallsyms without addresses. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/ksym")
int dump_ksym(struct bpf_iter__ksym *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct kallsym_iter *iter = ctx->ksym;

	if (!iter)
		return 0;
	BPF_SEQ_PRINTF(seq, "%c %s\n", iter->type, iter->name);
	return 0;
}
