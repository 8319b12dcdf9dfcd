// SPDX-License-Identifier: GPL-2.0
/* CO-RE against the running kernel with local type layouts that differ from the kernel's on
 * purpose: fields reordered, fields the kernel lacks, a flat view of fields the kernel keeps in
 * an anonymous struct, a flexible array, a bitfield, flavored names (___mine), enum values
 * that are wrong locally. Every relocation kind clang 14 emits is exercised; results go to
 * .bss (`out`), read back by tests/loader/test_core.py through the map (which also turns two
 * TYPE_EXISTS records into TYPE_MATCHES, which clang 14 cannot emit). No vmlinux.h: the local
 * types are the point. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct mm_struct___mine {
	unsigned long arg_end;		/* the kernel has arg_start first, both in an anonymous struct */
	unsigned long arg_start;
	unsigned long cpu_bitmap[];	/* a flexible array, last member, as in the kernel */
} __attribute__((preserve_access_index));

struct task_struct___mine {
	char comm[16];
	int not_in_kernel;		/* checked with bpf_core_field_exists */
	int tgid;			/* reordered: the kernel has pid first, far from comm */
	int pid;
	unsigned int sched_reset_on_fork: 1;
	struct mm_struct___mine *mm;
} __attribute__((preserve_access_index));

struct list_head___mine {	/* the kernel's list_head exactly: TYPE_MATCHES would say so */
	struct list_head___mine *next, *prev;
} __attribute__((preserve_access_index));

struct no_such_kernel_type___mine {
	int x;
} __attribute__((preserve_access_index));

enum pid_type___mine {
	PIDTYPE_SID___mine = 30,	/* local values all wrong: the kernel's are 3, 1, 0 */
	PIDTYPE_TGID___mine = 10,
	PIDTYPE_PID___mine = 20,
	PIDTYPE_NOPE___mine = 40,	/* not in the kernel */
};

struct out {
	__u64 pid, tgid, pid_exists, nope_exists, comm_size, pid_signed;
	__u64 arg_start, arg_end, cpu_bits;
	__u64 reset_on_fork, lshift, rshift;
	__u64 type_id_local, type_id_target, type_exists, nope_type_exists, type_size;
	__u64 enum_tgid, enum_sid, enum_tgid_exists, enum_nope_exists, comm_offset, comm2, lh_exists;
	char comm[16];
};

struct out out;

SEC("syscall")
int core_task(void *ctx)
{
	struct task_struct___mine *t = (void *)bpf_get_current_task();
	struct mm_struct___mine *mm;

	out.pid = BPF_CORE_READ(t, pid);
	out.tgid = BPF_CORE_READ(t, tgid);
	out.pid_exists = bpf_core_field_exists(t->pid);
	out.nope_exists = bpf_core_field_exists(t->not_in_kernel);
	out.comm_size = bpf_core_field_size(t->comm);
	out.comm_offset = bpf_core_field_offset(t->comm);
	out.pid_signed = __builtin_preserve_field_info(t->pid, BPF_FIELD_SIGNED);
	bpf_core_read(&out.comm, sizeof(out.comm), &t->comm);
	out.comm2 = BPF_CORE_READ(t, comm[2]);

	mm = BPF_CORE_READ(t, mm);
	out.arg_start = BPF_CORE_READ(mm, arg_start);
	out.arg_end = BPF_CORE_READ(mm, arg_end);
	out.cpu_bits = BPF_CORE_READ(mm, cpu_bitmap[0]);

	out.reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
	out.lshift = __builtin_preserve_field_info(t->sched_reset_on_fork, BPF_FIELD_LSHIFT_U64);
	out.rshift = __builtin_preserve_field_info(t->sched_reset_on_fork, BPF_FIELD_RSHIFT_U64);

	out.type_id_local = bpf_core_type_id_local(struct task_struct___mine);
	out.type_id_target = bpf_core_type_id_kernel(struct task_struct___mine);
	out.type_exists = bpf_core_type_exists(struct task_struct___mine);
	out.nope_type_exists = bpf_core_type_exists(struct no_such_kernel_type___mine);
	out.type_size = bpf_core_type_size(struct task_struct___mine);
	out.lh_exists = bpf_core_type_exists(struct list_head___mine);	/* tests turn two of these */

	out.enum_tgid = bpf_core_enum_value(enum pid_type___mine, PIDTYPE_TGID___mine);
	out.enum_sid = bpf_core_enum_value(enum pid_type___mine, PIDTYPE_SID___mine);
	out.enum_tgid_exists = bpf_core_enum_value_exists(enum pid_type___mine, PIDTYPE_TGID___mine);
	out.enum_nope_exists = bpf_core_enum_value_exists(enum pid_type___mine, PIDTYPE_NOPE___mine);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
