/*
 * keys.h - identities: Ed25519 keys, X.509 certificates from the district
 * CA, signatures, and the node id derived from a public key.
 *
 * A node certificate's subject binds:  CN = node id (16 hex digits),
 * O = district, OU = scope path, title = role ("office" | "auditor").
 * The node id is the first 8 bytes of SHA-256(raw Ed25519 public key), read
 * as a big-endian integer.  Private keys are written 0600 and never printed.
 *
 * A certificate may also carry the node's X25519 encryption public key, in
 * a non-critical extension (KEYS_ENC_OID) whose value is the key's DER
 * SubjectPublicKeyInfo; the private half is NODE_DIR/enc.key (0600).
 * Sealed bundles are encrypted to it (replication/seal.c).  Certificates
 * issued before sealed bundles lack it: has_enc is then 0.
 *
 * Does not: decide what a scope may do (scope.c) or store certificates in
 * the replica (store.c).
 */
#ifndef TSYNC_KEYS_H
#define TSYNC_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define KEYS_SIG_LEN 64
#define KEYS_HASH_LEN 32
#define KEYS_ENC_LEN 32 /* raw X25519 public key or shared secret */
/* A private OID (a UUID under 2.25, ITU-T X.667): tiersync encryption key. */
#define KEYS_ENC_OID "2.25.318636543585220626974823926305620708118"

struct cert_info {
	uint64_t node_id;
	char scope[256];
	char role[16];
	char district[64];
	int64_t not_before; /* unix seconds */
	int64_t not_after;
	uint64_t serial;
	int has_enc; /* the certificate carries an encryption key */
	uint8_t enc_pub[KEYS_ENC_LEN];
};

int keys_generate(EVP_PKEY **out);
int keys_save_private(EVP_PKEY *k, const char *path, char *err, size_t len);
EVP_PKEY *keys_load_private(const char *path, char *err, size_t len);
/* The node id of an Ed25519 key; 0 for NULL or any other kind of key. */
uint64_t keys_node_id(EVP_PKEY *k);

int keys_sign(EVP_PKEY *k, const uint8_t *msg, size_t n,
	      uint8_t sig[KEYS_SIG_LEN]);
/* 0 when the signature is good, TSYNC_EAUTH otherwise. */
int keys_verify(EVP_PKEY *k, const uint8_t *msg, size_t n,
		const uint8_t sig[KEYS_SIG_LEN]);
void keys_sha256(const void *p, size_t n, uint8_t out[KEYS_HASH_LEN]);

/* X25519 encryption keys (sealed bundles). */
int keys_enc_generate(EVP_PKEY **out);
/* Loads an X25519 private key written 0600 (NODE_DIR/enc.key). */
EVP_PKEY *keys_enc_load_private(const char *path, char *err, size_t len);
/* The raw public key of an X25519 key (public or private). */
int keys_enc_public(EVP_PKEY *k, uint8_t out[KEYS_ENC_LEN]);
/* X25519(k, peer) into out; TSYNC_EAUTH for a low-order peer key. */
int keys_enc_shared(EVP_PKEY *k, const uint8_t peer[KEYS_ENC_LEN],
		    uint8_t out[KEYS_ENC_LEN]);

X509 *cert_load(const char *path, char *err, size_t len);
X509 *cert_from_pem(const void *pem, size_t n);
int cert_to_pem(X509 *c, char **pem, size_t *n); /* *pem: OPENSSL_free */
int cert_save(X509 *c, const char *path, char *err, size_t len);
int cert_parse(X509 *c, struct cert_info *out);
/* 0 if `c` was signed by `ca`; TSYNC_EAUTH otherwise. */
int cert_check_issuer(X509 *c, X509 *ca);

/* Makes a self-signed CA certificate for `district`. */
X509 *cert_make_ca(EVP_PKEY *key, const char *district, int days);
/* Makes a node certificate for `pub`, signed by the CA; with
 * ci->has_enc it carries ci->enc_pub in the KEYS_ENC_OID extension. */
X509 *cert_make_node(EVP_PKEY *pub, const struct cert_info *ci, X509 *ca,
		     EVP_PKEY *ca_key, int days, uint64_t serial);

#endif
