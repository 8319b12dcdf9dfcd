// SPDX-License-Identifier: GPL-2.0
/* Asks the kernel to retry every task (returns 1): a read fails with EAGAIN. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task")
int retry(struct bpf_iter__task *ctx)
{
	return ctx->task ? 1 : 0;
}
