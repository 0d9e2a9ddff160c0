/*
 * faultvfs.h - failure injection under a node's SQLite handle, for tests:
 *
 *  - fv_install() wraps the default VFS in one whose writes fail with
 *    SQLITE_FULL while fv_full is set: a full disk, met by whatever write
 *    reaches the files first (in WAL mode, the COMMIT);
 *  - fv_arm(db, k) makes the k-th write statement (1-based) to a table of
 *    the replica fail in the middle of whatever runs, through TEMP
 *    triggers that RAISE(ABORT); fv_arm(db, 0) disarms.  fv_hits tells
 *    whether the armed failure happened;
 *  - fv_at[FV_WRITE|FV_SYNC|FV_TRUNC] = k makes the k-th xWrite, xSync or
 *    xTruncate (1-based, counted in fv_seen[] from when fv_at was set, on
 *    every file of every handle) fail with SQLITE_IOERR_WRITE, _FSYNC or
 *    _TRUNCATE, and with fv_sticky set every later call too (a disk that
 *    stays broken); 0 disarms.  fv_io_hits counts the failures made;
 *  - fm_install() (before anything calls sqlite3_initialize) wraps
 *    SQLite's allocator; fm_at = k fails its k-th xMalloc or xRealloc,
 *    counted in fm_seen, and fm_hits counts the failures made.
 *
 * Test-only global state: one process, one test at a time.
 */
#ifndef TSYNC_FAULTVFS_H
#define TSYNC_FAULTVFS_H

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static int fv_full;
static sqlite3_vfs fv_vfs, *fv_real;

enum { FV_WRITE, FV_SYNC, FV_TRUNC, FV_KINDS };
static long fv_at[FV_KINDS], fv_seen[FV_KINDS], fv_io_hits;
static int fv_sticky;

/* Whether this call of kind `k` is the one to fail. */
static int
fv_fault(int k)
{
	if (fv_at[k] <= 0 || ++fv_seen[k] < fv_at[k] ||
	    (fv_seen[k] > fv_at[k] && !fv_sticky))
		return 0;
	fv_io_hits++;
	return 1;
}

struct fv_file {
	sqlite3_file base;
	sqlite3_file *real; /* follows this struct in the same allocation */
};

#define FV_REAL(f) (((struct fv_file *)(f))->real)

static int
fv_close(sqlite3_file *f)
{
	return FV_REAL(f)->pMethods->xClose(FV_REAL(f));
}

static int
fv_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return FV_REAL(f)->pMethods->xRead(FV_REAL(f), p, n, off);
}

static int
fv_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	if (fv_full)
		return SQLITE_FULL;
	if (fv_fault(FV_WRITE))
		return SQLITE_IOERR_WRITE;
	return FV_REAL(f)->pMethods->xWrite(FV_REAL(f), p, n, off);
}

static int
fv_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	if (fv_fault(FV_TRUNC))
		return SQLITE_IOERR_TRUNCATE;
	return FV_REAL(f)->pMethods->xTruncate(FV_REAL(f), size);
}

static int
fv_sync(sqlite3_file *f, int flags)
{
	if (fv_fault(FV_SYNC))
		return SQLITE_IOERR_FSYNC;
	return FV_REAL(f)->pMethods->xSync(FV_REAL(f), flags);
}

static int
fv_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return FV_REAL(f)->pMethods->xFileSize(FV_REAL(f), size);
}

static int
fv_lock(sqlite3_file *f, int l)
{
	return FV_REAL(f)->pMethods->xLock(FV_REAL(f), l);
}

static int
fv_unlock(sqlite3_file *f, int l)
{
	return FV_REAL(f)->pMethods->xUnlock(FV_REAL(f), l);
}

static int
fv_check(sqlite3_file *f, int *out)
{
	return FV_REAL(f)->pMethods->xCheckReservedLock(FV_REAL(f), out);
}

static int
fv_fcntl(sqlite3_file *f, int op, void *arg)
{
	return FV_REAL(f)->pMethods->xFileControl(FV_REAL(f), op, arg);
}

static int
fv_sector(sqlite3_file *f)
{
	return FV_REAL(f)->pMethods->xSectorSize(FV_REAL(f));
}

static int
fv_devchar(sqlite3_file *f)
{
	return FV_REAL(f)->pMethods->xDeviceCharacteristics(FV_REAL(f));
}

static int
fv_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return FV_REAL(f)->pMethods->xShmMap(FV_REAL(f), pg, sz, ext, pp);
}

static int
fv_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return FV_REAL(f)->pMethods->xShmLock(FV_REAL(f), off, n, flags);
}

static void
fv_shmbarrier(sqlite3_file *f)
{
	FV_REAL(f)->pMethods->xShmBarrier(FV_REAL(f));
}

static int
fv_shmunmap(sqlite3_file *f, int del)
{
	return FV_REAL(f)->pMethods->xShmUnmap(FV_REAL(f), del);
}

