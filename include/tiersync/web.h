/*
 * web.h - the work room's browser app and its local accounts.
 *
 * The node serves a web app in Chinese (pages under web/, embedded in the
 * binary) and a JSON API under /api/ (docs/http-api.md), from the serving
 * process, on a thread of libmicrohttpd with its own handle on the
 * replica.  Accounts live in NODE_DIR/users.db: they never replicate.
 * Passwords are kept only as scrypt hashes.
 */
#ifndef TIERSYNC_WEB_H
#define TIERSYNC_WEB_H

#include <stddef.h>

#include "tiersync/tiersync.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Accounts (NODE_DIR/users.db) ------------------------------------- */

/* Roles: "viewer" reads; "clerk", "lawyer", "officer" write records;
 * "admin" also manages accounts. */
int tsync_user_add(const char *dir, const char *name, const char *role,
		   const char *password, char *err, size_t errlen);
int tsync_user_passwd(const char *dir, const char *name,
		      const char *password, char *err, size_t errlen);
/*
 * passwd and disable, like role and remove, end the account's sessions
 * in the web app: every request re-reads the account (http/web.c).
 */
int tsync_user_disable(const char *dir, const char *name, char *err,
		       size_t errlen);
/*
 * A disabled account may log in again; its failed-login count and
 * lock-out are cleared.  Sessions ended by the disable stay ended (even
 * one that made no request meanwhile).  TSYNC_ENOENT for no such
 * account, TSYNC_EEXIST for one that is not disabled.
 */
int tsync_user_enable(const char *dir, const char *name, char *err,
		      size_t errlen);
/* A new role; the account's open sessions end at their next request. */
int tsync_user_role(const char *dir, const char *name, const char *role,
		    char *err, size_t errlen);
/* Deletes the account; its open sessions end at their next request. */
int tsync_user_remove(const char *dir, const char *name, char *err,
		      size_t errlen);
/* Calls cb for each account; role and state are valid in the callback. */
typedef int (*tsync_user_cb)(void *arg, const char *name, const char *role,
			     int disabled, int locked);
int tsync_user_list(const char *dir, tsync_user_cb cb, void *arg, char *err,
		    size_t errlen);

/* ---- The web server ---------------------------------------------------- */

struct tsync_web;

/*
 * Starts serving the app for the node in `dir` on `addr` ("host:port"),
 * or NULL for http_listen of tiersync.conf (TSYNC_ENOENT if none).
 * On a loopback address with no account, the app opens without login for
 * the single user of that PC; on any other address login is required and
 * the server refuses to start without an account.  *out is owned by the
 * caller: stop it with tsync_web_stop().
 */
int tsync_web_start(const char *dir, const char *addr, struct tsync_web **out,
		    char *err, size_t errlen);
void tsync_web_stop(struct tsync_web *w); /* NULL is a no-op */

#ifdef __cplusplus
}
#endif
#endif /* TIERSYNC_WEB_H */
