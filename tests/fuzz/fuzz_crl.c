/*
 * fuzz_crl.c - revocation lists (node/revoke.h): crl_install on a node
 * with an arbitrary list, as a CRL frame from a peer or a bundle reaches
 * it.  An input that starts with "-----" is taken as PEM; any other input
 * is DER, wrapped as PEM here.
 */
#include "fuzz_common.h"

#include "revoke.h"

static struct tsync_node *fz_n;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_n = fz_open_node("street", "gangzha/qinzao", "office");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t number = 0;
	size_t len = size;
	int installed;
	char *pem;

	if (size >= 5 && memcmp(data, "-----", 5) == 0) {
		if ((pem = malloc(size + 1)) == NULL)
			return 0;
		memcpy(pem, data, size);
	} else if ((pem = fz_pem(data, size, "X509 CRL", &len)) == NULL) {
		return 0;
	}
	(void)crl_install(fz_n, pem, len, &installed, &number);
	(void)crl_revoked_at(fz_n, 1);
	free(pem);
	return 0;
}
