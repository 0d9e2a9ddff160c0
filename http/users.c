/*
 * users.c - the node's local accounts, in NODE_DIR/users.db.
 *
 * Accounts never replicate: they are the people of one office's PCs.  A
 * password is kept as scrypt(N=2^15, r=8, p=1) of a random 16-byte salt,
 * through OpenSSL; it is compared in constant time.  Five failed logins
 * in a row lock the account for 15 minutes.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "users.h"

#define SCRYPT_N 32768
#define SCRYPT_R 8
#define SCRYPT_P 1
#define HASH_LEN 32
#define SALT_LEN USERS_SALT_LEN
#define MAX_FAILURES 5
#define LOCK_SECONDS (15 * 60)

static const char *const roles[] = {"viewer", "clerk", "lawyer", "officer",
				    "admin"};

static int
err_out(char *err, size_t len, int code, const char *msg, const char *arg)
{
	snprintf(err, len, msg, arg);
	return code;
}

/*
 * A users.db made before `user enable` has no epoch column: add it (0 for
 * every account, as if never disabled).
 */
static int
add_epoch(sqlite3 *db)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(db, "SELECT epoch FROM users LIMIT 0", -1, &s,
			       NULL) == SQLITE_OK) {
		sqlite3_finalize(s);
		return SQLITE_OK;
	}
	return sqlite3_exec(db,
			    "ALTER TABLE users ADD COLUMN epoch INT NOT NULL "
			    "DEFAULT 0",
			    NULL, NULL, NULL);
}

int
users_open(const char *dir, sqlite3 **db, char *err, size_t errlen)
{
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/users.db", dir);
	rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE |
					       SQLITE_OPEN_CREATE,
			     NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(*db,
				  "PRAGMA busy_timeout = 5000;"
				  "CREATE TABLE IF NOT EXISTS users(name TEXT "
				  "PRIMARY KEY, role TEXT NOT NULL, salt BLOB "
				  "NOT NULL, hash BLOB NOT NULL, disabled INT "
				  "NOT NULL DEFAULT 0, failures INT NOT NULL "
				  "DEFAULT 0, locked_until INT NOT NULL "
				  "DEFAULT 0, epoch INT NOT NULL DEFAULT 0)",
				  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = add_epoch(*db);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return TSYNC_EIO;
	}
	return 0;
}

static int
derive(const char *pw, const unsigned char *salt, unsigned char *out)
{
	return EVP_PBE_scrypt(pw, strlen(pw), salt, SALT_LEN, SCRYPT_N,
			      SCRYPT_R, SCRYPT_P, 64u << 20, out, HASH_LEN) == 1
		       ? 0
		       : TSYNC_ENOMEM;
}

static int
role_ok(const char *role)
{
	size_t i;

	for (i = 0; role && i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(role, roles[i]) == 0)
			return 1;
	return 0;
}

static int
name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n > 0 && n <= 64 && strpbrk(name, " \t\r\n/\\\"'") == NULL;
}

static int
set_password(sqlite3 *db, const char *name, const char *role,
	     const char *pw, int create, char *err, size_t errlen)
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	sqlite3_stmt *s;
	int rc;

	if (pw == NULL || strlen(pw) < 8)
		return err_out(err, errlen, TSYNC_EINVAL,
			       "password: give at least 8 characters%s", "");
	if (RAND_bytes(salt, sizeof(salt)) != 1 || derive(pw, salt, hash) != 0)
		return err_out(err, errlen, TSYNC_ENOMEM,
			       "cannot hash the password%s", "");
	rc = sqlite3_prepare_v2(db,
				create ? "INSERT INTO users(name, role, salt, "
					 "hash) VALUES(?1, ?2, ?3, ?4)"
				       : "UPDATE users SET salt = ?3, hash = ?4,"
					 " failures = 0, locked_until = 0 "
					 "WHERE name = ?1",
				-1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		if (create)
			sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, salt, sizeof(salt), SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, hash, sizeof(hash), SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	if (rc == SQLITE_CONSTRAINT)
		return err_out(err, errlen, TSYNC_EEXIST,
			       "account %s already exists", name);
	if (rc != SQLITE_DONE)
		return err_out(err, errlen, TSYNC_EIO, "cannot store: %s",
			       sqlite3_errmsg(db));
	if (!create && sqlite3_changes(db) == 0)
		return err_out(err, errlen, TSYNC_ENOENT, "no account %s", name);
	return 0;
}

