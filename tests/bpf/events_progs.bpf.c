// Event producers for tests/events/test_loaded.py: a typed struct event sent through a ring
// buffer (reserve + submit, every third discarded), a perf event array, and echoed back from a
// user ring buffer drained with bpf_user_ringbuf_drain(). Run with BPF_PROG_TEST_RUN.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 seq;
	__u16 kind;
	__u16 flags;
	__u64 stamp;
	char tag[8];
};

/* Locals leave no BTF: a global of the type puts struct event in the object's BTF. */
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} urb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} counter SEC(".maps");

static __u32 next_seq(void)
{
	__u32 k = 0, *seq = bpf_map_lookup_elem(&counter, &k);

	if (!seq)
		return 0;
	return (*seq)++;  /* test runs are sequential */
}

SEC("xdp")
int emit_ringbuf(struct xdp_md *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e)
		return 1;
	e->seq = next_seq();
	e->kind = 1;
	e->flags = 0xbeef;
	e->stamp = 0x1122334455667788ULL;
	__builtin_memcpy(e->tag, "ringbuf", 8);
	if (e->seq % 3 == 2)
		bpf_ringbuf_discard(e, 0);
	else
		bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("xdp")
int emit_perf(struct xdp_md *ctx)
{
	struct event e = {
		.seq = next_seq(),
		.kind = 2,
		.flags = 0xcafe,
		.stamp = 0x8877665544332211ULL,
	};

	__builtin_memcpy(e.tag, "perf", 5);
	return bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &e, sizeof(e));
}

static long echo(struct bpf_dynptr *sample, void *ctx)
{
	struct event e;

	if (bpf_dynptr_read(&e, sizeof(e), sample, 0, 0))
		return 1;
	e.seq += 1000;
	bpf_ringbuf_output(&rb, &e, sizeof(e), 0);
	return 0;
}

SEC("xdp")
int drain_user(struct xdp_md *ctx)
{
	return bpf_user_ringbuf_drain(&urb, echo, NULL, 0);
}

char LICENSE[] SEC("license") = "GPL";
