// SPDX-License-Identifier: GPL-2.0
/* udp iterator: "family local_port bucket" per UDP socket. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/udp")
int dump_udp(struct bpf_iter__udp *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct udp_sock *udp = ctx->udp_sk;

	if (!udp)
		return 0;
	BPF_SEQ_PRINTF(seq, "%u %u %d\n", udp->inet.sk.__sk_common.skc_family,
		       udp->inet.sk.__sk_common.skc_num, ctx->bucket);
	return 0;
}
