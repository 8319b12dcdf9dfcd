// SPDX-License-Identifier: GPL-2.0
/* unix iterator: "type inode" per AF_UNIX socket (inode 0 for sockets without a file). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/unix")
int dump_unix(struct bpf_iter__unix *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct unix_sock *unix_sk = ctx->unix_sk;
	unsigned long ino = 0;
	struct socket *sock;

	if (!unix_sk)
		return 0;
	sock = unix_sk->sk.sk_socket;
	if (sock && sock->file)
		ino = sock->file->f_inode->i_ino;
	BPF_SEQ_PRINTF(seq, "%u %lu\n", unix_sk->sk.sk_type, ino);
	return 0;
}
