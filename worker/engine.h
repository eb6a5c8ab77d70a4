/* engine.h - what every worker engine (audio, asr, tts) shares: the
 * progress/cancel checkpoint callback the job runner hands in. */
#ifndef QUIRE_ENGINE_H
#define QUIRE_ENGINE_H

#include "err.h"

/* Called by an engine between units of work (segments, chunks, files) with
 * the fraction done (0..1) and a short human message ("segment 3/40").
 * Returning non-zero asks the engine to stop: it then cleans up and returns
 * Q_ERR_CANCELLED. May be NULL where an engine takes one. */
typedef int (*q_checkpoint_fn)(void *ud, double fraction, const char *message);

#endif
