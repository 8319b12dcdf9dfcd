// SPDX-License-Identifier: GPL-2.0
/* A program in a section no program type is known for. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("no_such_program_type")
int odd(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
