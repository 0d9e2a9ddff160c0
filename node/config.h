/*
 * config.h - tiersync.conf (node/config.c, read with inih).
 */
#ifndef TSYNC_CONFIG_H
#define TSYNC_CONFIG_H

#include <stddef.h>

struct tsync_node;

/* The value of `key` in [node] of tiersync.conf (ENOENT if none). */
int node_conf_get(struct tsync_node *n, const char *key, char *out,
		  size_t len);

#endif
