// SPDX-License-Identifier: GPL-2.0
/* task_file iterator: "tgid fd inode" for each open file of each task. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_file")
int dump_task_file(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!task || !file)
		return 0;
	BPF_SEQ_PRINTF(seq, "%d %d %lu\n", task->tgid, ctx->fd, file->f_inode->i_ino);
	return 0;
}