static const sqlite3_io_methods fv_io = {
	2, fv_close, fv_read, fv_write, fv_truncate, fv_sync, fv_size,
	fv_lock, fv_unlock, fv_check, fv_fcntl, fv_sector, fv_devchar,
	fv_shmmap, fv_shmlock, fv_shmbarrier, fv_shmunmap, NULL, NULL,
};

static int
fv_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags,
	int *out)
{
	struct fv_file *ff = (struct fv_file *)f;
	int rc;

	(void)v;
	ff->real = (sqlite3_file *)(ff + 1);
	rc = fv_real->xOpen(fv_real, name, ff->real, flags, out);
	/* SQLite calls xClose only when pMethods is set. */
	f->pMethods = ff->real->pMethods != NULL ? &fv_io : NULL;
	return rc;
}

static int
fv_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v;
	return fv_real->xDelete(fv_real, name, sync);
}

static int
fv_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return fv_real->xAccess(fv_real, name, flags, out);
}

static int
fv_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return fv_real->xFullPathname(fv_real, name, n, out);
}

static int
fv_random(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return fv_real->xRandomness(fv_real, n, out);
}

static int
fv_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return fv_real->xSleep(fv_real, us);
}

static int
fv_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return fv_real->xCurrentTime(fv_real, out);
}

static int
fv_lasterr(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return fv_real->xGetLastError(fv_real, n, out);
}

static int
fv_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return fv_real->xCurrentTimeInt64(fv_real, out);
}

/* Makes the fault VFS the default; nodes opened afterwards use it. */
static int
fv_install(void)
{
	if (fv_real != NULL)
		return 0;
	if ((fv_real = sqlite3_vfs_find(NULL)) == NULL)
		return -1;
	fv_vfs.iVersion = 2;
	fv_vfs.szOsFile = (int)sizeof(struct fv_file) + fv_real->szOsFile;
	fv_vfs.mxPathname = fv_real->mxPathname;
	fv_vfs.zName = "tsync-fault";
	fv_vfs.xOpen = fv_open;
	fv_vfs.xDelete = fv_delete;
	fv_vfs.xAccess = fv_access;
	fv_vfs.xFullPathname = fv_fullpath;
	fv_vfs.xRandomness = fv_random;
	fv_vfs.xSleep = fv_sleep;
	fv_vfs.xCurrentTime = fv_time;
	fv_vfs.xGetLastError = fv_lasterr;
	fv_vfs.xCurrentTimeInt64 = fv_time64;
	return sqlite3_vfs_register(&fv_vfs, 1) == SQLITE_OK ? 0 : -1;
}

/* ---- Failing the k-th allocation --------------------------------------- */

static sqlite3_mem_methods fm_real;
static long fm_at, fm_seen, fm_hits;

static int
fm_fault(void)
{
	if (fm_at <= 0 || ++fm_seen != fm_at)
		return 0;
	fm_hits++;
	return 1;
}

static void *
fm_malloc(int n)
{
	return fm_fault() ? NULL : fm_real.xMalloc(n);
}

static void *
fm_realloc(void *p, int n)
{
	return fm_fault() ? NULL : fm_real.xRealloc(p, n);
}

/* Wraps SQLite's allocator; only before sqlite3_initialize() runs. */
static inline int
fm_install(void)
{
	sqlite3_mem_methods m;

	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &fm_real) != SQLITE_OK)
		return -1;
	m = fm_real;
	m.xMalloc = fm_malloc;
	m.xRealloc = fm_realloc;
	return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK ? 0 : -1;
}

/* ---- Failing the k-th write statement ---------------------------------- */

static int fv_left, fv_hits;

static void
fv_tick(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	if (fv_left > 0 && --fv_left == 0) {
		fv_hits++;
		sqlite3_result_int(cx, 1);
		return;
	}
	sqlite3_result_int(cx, 0);
}

/* Arms (k > 0) or disarms (k == 0) the k-th write to any table of `db`. */
static inline void
fv_arm(sqlite3 *db, int k)
{
	static const char *const ops[] = {"INSERT", "UPDATE", "DELETE"};
	sqlite3_stmt *s;
	char sql[512];
	size_t i;

	fv_left = k;
	fv_hits = 0;
	sqlite3_create_function(db, "fv_tick", 0, SQLITE_UTF8, NULL, fv_tick,
				NULL, NULL);
	if (sqlite3_prepare_v2(db, "SELECT name FROM main.sqlite_schema"
				   " WHERE type = 'table' AND name NOT LIKE"
				   " 'sqlite_%'", -1, &s, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);

		for (i = 0; i < 3; i++) {
			snprintf(sql, sizeof(sql), "CREATE TEMP TRIGGER IF NOT"
				 " EXISTS \"fv_%s_%s\" BEFORE %s ON main.\"%s\""
				 " WHEN fv_tick() BEGIN SELECT RAISE(ABORT,"
				 " 'injected failure'); END", ops[i], t, ops[i],
				 t);
			sqlite3_exec(db, sql, NULL, NULL, NULL);
		}
	}
	sqlite3_finalize(s);
}

#endif
