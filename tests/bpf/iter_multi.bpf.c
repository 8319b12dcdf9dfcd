// SPDX-License-Identifier: GPL-2.0
/* Several programs (bpftool pins the first), a static subprogram and a global function
 * (bpf-to-bpf calls), and global data in .data, .rodata and .bss. The output is fixed for a
 * fresh object: "run 1 1002 2", from a .bss counter and the first task's calls. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

int runs;			/* .bss */
int base = 1000;		/* .data */
const volatile int scale = 2;	/* .rodata */

static __noinline int mix(int a)
{
	return a * scale + base;
}

__noinline int twice(int a)
{
	return a + a;
}

SEC("iter/task")
int multi_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	if (ctx->meta->seq_num == 0) {
		runs++;
		BPF_SEQ_PRINTF(seq, "run %d %d %d\n", runs, mix(ctx->meta->seq_num + 1),
			       twice(ctx->meta->seq_num + 1));
	}
	return 0;
}

SEC("iter/bpf_map")
int multi_map(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;

	if (!map)
		BPF_SEQ_PRINTF(ctx->meta->seq, "maps done %d\n", mix(0));
	return 0;
}
