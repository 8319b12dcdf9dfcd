// SPDX-License-Identifier: GPL-2.0
/* task_vma iterator: "tgid start-end" for each memory area, as hex like /proc/PID/maps. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_vma")
int dump_task_vma(struct bpf_iter__task_vma *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct vm_area_struct *vma = ctx->vma;

	if (!task || !vma)
		return 0;
	BPF_SEQ_PRINTF(seq, "%d %08lx-%08lx\n", task->tgid, vma->vm_start, vma->vm_end);
	return 0;
}
