// SPDX-License-Identifier: GPL-2.0
/* Read a whole map through libbpf's bpf_map_lookup_batch into user memory, as pybpf's items()
 * does, and report elements, a checksum of the bytes read and the nanoseconds the loop took.
 *
 *     batch_items PINNED_PATH [BATCH]      ->  "<count> <checksum> <ns>"
 *
 * The checksum (sum of the keys' and values' 32-bit words, mod 2^64) lets the bench check that
 * both sides read the same elements before it compares their times.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

static unsigned long long sum32(const unsigned char *p, size_t n)
{
	unsigned long long s = 0;
	unsigned int w;

	for (size_t i = 0; i + 4 <= n; i += 4) {
		memcpy(&w, p + i, 4);
		s += w;
	}
	return s;
}

int main(int argc, char **argv)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), batch, count, token = 0, *in = NULL;
	unsigned long long total = 0, check = 0;
	unsigned char *keys, *values;
	struct timespec t0, t1;
	int fd, err;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	if (argc < 2) {
		fprintf(stderr, "usage: %s PINNED_PATH [BATCH]\n", argv[0]);
		return 2;
	}
	fd = bpf_obj_get(argv[1]);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		perror("bpf");
		return 1;
	}
	batch = argc > 2 ? strtoul(argv[2], NULL, 0) : 65536;
	if (info.key_size > sizeof(token)) {
		fprintf(stderr, "key_size %u: this bench takes keys of at most 4 bytes\n", info.key_size);
		return 1;
	}
	keys = malloc((size_t)batch * info.key_size);
	values = malloc((size_t)batch * info.value_size);
	if (!keys || !values)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		count = batch;
		err = bpf_map_lookup_batch(fd, in, &token, keys, values, &count, &opts);
		if (err && errno != ENOENT) {
			perror("bpf_map_lookup_batch");
			return 1;
		}
		total += count;
		check += sum32(keys, (size_t)count * info.key_size) + sum32(values, (size_t)count * info.value_size);
		if (err)
			break;
		in = &token;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%llu %llu %lld\n", total, check,
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	return 0;
}
