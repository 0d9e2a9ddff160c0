/*
 * capture.h - turning a local SQLite transaction into a signed txn: the
 * pre-update hook records changes, the commit folds and signs them
 * (node/capture.c).
 */
#ifndef TSYNC_CAPTURE_H
#define TSYNC_CAPTURE_H

#include <stdint.h>

struct tsync_node;

int capture_install(struct tsync_node *n);
void capture_reset(struct tsync_node *n);
int capture_commit(struct tsync_node *n);
/* Within a node transaction: writes the row's current value of `col` again,
 * naming head (hlc, origin) as overwritten too (conflict.c resolve). */
int capture_settle(struct tsync_node *n, int tid, const char *row, int col,
		   uint64_t hlc, uint64_t origin);
void capture_free(struct tsync_node *n);

#endif
