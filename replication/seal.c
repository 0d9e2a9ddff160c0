/*
 * seal.c - sealed bundles: encryption to recipients, chunked and
 * authenticated; see seal.h for the format and docs/protocol.md (section
 * 7.5) for the reasons.
 */
#include "seal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "tiersync/tiersync.h"
#include "util.h"

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define SALT_LEN 16
#define FINAL_BIT 0x80000000u
#define WRAP_INFO "tiersync sealed bundle v1 wrap"

/* ---- primitives ----------------------------------------------------- */

static void
be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* HKDF-SHA256 (RFC 5869) through EVP_KDF. */
static int
hkdf(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt, size_t saltlen,
     const uint8_t *info, size_t infolen, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[5];
	int ok;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)ikm, ikmlen);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						 (void *)salt, saltlen);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						 (void *)info, infolen);
	p[4] = OSSL_PARAM_construct_end();
	ok = ctx != NULL && EVP_KDF_derive(ctx, out, outlen, p) == 1;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	ERR_clear_error();
	return ok ? 0 : TSYNC_ENOMEM;
}

/*
 * AES-256-GCM over n bytes of `in` into `out`.  Encrypting writes the tag;
 * decrypting checks it and returns TSYNC_EAUTH when it does not match.
 */
static int
gcm(EVP_CIPHER_CTX *c, int enc, const uint8_t key[KEY_LEN],
    const uint8_t nonce[NONCE_LEN], const uint8_t *aad, size_t aadlen,
    const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[TAG_LEN])
{
	uint8_t fin[TAG_LEN];
	int l, ok;

	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) ==
		     1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) ==
		     1 &&
	     EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
	     EVP_CipherUpdate(c, NULL, &l, aad, (int)aadlen) == 1 &&
	     (n == 0 || EVP_CipherUpdate(c, out, &l, in, (int)n) == 1) &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
					 tag) == 1) &&
	     EVP_CipherFinal_ex(c, fin, &l) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
					  tag) == 1);
	ERR_clear_error();
	return ok ? 0 : TSYNC_EAUTH;
}

/*
 * The key and nonce that wrap the content key for one recipient: HKDF of
 * the X25519 secret, salted with the file's salt and bound to the
 * recipient's id and both public keys.
 */
static int
wrap_key(const uint8_t shared[KEYS_ENC_LEN], const uint8_t salt[SALT_LEN],
	 uint64_t id, const uint8_t eph[KEYS_ENC_LEN],
	 const uint8_t pub[KEYS_ENC_LEN], uint8_t out[KEY_LEN + NONCE_LEN])
{
	uint8_t info[sizeof(WRAP_INFO) - 1 + 8 + 2 * KEYS_ENC_LEN];
	size_t k = sizeof(WRAP_INFO) - 1;

	memcpy(info, WRAP_INFO, k);
	be64_put(info + k, id);
	memcpy(info + k + 8, eph, KEYS_ENC_LEN);
	memcpy(info + k + 8 + KEYS_ENC_LEN, pub, KEYS_ENC_LEN);
	return hkdf(shared, KEYS_ENC_LEN, salt, SALT_LEN, info, sizeof(info),
		    out, KEY_LEN + NONCE_LEN);
}

/* Chunk i's nonce and associated data (header hash, index, word). */
static void
chunk_ad(const uint8_t hh[KEYS_HASH_LEN], uint64_t i, uint32_t word,
	 uint8_t nonce[NONCE_LEN], uint8_t ad[KEYS_HASH_LEN + 12])
{
	memset(nonce, 0, 4);
	be64_put(nonce + 4, i);
	memcpy(ad, hh, KEYS_HASH_LEN);
	be64_put(ad + KEYS_HASH_LEN, i);
	be32_put(ad + KEYS_HASH_LEN + 8, word);
}

int
seal_sniff(FILE *f)
{
	char m[SEAL_MAGIC_LEN];
	size_t n = fread(m, 1, sizeof(m), f);

	if (fseek(f, 0, SEEK_SET) != 0)
		return 0;
	return n == sizeof(m) && memcmp(m, SEAL_MAGIC, SEAL_MAGIC_LEN) == 0;
}

/* ---- writing -------------------------------------------------------- */

