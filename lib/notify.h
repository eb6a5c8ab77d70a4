/* notify.h - webhooks: a request (TTS, audiobook, a plain job) may carry a
 * notify_url; when it reaches a final state a JSON event is POSTed there,
 * signed with HMAC-SHA256 of the body under the owner's webhook secret
 * (header X-Quire-Signature: sha256=<hex>), retried with growing delays for
 * up to a day, each attempt recorded in notification_attempts.
 *
 * Handlers register a watch (qnotify_watch) in the transaction that creates
 * the request; a sender (quire-api runs one thread of it) calls
 * qnotify_pass over and over. Delivery runs on its own connection and
 * thread, never inside a job, so a slow or dead receiver cannot hold up
 * the queue. Several senders may run at once: rows are leased. */
#ifndef QUIRE_NOTIFY_H
#define QUIRE_NOTIFY_H

#include <stdint.h>

#include "db.h"

#define QNOTIFY_URL_MAX 2048

/* Is url an http:// or https:// URL of sane length and characters? */
int qnotify_url_ok(const char *url);

/* Watches kind/ref_id for owner: the event is built when watch_job_id
 * reaches a final state (kind "audiobook" with watch_job_id 0: when every
 * job of audiobook ref_id is final). kinds: "tts", "audiobook", "job". */
qerr qnotify_watch(qdb *db, int64_t owner_id, const char *kind, int64_t ref_id, int64_t watch_job_id,
                   const char *url, qerrctx *err);

/* One pass of the sender: turns watches whose subject ended into pending
 * events, then delivers up to max due events (each POST bounded by
 * QUIRE_NOTIFY_TIMEOUT_MS, default 10 s). Returns deliveries attempted or
 * -1 with err set. */
int qnotify_pass(qdb *db, int max, qerrctx *err);

/* The delay before retry number `attempt` (1-based) in ms: base
 * QUIRE_NOTIFY_RETRY_BASE_MS (default 5 s) times 3^(attempt-1), capped at
 * an hour, with jitter. Given up QUIRE_NOTIFY_GIVE_UP_S (default 86400)
 * after the subject ended. */
int64_t qnotify_backoff_ms(int attempt);

#endif