int
tsync_user_add(const char *dir, const char *name, const char *role,
	       const char *password, char *err, size_t errlen)
{
	sqlite3 *db;
	int rc;

	if (!name_ok(name))
		return err_out(err, errlen, TSYNC_EINVAL,
			       "name: 1 to 64 characters, no spaces, quotes "
			       "or slashes%s",
			       "");
	if (!role_ok(role))
		return err_out(err, errlen, TSYNC_EINVAL,
			       "role '%s': give viewer, clerk, lawyer, "
			       "officer or admin",
			       role ? role : "");
	if ((rc = users_open(dir, &db, err, errlen)) != 0)
		return rc;
	rc = set_password(db, name, role, password, 1, err, errlen);
	sqlite3_close(db);
	return rc;
}

int
tsync_user_passwd(const char *dir, const char *name, const char *password,
		  char *err, size_t errlen)
{
	sqlite3 *db;
	int rc;

	if ((rc = users_open(dir, &db, err, errlen)) != 0)
		return rc;
	rc = set_password(db, name, NULL, password, 0, err, errlen);
	sqlite3_close(db);
	return rc;
}

/* Runs `q` (%Q is the name) and answers "no account NAME" if it
 * changed no row. */
static int
user_update(const char *dir, const char *name, const char *q, char *err,
	    size_t errlen)
{
	sqlite3 *db;
	char *sql;
	int rc;

	if ((rc = users_open(dir, &db, err, errlen)) != 0)
		return rc;
	sql = sqlite3_mprintf(q, name);
	rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
	sqlite3_free(sql);
	rc = rc != SQLITE_OK ? err_out(err, errlen, TSYNC_EIO, "%s",
				       sqlite3_errmsg(db))
	     : sqlite3_changes(db) == 0
		     ? err_out(err, errlen, TSYNC_ENOENT, "no account %s", name)
		     : 0;
	sqlite3_close(db);
	return rc;
}

int
tsync_user_disable(const char *dir, const char *name, char *err,
		   size_t errlen)
{
	return user_update(dir, name,
			   "UPDATE users SET disabled = 1, epoch = epoch + 1 "
			   "WHERE name = %Q",
			   err, errlen);
}

/*
 * Active again, with the failed-login count and lock cleared.  The epoch
 * stays as disable left it, one past that of any session opened before:
 * those sessions stay ended even if no request reached the app while the
 * account was disabled.
 */
int
tsync_user_enable(const char *dir, const char *name, char *err,
		  size_t errlen)
{
	sqlite3_stmt *s = NULL;
	sqlite3 *db;
	int rc, disabled = -1;

	if ((rc = users_open(dir, &db, err, errlen)) != 0)
		return rc;
	/* One write transaction: the state read is the one changed. */
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
					"SELECT disabled FROM users WHERE "
					"name = ?1",
					-1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW)
			disabled = sqlite3_column_int(s, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
		sqlite3_finalize(s);
	}
	if (rc == SQLITE_OK && disabled > 0) {
		char *q = sqlite3_mprintf("UPDATE users SET disabled = 0, "
					  "failures = 0, locked_until = 0 "
					  "WHERE name = %Q",
					  name);

		rc = q ? sqlite3_exec(db, q, NULL, NULL, NULL) : SQLITE_NOMEM;
		sqlite3_free(q);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	rc = rc != SQLITE_OK ? err_out(err, errlen, TSYNC_EIO, "%s",
				       sqlite3_errmsg(db))
	     : disabled < 0
		     ? err_out(err, errlen, TSYNC_ENOENT, "no account %s", name)
	     : disabled == 0
		     ? err_out(err, errlen, TSYNC_EEXIST,
			       "account %s is not disabled: nothing to enable",
			       name)
		     : 0;
	sqlite3_close(db); /* rolls back what did not commit */
	return rc;
}

int
tsync_user_role(const char *dir, const char *name, const char *role,
		char *err, size_t errlen)
{
	char q[128];

	if (!role_ok(role))
		return err_out(err, errlen, TSYNC_EINVAL,
			       "role '%s': give viewer, clerk, lawyer, "
			       "officer or admin",
			       role ? role : "");
	/* role is one of the five words above: safe in the text. */
	snprintf(q, sizeof(q), "UPDATE users SET role = '%s' WHERE name = %%Q",
		 role);
	return user_update(dir, name, q, err, errlen);
}

int
tsync_user_remove(const char *dir, const char *name, char *err,
		  size_t errlen)
{
	return user_update(dir, name, "DELETE FROM users WHERE name = %Q", err,
			   errlen);
}

/* The stamp: the salt, then the epoch in 8 bytes, big-endian. */
static void
stamp_of(unsigned char *stamp, const void *salt, sqlite3_int64 epoch)
{
	int i;

	memcpy(stamp, salt, SALT_LEN);
	for (i = 0; i < 8; i++)
		stamp[SALT_LEN + i] =
			(unsigned char)((sqlite3_uint64)epoch >> (56 - 8 * i));
}