struct seal_writer {
	FILE *f;
	EVP_CIPHER_CTX *ctx;
	uint8_t key[KEY_LEN];
	uint8_t hh[KEYS_HASH_LEN];
	uint64_t index;
	uint8_t *pt; /* SEAL_CHUNK bytes waiting to be sealed */
	size_t len;
	uint8_t *ct; /* word, SEAL_CHUNK, tag */
	int err;
};

/* One entry of the header: the content key, wrapped for r. */
static int
wrap_for(struct seal_writer *w, const uint8_t *prefix,
	 const struct seal_recip *r, uint8_t *e)
{
	uint8_t shared[KEYS_ENC_LEN], wk[KEY_LEN + NONCE_LEN];
	uint8_t ad[SEAL_PREFIX_LEN + 8 + KEYS_ENC_LEN];
	EVP_PKEY *eph = NULL;
	int rc;

	be64_put(e, r->node_id);
	if ((rc = keys_enc_generate(&eph)) != 0 ||
	    (rc = keys_enc_public(eph, e + 8)) != 0 ||
	    (rc = keys_enc_shared(eph, r->pub, shared)) != 0 ||
	    (rc = wrap_key(shared, prefix + 8, r->node_id, e + 8, r->pub,
			   wk)) != 0)
		goto out;
	memcpy(ad, prefix, SEAL_PREFIX_LEN);
	memcpy(ad + SEAL_PREFIX_LEN, e, 8 + KEYS_ENC_LEN);
	rc = gcm(w->ctx, 1, wk, wk + KEY_LEN, ad, sizeof(ad), w->key, KEY_LEN,
		 e + 8 + KEYS_ENC_LEN, e + 8 + KEYS_ENC_LEN + KEY_LEN);
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wk, sizeof(wk));
	EVP_PKEY_free(eph);
	return rc;
}

int
seal_writer_new(FILE *f, const struct seal_recip *r, size_t n,
		struct seal_writer **out)
{
	struct seal_writer *w;
	uint8_t *h;
	size_t hlen = SEAL_PREFIX_LEN + n * SEAL_ENTRY_LEN, i;
	int rc = TSYNC_ENOMEM;

