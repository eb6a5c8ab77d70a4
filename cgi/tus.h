/* tus.h - the header parsers of tus.c, shared with tests/fuzz/fuzz_tus.c.
 * Upload-Length and Upload-Offset are read with qparse_i64 (util.h). */
#ifndef QUIRE_TUS_H
#define QUIRE_TUS_H

#include <stddef.h>

#include "api.h"

/* Tus-Resumable must be 1.0.0: Q_OK, or a 412 recorded on r (and the
 * Tus-Version header set in r->err_headers). */
qerr tus_check_version(qreq *r);
/* Decodes base64 [s, s+n) (standard or URL alphabet) into out,
 * NUL-terminated, cut at outsz - 1 bytes; stops at '='. Returns the decoded
 * length, or -1 when a byte is not base64 or the output was cut. */
long b64_decode(const char *s, size_t n, char *out, size_t outsz);
/* The "filename" (or "name") entry of an Upload-Metadata header into out
 * ("" when none), and its "sha256" entry as hex into sha ("" when absent,
 * "?" when unreadable). */
void tus_meta_filename(const char *meta, char *out, size_t outsz, char sha[65]);
/* The Upload-Checksum header ("sha256 <base64 digest>") as lowercase hex
 * into want; *given 0 when absent; a 400 recorded on r when malformed. */
qerr tus_chunk_checksum(qreq *r, char want[65], int *given);

#endif
