/*
 * ffmpeg.h - internal interface of the FFmpeg audio transformer (transformers/ffmpeg): the
 * in-memory audio -> 16-bit PCM WAV conversion (convert.c) used by the server (ffmpeg.c).
 */
#ifndef LOCUS_ETL_FFMPEG_H
#define LOCUS_ETL_FFMPEG_H

#include <stddef.h>
#include <stdint.h>

/* Output channel and sample-rate bounds accepted from AC/AR and etl_args. */
#define FFX_AC_MIN 1
#define FFX_AC_MAX 8
#define FFX_AR_MIN 1000
#define FFX_AR_MAX 768000

/* Installs the libav log hook that routes error messages of a conversion into its error text
 * (and drops everything else). Call once, before any conversion. */
void ffx_init(void);

/* Decodes the audio object `data[0..len)` (format probed from the bytes), converts it to `ac`
 * channels at `ar` Hz and encodes it as a 16-bit PCM WAV with exact header sizes. On success
 * returns 0 and *out (malloc'ed, caller frees with free()) of *outlen bytes. On failure returns
 * -1 with a message in err[0..errlen) and *out untouched. Safe to call from any thread: all libav
 * state is per call (plus a per-thread resampler cache). */
int ffx_convert(const void *data, size_t len, int ac, int ar, uint8_t **out, size_t *outlen,
                char *err, size_t errlen);

#endif /* LOCUS_ETL_FFMPEG_H */
