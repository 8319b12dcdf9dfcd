// SPDX-License-Identifier: GPL-2.0
/* A ksym iterator for bench/iter_pin.py's read throughput: "type name" per kernel symbol
 * (megabytes of text). Minimal CO-RE types of its own, like iter_task_small.bpf.c.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct kallsym_iter {
	char type;
	char name[512];
} __attribute__((preserve_access_index));

struct bpf_iter__ksym {
	struct bpf_iter_meta *meta;
	struct kallsym_iter *ksym;
} __attribute__((preserve_access_index));

char LICENSE[] SEC("license") = "GPL";

SEC("iter/ksym")
int dump_ksym(struct bpf_iter__ksym *ctx)
{
	struct kallsym_iter *it = ctx->ksym;

	if (!it)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%c %s\n", it->type, it->name);
	return 0;
}
