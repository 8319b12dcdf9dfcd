// SPDX-License-Identifier: GPL-2.0
/* An iter/task program through vmlinux.h (every ctx and task access a CO-RE relocation),
 * printing "tgid pid comm" per task, and a sleepable iter.s/task twin. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 tasks_seen;

static __attribute__((noinline)) int emit(struct seq_file *seq, struct task_struct *task)
{
	BPF_SEQ_PRINTF(seq, "%d %d %s\n", task->tgid, task->pid, task->comm);
	return 1;
}

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	tasks_seen += emit(ctx->meta->seq, task);
	return 0;
}

SEC("iter.s/task")
int dump_task_sleepable(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (task)
		BPF_SEQ_PRINTF(ctx->meta->seq, "%d\n", task->pid);
	return 0;
}