	*out = NULL;
	if (n == 0 || n > SEAL_RECIP_MAX)
		return TSYNC_EINVAL;
	w = calloc(1, sizeof(*w));
	h = malloc(hlen);
	if (w == NULL || h == NULL ||
	    (w->pt = malloc(SEAL_CHUNK)) == NULL ||
	    (w->ct = malloc(4 + SEAL_CHUNK + TAG_LEN)) == NULL ||
	    (w->ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    RAND_bytes(w->key, KEY_LEN) != 1 || RAND_bytes(h + 8, SALT_LEN) != 1)
		goto fail;
	w->f = f;
	memcpy(h, SEAL_MAGIC, SEAL_MAGIC_LEN);
	h[7] = SEAL_VERSION;
	h[24] = (uint8_t)(n >> 8);
	h[25] = (uint8_t)n;
	for (i = 0; i < n; i++)
		if ((rc = wrap_for(w, h, &r[i], h + SEAL_PREFIX_LEN +
						    i * SEAL_ENTRY_LEN)) != 0)
			goto fail;
	keys_sha256(h, hlen, w->hh);
	if (fwrite(h, 1, hlen, f) != hlen) {
		rc = TSYNC_EIO;
		goto fail;
	}
	free(h);
	*out = w;
	return 0;
fail:
	free(h);
	seal_writer_free(w);
	return rc;
}

static int
put_chunk(struct seal_writer *w, int final)
{
	uint8_t nonce[NONCE_LEN], ad[KEYS_HASH_LEN + 12];
	uint32_t word = (uint32_t)w->len | (final ? FINAL_BIT : 0);
	size_t n = 4 + w->len + TAG_LEN;

	chunk_ad(w->hh, w->index, word, nonce, ad);
	be32_put(w->ct, word);
	if (gcm(w->ctx, 1, w->key, nonce, ad, sizeof(ad), w->pt, w->len,
		w->ct + 4, w->ct + 4 + w->len) != 0)
		return w->err = TSYNC_ENOMEM;
	if (fwrite(w->ct, 1, n, w->f) != n)
		return w->err = TSYNC_EIO;
	w->index++;
	w->len = 0;
	return 0;
}

int
seal_write(struct seal_writer *w, const void *p, size_t n)
{
	const uint8_t *s = p;

	while (w->err == 0 && n > 0) {
		size_t k = SEAL_CHUNK - w->len;

		/* A full chunk waits until more comes: the last one is the
		 * one seal_finish() flags final. */
		if (k == 0 && put_chunk(w, 0) != 0)
			break;
		if (k == 0)
			k = SEAL_CHUNK;
		if (k > n)
			k = n;
		memcpy(w->pt + w->len, s, k);
		w->len += k;
		s += k;
		n -= k;
	}
	return w->err;
}

int
seal_finish(struct seal_writer *w)
{
	return w->err != 0 ? w->err : put_chunk(w, 1);
}

void
seal_writer_free(struct seal_writer *w)
{
	if (w == NULL)
		return;
	OPENSSL_cleanse(w->key, sizeof(w->key));
	if (w->pt != NULL)
		OPENSSL_cleanse(w->pt, SEAL_CHUNK);
	free(w->pt);
	free(w->ct);
	EVP_CIPHER_CTX_free(w->ctx);
	free(w);
}

/* ---- reading -------------------------------------------------------- */

struct seal_reader {
	FILE *f;
	EVP_CIPHER_CTX *ctx;
	uint8_t key[KEY_LEN];
	uint8_t hh[KEYS_HASH_LEN];
	uint64_t index;  /* of the next chunk */
	uint64_t at;     /* its file offset */
	uint8_t *pt, *ct;
	size_t len, pos; /* plaintext of the current chunk, read so far */
	int final, err;
};

/* Lists up to four recipient ids of header h into why. */
static void
name_recips(const uint8_t *h, size_t n, uint64_t my_id, char *why,
	    size_t len)
{
	char ids[4 * 18 + 8] = "", one[18];
	size_t i, k = 0;

	for (i = 0; i < n && i < 4; i++) {
		id_format(be64_get(h + SEAL_PREFIX_LEN + i * SEAL_ENTRY_LEN),
			  one);
		k += (size_t)snprintf(ids + k, sizeof(ids) - k, "%s%s",
				      i ? ", " : "", one);
	}
	if (n > 4)
		snprintf(ids + k, sizeof(ids) - k, ", ...");
	id_format(my_id, one);
	ts_fmt(why, len, "for %zu recipient%s (%s), not for this node (%s)", n,
	       n == 1 ? "" : "s", ids, one);
}

/* Finds my entry in header h and unwraps the content key into r->key. */
static int
unwrap(struct seal_reader *r, const uint8_t *h, size_t n, uint64_t my_id,
       EVP_PKEY *my_enc, char *why, size_t len)
{
	uint8_t pub[KEYS_ENC_LEN], shared[KEYS_ENC_LEN];
	uint8_t wk[KEY_LEN + NONCE_LEN], ad[SEAL_PREFIX_LEN + 8 + KEYS_ENC_LEN];
	size_t i;
	int rc = TSYNC_ESCOPE;

	for (i = 0; i < n && rc != 0; i++) {
		const uint8_t *e = h + SEAL_PREFIX_LEN + i * SEAL_ENTRY_LEN;

		if (be64_get(e) != my_id)
			continue;
		if (my_enc == NULL || keys_enc_public(my_enc, pub) != 0) {
			ts_fmt(why, len, "this node is a recipient but has "
			       "no encryption key (enc.key)");
			return TSYNC_EAUTH;
		}
		rc = TSYNC_EAUTH;
		memcpy(ad, h, SEAL_PREFIX_LEN);
		memcpy(ad + SEAL_PREFIX_LEN, e, 8 + KEYS_ENC_LEN);
		if (keys_enc_shared(my_enc, e + 8, shared) == 0 &&
		    wrap_key(shared, h + 8, my_id, e + 8, pub, wk) == 0)
			rc = gcm(r->ctx, 0, wk, wk + KEY_LEN, ad, sizeof(ad),
				 e + 8 + KEYS_ENC_LEN, KEY_LEN, r->key,
				 (uint8_t *)e + 8 + KEYS_ENC_LEN + KEY_LEN);
	}
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wk, sizeof(wk));
	if (rc == TSYNC_ESCOPE)
		name_recips(h, n, my_id, why, len);
	else if (rc != 0)
		ts_fmt(why, len, "this node's entry does not open: its "
		       "enc.key is not the key the bundle was sealed to, or "
		       "the header was changed");
	return rc;
}

