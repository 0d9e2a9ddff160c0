/*
 * peers.h - what the node last heard from each peer, kept in ts_peers
 * (node/peers.c).
 */
#ifndef TSYNC_PEERS_H
#define TSYNC_PEERS_H

#include <stdint.h>

struct tsync_node;

struct peer_rec {
	uint64_t id;
	const char *scope, *role, *addr, *error;
	uint64_t last_contact, they_lack, we_lack, sent, received;
};
int peers_record(struct tsync_node *n, const struct peer_rec *p);

#endif
