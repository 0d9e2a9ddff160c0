/*
 * users.h - local accounts inside the library (users.c); the public
 * functions are in tiersync/web.h.
 */
#ifndef TSYNC_USERS_H
#define TSYNC_USERS_H

#include <stddef.h>

#include <sqlite3.h>

#include "tiersync/web.h"

/* Opens (creating) NODE_DIR/users.db. */
int users_open(const char *dir, sqlite3 **db, char *err, size_t errlen);
/* Active accounts, or -1. */
int users_count(sqlite3 *db);
/*
 * 0 and the role when name/password match; TSYNC_EAUTH when they do not
 * (a failure is counted), TSYNC_EBUSY while the account is locked.
 */
int users_check(sqlite3 *db, const char *name, const char *pw, char *role,
		size_t rolelen);

#endif
