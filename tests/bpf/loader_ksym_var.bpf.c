// SPDX-License-Identifier: GPL-2.0
/* A typed __ksym variable (BPF_PSEUDO_BTF_ID): the per-CPU runqueue of the running CPU. The
 * kernel resolves its address with kallsyms, so it needs CONFIG_KALLSYMS_ALL. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct rq {
	int cpu;
} __attribute__((preserve_access_index));

extern const struct rq runqueues __ksym;

__u64 rq_cpu = 99;

SEC("syscall")
int use_ksym_var(void *ctx)
{
	const struct rq *rq = bpf_this_cpu_ptr(&runqueues);

	rq_cpu = rq->cpu;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
