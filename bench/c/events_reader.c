// Reference consumer for bench/events.py: libbpf's perf_buffer or ring_buffer on a pinned map.
//
//   events_reader perf|ringbuf PIN PAGES [N]
//
// Copies every sample out (as pybpf hands out bytes). Without N: reads as events come until
// SIGTERM/SIGINT. With N: after "ready", waits for a line on stdin (the producer has filled the
// ring meanwhile), then drains until N samples (or losses) are read. Prints
// "libbpf-VERSION received lost bytes first_ns last_ns": CLOCK_MONOTONIC of the first and last
// poll that returned records, or of the "go" line and the end of the drain. PAGES: per-CPU perf
// ring size.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;
static unsigned long long received, lost, nbytes;
static unsigned char copy[65536];

static void on_signal(int sig) { (void)sig; stop = 1; }

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
	(void)ctx; (void)cpu;
	memcpy(copy, data, size < sizeof(copy) ? size : sizeof(copy));
	received++;
	nbytes += size;
}

static void on_lost(void *ctx, int cpu, __u64 cnt)
{
	(void)ctx; (void)cpu;
	lost += cnt;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	memcpy(copy, data, size < sizeof(copy) ? size : sizeof(copy));
	received++;
	nbytes += size;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s perf|ringbuf PIN PAGES [N]\n", argv[0]);
		return 2;
	}
	int fd = bpf_obj_get(argv[2]);
	if (fd < 0) {
		perror("bpf_obj_get");
		return 1;
	}
	int perf = strcmp(argv[1], "perf") == 0;
	struct perf_buffer *pb = NULL;
	struct ring_buffer *rb = NULL;
	if (perf)
		pb = perf_buffer__new(fd, atoi(argv[3]), on_sample, on_lost, NULL, NULL);
	else
		rb = ring_buffer__new(fd, on_record, NULL, NULL);
	if (perf ? !pb : !rb) {
		fprintf(stderr, "cannot create the reader: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready\n");
	fflush(stdout);
	unsigned long long first = 0, last = 0;
	unsigned long long want = argc == 5 ? strtoull(argv[4], NULL, 0) : 0;
	if (want) {
		char line[16];
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		first = now_ns();
		while (received + lost < want) {
			int n = perf ? perf_buffer__consume(pb) : ring_buffer__consume(rb);
			if (n < 0) {
				fprintf(stderr, "consume: %s\n", strerror(-n));
				return 1;
			}
		}
		last = now_ns();
		stop = 1;
	}
	while (!stop) {
		int n = perf ? perf_buffer__poll(pb, 100) : ring_buffer__poll(rb, 100);
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "poll: %s\n", strerror(-n));
			return 1;
		}
		/* perf_buffer__poll returns the rings it served; ring_buffer__poll the records */
		if (n > 0) {
			last = now_ns();
			if (!first)
				first = last;
		}
	}
	perf_buffer__free(pb);
	ring_buffer__free(rb);
	printf("libbpf-%u.%u %llu %llu %llu %llu %llu\n", libbpf_major_version(), libbpf_minor_version(),
	       received, lost, nbytes, first, last);
	return 0;
}
