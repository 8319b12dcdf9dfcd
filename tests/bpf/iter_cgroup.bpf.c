// SPDX-License-Identifier: GPL-2.0
/* cgroup iterator: "id level" per cgroup visited, in the walk's order. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/cgroup")
int dump_cgroup(struct bpf_iter__cgroup *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct cgroup *cgrp = ctx->cgroup;

	if (!cgrp)
		return 0;
	BPF_SEQ_PRINTF(seq, "%llu %d\n", cgrp->kn->id, cgrp->level);
	return 0;
}
