// SPDX-License-Identifier: GPL-2.0
/* Every BTF kind clang emits, for the BTF parser and codec tests (tests/btf): ints of each
 * encoding, pointers, arrays, structs and unions with bitfields and anonymous members, enums
 * signed and unsigned, a 64-bit enum, forward declarations, typedefs, the modifiers, type and
 * decl tags, floats, function prototypes (one variadic), functions static and global, and
 * variables in .data/.bss/.rodata sections (DATASECs). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user_tag __attribute__((btf_type_tag("user")))

enum color { RED = 0, GREEN = 1, BLUE = 2 };
enum delta { MINUS = -1, ZERO = 0, PLUS = 1 };
enum wide { SMALL = 1, HUGE = 0x100000000ULL };

struct opaque;                         /* FWD struct */
union opaque_u;                        /* FWD union */

typedef unsigned int u32_t;
typedef int (*varfn)(int, ...);        /* variadic FUNC_PROTO */

struct bits {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 4;                      /* signed bitfield */
	enum color col : 2;             /* enum bitfield */
	unsigned long long wide : 40;
	_Bool flag : 1;
};

struct kinds {
	char name[16];                  /* char array: text */
	unsigned char raw[6];           /* unsigned char array */
	signed char sc;
	_Bool ok;
	short s;
	unsigned short us;
	int i;
	unsigned int ui;
	long long ll;
	unsigned long long ull;
	float f;
	double d;
	enum color col;
	enum delta del;
	enum wide w;
	struct bits bits;
	union {                         /* anonymous union */
		unsigned long long whole;
		struct {                /* anonymous struct inside */
			unsigned int lo;
			unsigned int hi;
		};
	};
	union {
		int as_int;
		float as_float;
	} pun;
	int matrix[2][3];
	const volatile int cv;
	u32_t td;
	struct opaque *op;
	union opaque_u *opu;
	int __user_tag *up;             /* TYPE_TAG */
	varfn fn;
	int tagged __tag("member_tag");
};

struct kinds kinds_data = { .name = "pybpf", .i = -5, .col = BLUE };   /* .data */
struct kinds kinds_bss;                                                  /* .bss */
const volatile int kinds_rodata = 7;                                    /* .rodata */
int counter_val SEC(".data.counters") = 3;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct bits);
	__type(value, struct kinds);
} kinds_map SEC(".maps");

static __attribute__((noinline)) __tag("static_func") int helper(int *restrict p, const char *q)
{
	return p ? *p + (q ? q[0] : 0) : 0;
}

__attribute__((noinline)) int global_helper(struct kinds *k)
{
	return k ? k->i : 0;
}

SEC("xdp")
int kinds_prog(struct xdp_md *ctx)
{
	int x = kinds_rodata;
	struct bits key = {};
	struct kinds *v = bpf_map_lookup_elem(&kinds_map, &key);

	if (v)
		x += v->i;
	kinds_bss.i = helper(&x, kinds_data.name) + global_helper(v) + counter_val;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
