/*
 * users.h - local accounts inside the library (users.c); the public
 * functions are in tiersync/web.h.
 */
#ifndef TSYNC_USERS_H
#define TSYNC_USERS_H

#include <stddef.h>

#include <sqlite3.h>

#include "tiersync/web.h"

/*
 * What a session keeps of its account to notice a change: the salt,
 * which every `passwd` draws afresh (it is no secret), then the epoch,
 * which every `disable` moves on (8 bytes, big-endian), so that a
 * session opened before a disable stays ended after `enable`.
 */
#define USERS_SALT_LEN 16
#define USERS_STAMP_LEN (USERS_SALT_LEN + 8)

/* Opens (creating) NODE_DIR/users.db. */
int users_open(const char *dir, sqlite3 **db, char *err, size_t errlen);
/* Active accounts, or -1. */
int users_count(sqlite3 *db);
/*
 * 0, the role and the stamp when name/password match; TSYNC_EAUTH when
 * they do not (a failure is counted), TSYNC_EBUSY while the account is
 * locked.
 */
int users_check(sqlite3 *db, const char *name, const char *pw, char *role,
		size_t rolelen, unsigned char *stamp);
/*
 * The account as it is now, for a session's every request: 0 with its
 * role and stamp if it may log in; TSYNC_ENOENT if it is gone,
 * TSYNC_EAUTH if disabled, TSYNC_EIO if users.db cannot be read.  *s is
 * the caller's statement, prepared at the first call (finalize it).  A
 * lock-out (failed logins) does not count: it must not let a stranger
 * end the owner's session.
 */
int users_state(sqlite3_stmt **s, sqlite3 *db, const char *name, char *role,
		size_t rolelen, unsigned char *stamp);

#endif
