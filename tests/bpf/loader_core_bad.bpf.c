// SPDX-License-Identifier: GPL-2.0
/* A CO-RE read of a field the kernel does not have, unguarded: the loader poisons the
 * instruction and the verifier refuses the program, pointing at it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___bad {
	int no_such_field_anywhere;
} __attribute__((preserve_access_index));

SEC("syscall")
int read_missing(void *ctx)
{
	struct task_struct___bad *t = (void *)bpf_get_current_task();

	return BPF_CORE_READ(t, no_such_field_anywhere);
}

char LICENSE[] SEC("license") = "GPL";
