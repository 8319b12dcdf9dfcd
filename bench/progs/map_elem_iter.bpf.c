// SPDX-License-Identifier: GPL-2.0
/* A bpf_map_elem iterator printing what `bpftool map dump` prints for a map with 4-byte keys
 * and 8-byte values: "key: xx xx xx xx  value: xx xx xx xx xx xx xx xx" lines, then
 * "Found N elements". The kernel's own limit for a text dump, read with cat(1).
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct seq_file;
struct bpf_map;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
} __attribute__((preserve_access_index));

char LICENSE[] SEC("license") = "GPL";

static const char hexd[16] = "0123456789abcdef";

/* Elements shown in the current read session (seq_num at the final call is not a count). */
static __u64 shown, session;

#define LINE "key: xx xx xx xx  value: xx xx xx xx xx xx xx xx\n"
#define KEY_AT 5
#define VALUE_AT 25

SEC("iter/bpf_map_elem")
int dump_u32_u64(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u8 *key = ctx->key, *value = ctx->value;
	char line[sizeof(LINE) - 1] = LINE;
	__u64 n;
	int i;

	if (ctx->meta->session_id != session) {
		session = ctx->meta->session_id;
		shown = 0;
	}
	if (!key || !value) {
		n = shown;
		if (n == 1)
			BPF_SEQ_PRINTF(seq, "Found 1 element\n");
		else
			BPF_SEQ_PRINTF(seq, "Found %llu elements\n", n);
		return 0;
	}
#pragma unroll
	for (i = 0; i < 4; i++) {
		line[KEY_AT + 3 * i] = hexd[key[i] >> 4];
		line[KEY_AT + 3 * i + 1] = hexd[key[i] & 15];
	}
#pragma unroll
	for (i = 0; i < 8; i++) {
		line[VALUE_AT + 3 * i] = hexd[value[i] >> 4];
		line[VALUE_AT + 3 * i + 1] = hexd[value[i] & 15];
	}
	if (bpf_seq_write(seq, line, sizeof(line)) == 0)
		shown++;  /* on overflow the kernel shows this element again in the next read */
	return 0;
}
