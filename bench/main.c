/*
 * main.c - tsync_bench GROUP DIR: runs one benchmark group in scratch
 * directory DIR and prints "name: value" lines.
 */
#include <stdio.h>
#include <string.h>

int bench_local_write(const char *dir);
int bench_replication(const char *dir);
int bench_records(const char *dir);
int bench_web(const char *dir);
int bench_fanin(const char *dir);

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: tsync_bench GROUP DIR\n");
		return 2;
	}
	if (strcmp(argv[1], "local-write") == 0)
		return bench_local_write(argv[2]);
	if (strcmp(argv[1], "replication") == 0)
		return bench_replication(argv[2]);
	if (strcmp(argv[1], "records") == 0)
		return bench_records(argv[2]);
	if (strcmp(argv[1], "web") == 0)
		return bench_web(argv[2]);
	if (strcmp(argv[1], "fanin") == 0)
		return bench_fanin(argv[2]);
	fprintf(stderr, "tsync_bench: unknown group '%s'\n", argv[1]);
	return 2;
}
