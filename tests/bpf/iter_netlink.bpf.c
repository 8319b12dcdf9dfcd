// SPDX-License-Identifier: GPL-2.0
/* netlink iterator: "protocol portid inode" per netlink socket. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/netlink")
int dump_netlink(struct bpf_iter__netlink *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct netlink_sock *nlk = ctx->sk;
	unsigned long ino = 0;
	struct socket *sock;

	if (!nlk)
		return 0;
	sock = nlk->sk.sk_socket;
	if (sock)
		ino = sock->file ? sock->file->f_inode->i_ino : 0;
	BPF_SEQ_PRINTF(seq, "%d %u %lu\n", nlk->sk.sk_protocol, nlk->portid, ino);
	return 0;
}
