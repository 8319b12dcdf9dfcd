// SPDX-License-Identifier: GPL-2.0
/* __ksym externs: a typeless symbol (address from /proc/kallsyms) and kfunc calls
 * (BPF_PSEUDO_KFUNC_CALL), one of them __weak and absent. loader_ksym_var.bpf.c has the typed
 * variable (BPF_PSEUDO_BTF_ID), which needs CONFIG_KALLSYMS_ALL in the kernel. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___k {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

extern const void schedule __ksym;
extern struct task_struct___k *bpf_task_from_pid(__s32 pid) __ksym;
extern void bpf_task_release(struct task_struct___k *p) __ksym;
extern void bpf_no_such_kfunc___x(int x) __ksym __weak;

__u64 schedule_addr, found_tgid, weak_kfunc_present = 99;
__s32 want_pid;

SEC("syscall")
int use_ksyms(void *ctx)
{
	struct task_struct___k *t;

	schedule_addr = (__u64)&schedule;
	if (bpf_no_such_kfunc___x) {	/* resolves to 0: the poisoned call below is dead code */
		bpf_no_such_kfunc___x(1);
		weak_kfunc_present = 1;
	} else {
		weak_kfunc_present = 0;
	}
	t = bpf_task_from_pid(want_pid);
	if (!t)
		return 1;
	found_tgid = t->tgid;
	bpf_task_release(t);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
