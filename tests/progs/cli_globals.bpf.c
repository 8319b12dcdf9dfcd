// SPDX-License-Identifier: GPL-2.0
/* Global data for `map dump` of DATASEC maps (tests/cli/test_btf_dump.py): .data, .rodata
 * and .bss variables of several kinds, and a program that uses them so they are kept. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum mode { MODE_OFF = 0, MODE_ON = 1, MODE_AUTO = 7 };

struct cfg {
	unsigned int id;
	char label[12];
	enum mode mode;
	unsigned char flags : 3, level : 5;
	short delta;
};

int counter = 42;                                   /* .data */
long long big = -1234567890123LL;
char greeting[16] = "hello, \"bpf\"";
struct cfg active = { .id = 7, .label = "primary", .mode = MODE_AUTO, .flags = 5, .level = 17, .delta = -3 };
const volatile unsigned int limit = 1000;           /* .rodata */
const volatile struct cfg defaults = { .id = 1, .label = "dflt", .mode = MODE_ON, .flags = 1, .level = 2 };
unsigned long long hits[4];                          /* .bss */
struct cfg scratch;

SEC("xdp")
int cli_globals(struct xdp_md *ctx)
{
	hits[ctx->rx_queue_index & 3] += counter + limit + defaults.id;
	scratch.id = active.id + big + greeting[0];
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
