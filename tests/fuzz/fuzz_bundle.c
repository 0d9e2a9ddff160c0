/*
 * fuzz_bundle.c - bundle import (tsync_bundle_import) of arbitrary files.
 *
 * LLVMFuzzerInitialize makes a CA and a street node in a temporary
 * directory; each input is written to a file there and imported into
 * that node, through the same checks as a bundle off a USB stick.  What
 * an input manages to apply stays (imports are idempotent anyway).
 */
#include "fuzz_common.h"

static char fz_node[600], fz_file[600];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_make_node("street", "gangzha/qinzao", "office");
	fz_path(fz_node, sizeof(fz_node), "street");
	fz_path(fz_file, sizeof(fz_file), "input.bundle");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsync_bundle_result r;
	FILE *f = fopen(fz_file, "wb");

	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror("fuzz: write bundle");
		abort();
	}
	(void)tsync_bundle_import(fz_node, fz_file, &r);
	return 0;
}
