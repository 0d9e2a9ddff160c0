/*
 * web_assets.h - the files under web/, embedded at build time
 * (cmake/embed.cmake writes web_assets.c).
 */
#ifndef TSYNC_WEB_ASSETS_H
#define TSYNC_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path; /* "/index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* The asset at `path`, or NULL. */
const struct web_asset *web_asset_find(const char *path);

#endif
