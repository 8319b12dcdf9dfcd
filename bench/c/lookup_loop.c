// The reference side of bench/map_lookup.py: libbpf's bpf_map_lookup_elem on one key in a loop.
//
// usage: lookup_loop MAP_ID KEY ITERATIONS
// Prints "<libbpf version> <ns per lookup> <value as hex>" on one line.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	unsigned char value[4096];
	uint32_t key;
	long iters;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s MAP_ID KEY ITERATIONS\n", argv[0]);
		return 2;
	}
	key = strtoul(argv[2], NULL, 0);
	iters = strtol(argv[3], NULL, 0);
	fd = bpf_map_get_fd_by_id(strtoul(argv[1], NULL, 0));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "cannot open map %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (info.key_size != sizeof(key) || info.value_size > sizeof(value)) {
		fprintf(stderr, "map %s: want a 4-byte key and a value of at most %zu bytes\n",
			argv[1], sizeof(value));
		return 1;
	}
	if (bpf_map_lookup_elem(fd, &key, value)) {  // warm up, and check the key is there
		fprintf(stderr, "lookup: %s\n", strerror(errno));
		return 1;
	}
	uint64_t t0 = now_ns();
	for (long i = 0; i < iters; i++)
		bpf_map_lookup_elem(fd, &key, value);
	uint64_t t1 = now_ns();
	printf("%s %.1f ", libbpf_version_string(), (double)(t1 - t0) / iters);
	for (uint32_t i = 0; i < info.value_size; i++)
		printf("%02x", value[i]);
	printf("\n");
	return 0;
}
