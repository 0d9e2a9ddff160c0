/*
 * fuzz_cert.c - certificate parsing: cert_from_pem, cert_parse and
 * cert_check_issuer (node/keys.h), and certs_add_pem (node/certs.h) on a
 * node, as a CERT frame from a peer reaches them.
 *
 * An input that starts with "-----" is taken as PEM; any other input is
 * DER, wrapped as PEM here, so mutations work on the ASN.1 and not on
 * base64.
 */
#include "fuzz_common.h"

#include "certs.h"
#include "keys.h"

static struct tsync_node *fz_n;
static X509 *fz_ca;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[600], err[256];

	(void)argc;
	(void)argv;
	fz_n = fz_open_node("street", "gangzha/qinzao", "office");
	if ((fz_ca = cert_load(fz_path(path, sizeof(path), "ca/ca.crt"), err,
			       sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_info ci;
	size_t len = size;
	char *pem;
	X509 *c;

	if (size >= 5 && memcmp(data, "-----", 5) == 0) {
		if ((pem = malloc(size + 1)) == NULL)
			return 0;
		memcpy(pem, data, size);
	} else if ((pem = fz_pem(data, size, "CERTIFICATE", &len)) == NULL) {
		return 0;
	}
	if ((c = cert_from_pem(pem, len)) != NULL) {
		if (cert_parse(c, &ci) == 0 &&
		    (memchr(ci.scope, '\0', sizeof(ci.scope)) == NULL ||
		     memchr(ci.role, '\0', sizeof(ci.role)) == NULL ||
		     memchr(ci.district, '\0', sizeof(ci.district)) == NULL))
			abort(); /* the fields must be C strings */
		(void)cert_check_issuer(c, fz_ca);
		X509_free(c);
	}
	(void)certs_add_pem(fz_n, pem, len);
	free(pem);
	return 0;
}
