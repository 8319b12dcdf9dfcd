// SPDX-License-Identifier: GPL-2.0
/* Writes 40 KiB for the first task: more than the kernel's 8-page seq buffer, so the first
 * read fails with E2BIG. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

char chunk[512];

SEC("iter/task")
int too_big(struct bpf_iter__task *ctx)
{
	int i;

	if (!ctx->task)
		return 0;
	for (i = 0; i < 80; i++)
		bpf_seq_write(ctx->meta->seq, chunk, sizeof(chunk));
	return 0;
}
