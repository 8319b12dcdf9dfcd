// SPDX-License-Identifier: GPL-2.0
/* The C reference of bench/btf_lookup.py: load the running kernel's BTF with libbpf and look a
 * type up by name and kind, as a CO-RE loader does. Prints "<id> <size>" (size -1 when the
 * kind has none).
 *
 *   btf_find NAME KIND      KIND: a BTF_KIND_* number (4 struct, 8 typedef, 6 enum ...)
 */
#include <stdio.h>
#include <stdlib.h>
#include <bpf/btf.h>

int main(int argc, char **argv)
{
	struct btf *btf;
	__s32 id;

	if (argc != 3) {
		fprintf(stderr, "usage: %s NAME KIND\n", argv[0]);
		return 2;
	}
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		perror("btf__load_vmlinux_btf");
		return 1;
	}
	id = btf__find_by_name_kind(btf, argv[1], atoi(argv[2]));
	if (id < 0) {
		fprintf(stderr, "%s: not found\n", argv[1]);
		btf__free(btf);
		return 1;
	}
	printf("%d %lld\n", id, (long long)btf__resolve_size(btf, id));
	btf__free(btf);
	return 0;
}
