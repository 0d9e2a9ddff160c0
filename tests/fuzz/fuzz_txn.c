/*
 * fuzz_txn.c - the txn decoder (node/txn.h) fed arbitrary bodies: a
 * body txn_decode() accepts is walked change by change and column by
 * column, as apply.c walks it, so a structural check that lets through
 * an index or a count the walkers trust shows up here.
 *
 * txn_decode() hands the body to msgpack-c, which allocates an array from
 * its header before reading it; a caller with bytes from a peer checks the
 * counts first with frame_mp_check() (session.c, on_batch).  So does this
 * target: what it fuzzes is txn_decode() behind that check.
 */
#include <stdlib.h>

#include "frame.h"
#include "txn.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct txn t;
	char err[256];
	size_t budget = BATCH_ELEMS_MAX, used;
	uint32_t i, j;

	if (size > 0 && frame_mp_check(data, size, &budget, &used) != 0)
		return 0;
	if (txn_decode(&t, data, size, err, sizeof(err)) == 0) {
		if (t.scope == NULL || t.prev == NULL)
			abort();
		for (i = 0; i < t.nchanges; i++) {
			struct txn_change c;

			txn_change_at(&t, i, &c);
			for (j = 0; j < c.ncols; j++) {
				struct txn_col col;

				txn_col_at(&c, j, &col);
				if (col.value == NULL)
					abort();
			}
		}
	}
	txn_done(&t);
	return 0;
}