int
seal_reader_open(FILE *f, uint64_t my_id, EVP_PKEY *my_enc,
		 struct seal_reader **out, char *why, size_t len)
{
	struct seal_reader *r;
	uint8_t pre[SEAL_PREFIX_LEN], *h = NULL;
	size_t n, hlen;
	int rc = TSYNC_ENOMEM;

	*out = NULL;
	if (fread(pre, 1, sizeof(pre), f) != sizeof(pre)) {
		ts_fmt(why, len, "the sealed header is cut short");
		return TSYNC_ENOENT;
	}
	n = (size_t)pre[24] << 8 | pre[25];
	if (memcmp(pre, SEAL_MAGIC, SEAL_MAGIC_LEN) != 0 ||
	    pre[7] != SEAL_VERSION || n == 0 || n > SEAL_RECIP_MAX) {
		ts_fmt(why, len, "not a sealed bundle this version reads "
		       "(version %u, %zu recipients)", pre[7], n);
		return TSYNC_ECORRUPT;
	}
	hlen = SEAL_PREFIX_LEN + n * SEAL_ENTRY_LEN;
	r = calloc(1, sizeof(*r));
	if (r == NULL || (h = malloc(hlen)) == NULL ||
	    (r->pt = malloc(SEAL_CHUNK)) == NULL ||
	    (r->ct = malloc(SEAL_CHUNK + TAG_LEN)) == NULL ||
	    (r->ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto fail;
	memcpy(h, pre, sizeof(pre));
	if (fread(h + sizeof(pre), 1, hlen - sizeof(pre), f) !=
	    hlen - sizeof(pre)) {
		ts_fmt(why, len, "the sealed header is cut short");
		rc = TSYNC_ENOENT;
		goto fail;
	}
	if ((rc = unwrap(r, h, n, my_id, my_enc, why, len)) != 0)
		goto fail;
	keys_sha256(h, hlen, r->hh);
	r->f = f;
	r->at = hlen;
	free(h);
	*out = r;
	return 0;
fail:
	free(h);
	seal_reader_free(r);
	return rc;
}

/* Reads, checks and decrypts the next chunk into r->pt. */
static int
next_chunk(struct seal_reader *r)
{
	uint8_t w[4], nonce[NONCE_LEN], ad[KEYS_HASH_LEN + 12];
	uint32_t word;
	size_t n;

	if (fread(w, 1, 4, r->f) != 4)
		return TSYNC_ENOENT;
	word = be32_get(w);
	n = word & ~FINAL_BIT;
	if (n > SEAL_CHUNK)
		return TSYNC_EAUTH; /* a changed length word */
	if (fread(r->ct, 1, n + TAG_LEN, r->f) != n + TAG_LEN)
		return TSYNC_ENOENT;
	chunk_ad(r->hh, r->index, word, nonce, ad);
	if (gcm(r->ctx, 0, r->key, nonce, ad, sizeof(ad), r->ct, n, r->pt,
		r->ct + n) != 0)
		return TSYNC_EAUTH;
	r->final = (word & FINAL_BIT) != 0;
	r->len = n;
	r->pos = 0;
	r->index++;
	r->at += 4 + n + TAG_LEN;
	return 0;
}

long
seal_read(struct seal_reader *r, void *p, size_t n)
{
	size_t k;

	while (r->err == 0 && r->pos == r->len && !r->final)
		r->err = next_chunk(r);
	if (r->err != 0)
		return r->err;
	k = r->len - r->pos;
	if (k > n)
		k = n;
	memcpy(p, r->pt + r->pos, k);
	r->pos += k;
	return (long)k;
}

int
seal_error(const struct seal_reader *r, uint64_t *offset, uint64_t *chunk)
{
	*offset = r->at;
	*chunk = r->index;
	return r->err;
}

void
seal_reader_free(struct seal_reader *r)
{
	if (r == NULL)
		return;
	OPENSSL_cleanse(r->key, sizeof(r->key));
	if (r->pt != NULL)
		OPENSSL_cleanse(r->pt, SEAL_CHUNK);
	free(r->pt);
	free(r->ct);
	EVP_CIPHER_CTX_free(r->ctx);
	free(r);
}
