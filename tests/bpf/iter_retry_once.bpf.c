// SPDX-License-Identifier: GPL-2.0
/* Asks the kernel to retry the first object once (returns 1), then prints one line per task:
 * the first read fails with EAGAIN, the next one goes on. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

int retried;

SEC("iter/task")
int retry_once(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	if (!retried) {
		retried = 1;
		return 1;
	}
	BPF_SEQ_PRINTF(ctx->meta->seq, "%d\n", task->pid);
	return 0;
}
