// SPDX-License-Identifier: GPL-2.0
/* 100 numbered lines per task (about 7 KiB): restricted to one process, a fixed output larger
 * than one kernel read, for the stream API tests. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task")
int dump_lines(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	int i;

	if (!task)
		return 0;
	for (i = 0; i < 100; i++)
		BPF_SEQ_PRINTF(seq, "%d %03d ................................................\n",
			       task->pid, i);
	return 0;
}
