// SPDX-License-Identifier: GPL-2.0
/* tcp iterator: "family state local_port" per TCP socket (listening, established, ...). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/tcp")
int dump_tcp(struct bpf_iter__tcp *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct sock_common *skc = ctx->sk_common;

	if (!skc)
		return 0;
	BPF_SEQ_PRINTF(seq, "%u %u %u\n", skc->skc_family, skc->skc_state, skc->skc_num);
	return 0;
}