int
users_state(sqlite3_stmt **s, sqlite3 *db, const char *name, char *role,
	    size_t rolelen, unsigned char *stamp)
{
	int rc;

	if (*s == NULL &&
	    sqlite3_prepare_v3(db, "SELECT role, disabled, salt, epoch FROM "
				   "users WHERE name = ?1",
			       -1, SQLITE_PREPARE_PERSISTENT, s, NULL) !=
		    SQLITE_OK)
		return TSYNC_EIO;
	sqlite3_bind_text(*s, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(*s);
	if (rc == SQLITE_DONE)
		rc = TSYNC_ENOENT;
	else if (rc != SQLITE_ROW ||
		 sqlite3_column_bytes(*s, 2) != USERS_SALT_LEN)
		rc = TSYNC_EIO;
	else if (sqlite3_column_int(*s, 1) != 0)
		rc = TSYNC_EAUTH;
	else {
		snprintf(role, rolelen, "%s",
			 (const char *)sqlite3_column_text(*s, 0));
		stamp_of(stamp, sqlite3_column_blob(*s, 2),
			 sqlite3_column_int64(*s, 3));
		rc = 0;
	}
	sqlite3_reset(*s);
	sqlite3_clear_bindings(*s);
	return rc;
}

int
tsync_user_list(const char *dir, tsync_user_cb cb, void *arg, char *err,
		size_t errlen)
{
	sqlite3_stmt *s;
	sqlite3 *db;
	int rc;

	if ((rc = users_open(dir, &db, err, errlen)) != 0)
		return rc;
	rc = sqlite3_prepare_v2(db,
				"SELECT name, role, disabled, locked_until > "
				"?1 FROM users ORDER BY name",
				-1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)time(NULL));
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			if (cb(arg, (const char *)sqlite3_column_text(s, 0),
			       (const char *)sqlite3_column_text(s, 1),
			       sqlite3_column_int(s, 2),
			       sqlite3_column_int(s, 3)) != 0)
				break;
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return 0;
}

int
users_count(sqlite3 *db)
{
	sqlite3_stmt *s;
	int n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM users WHERE "
				   "disabled = 0",
			       -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	return n;
}

static void
note_failure(sqlite3 *db, const char *name, int failures, time_t now)
{
	char *q = sqlite3_mprintf(
		"UPDATE users SET failures = %d, locked_until = %lld WHERE "
		"name = %Q",
		failures >= MAX_FAILURES ? 0 : failures,
		failures >= MAX_FAILURES ? (long long)now + LOCK_SECONDS : 0LL,
		name);

	sqlite3_exec(db, q, NULL, NULL, NULL);
	sqlite3_free(q);
}

int
users_check(sqlite3 *db, const char *name, const char *pw, char *role,
	    size_t rolelen, unsigned char *stamp)
{
	unsigned char hash[HASH_LEN], salt[SALT_LEN], want[HASH_LEN];
	time_t now = time(NULL);
	sqlite3_stmt *s;
	int rc, failures = 0, disabled = 1, found = 0;
	sqlite3_int64 locked = 0, epoch = 0;

	rc = sqlite3_prepare_v2(db,
				"SELECT role, salt, hash, disabled, failures, "
				"locked_until, epoch FROM users WHERE name = "
				"?1",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return TSYNC_EIO;
	sqlite3_bind_text(s, 1, name ? name : "", -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_bytes(s, 1) == SALT_LEN &&
	    sqlite3_column_bytes(s, 2) == HASH_LEN) {
		found = 1;
		snprintf(role, rolelen, "%s",
			 (const char *)sqlite3_column_text(s, 0));
		memcpy(salt, sqlite3_column_blob(s, 1), SALT_LEN);
		memcpy(want, sqlite3_column_blob(s, 2), HASH_LEN);
		disabled = sqlite3_column_int(s, 3);
		failures = sqlite3_column_int(s, 4);
		locked = sqlite3_column_int64(s, 5);
		epoch = sqlite3_column_int64(s, 6);
	}
	sqlite3_finalize(s);
	if (!found) {
		/* Same work as a real check, so timing tells nothing. */
		memset(salt, 0, sizeof(salt));
		derive(pw ? pw : "", salt, hash);
		return TSYNC_EAUTH;
	}
	if (locked > (sqlite3_int64)now)
		return TSYNC_EBUSY;
	if (derive(pw ? pw : "", salt, hash) != 0)
		return TSYNC_ENOMEM;
	if (disabled || CRYPTO_memcmp(hash, want, HASH_LEN) != 0) {
		note_failure(db, name, failures + 1, now);
		return TSYNC_EAUTH;
	}
	if (failures != 0)
		note_failure(db, name, 0, now);
	stamp_of(stamp, salt, epoch);
	return 0;
}
