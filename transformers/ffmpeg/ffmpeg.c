/*
 * ffmpeg.c - the FFmpeg audio transformer (AIStore's aistorage/transformer_ffmpeg): an audio
 * object (FLAC, WAV, MP3, Ogg Opus/Vorbis, M4A/AAC...; the format is probed from the bytes)
 * becomes a 16-bit PCM WAV with $AC channels at $AR Hz, converted in-process with
 * libavformat/libavcodec/libswresample (convert.c). Objects whose name does not end in an audio
 * extension (.flac .wav .mp3 .m4a .aac .opus .ogg, any case) pass through unchanged, as the
 * reference does (LibriSpeech's *.trans.txt).
 *
 * Settings: AC (default 2) and AR (default 44100) from the environment, as in the reference
 * spec; `etl_args` overrides them per request: a JSON object {"ac":1,"ar":16000} (numbers or
 * numeric strings) or the short form "ac=1,ar=16000" (separators , & ; or spaces), either key
 * optional. A malformed value or an unknown key is answered with 400; a failed conversion
 * (corrupt, truncated or non-audio bytes) with 500 and the reason.
 */
#include "ffmpeg.h"

#include <locus/etl.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    int ac, ar;
} settings_t;

/* 0 and *v if s[0..n) is a decimal integer within [lo, hi], else -1. */
static int parse_int(const char *s, size_t n, int lo, int hi, int *v)
{
    if (n == 0 || n > 9)
        return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    if (x < lo || x > hi)
        return -1;
    *v = (int)x;
    return 0;
}

/* Applies key=value; 0, or -1 with a message. */
static int set_key(settings_t *st, const char *k, size_t kn, const char *v, size_t vn, char *err,
                   size_t errlen)
{
    if (kn == 2 && strncasecmp(k, "ac", 2) == 0) {
        if (parse_int(v, vn, FFX_AC_MIN, FFX_AC_MAX, &st->ac) == 0)
            return 0;
        snprintf(err, errlen, "invalid ac '%.*s' (channels, %d..%d)", (int)(vn < 32 ? vn : 32), v,
                 FFX_AC_MIN, FFX_AC_MAX);
        return -1;
    }
    if (kn == 2 && strncasecmp(k, "ar", 2) == 0) {
        if (parse_int(v, vn, FFX_AR_MIN, FFX_AR_MAX, &st->ar) == 0)
            return 0;
        snprintf(err, errlen, "invalid ar '%.*s' (sample rate in Hz, %d..%d)",
                 (int)(vn < 32 ? vn : 32), v, FFX_AR_MIN, FFX_AR_MAX);
        return -1;
    }
    snprintf(err, errlen, "unknown key '%.*s' (expected ac, ar)", (int)(kn < 32 ? kn : 32), k);
    return -1;
}

static const char *skip_ws(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* A JSON string (no escapes needed for our keys) or number token at p: its bytes in *t and *tn,
 * returns the position after it, or NULL. */
static const char *json_token(const char *p, const char **t, size_t *tn, int *quoted)
{
    *quoted = *p == '"';
    if (*quoted) {
        const char *e = p + 1;
        while (*e != '"' && *e != '\0' && *e != '\\')
            e++;
        if (*e != '"')
            return NULL;
        *t = p + 1;
        *tn = (size_t)(e - p - 1);
        return e + 1;
    }
    const char *e = p;
    while (isalnum((unsigned char)*e) || *e == '.' || *e == '-' || *e == '+')
        e++;
    if (e == p)
        return NULL;
    *t = p;
    *tn = (size_t)(e - p);
    return e;
}

/* etl_args -> settings (starting from the defaults in *st); 0, or -1 with a message. */
static int parse_args(const char *a, settings_t *st, char *err, size_t errlen)
{
    const char *p = skip_ws(a);
    if (*p == '\0')
        return 0;
    if (*p == '{') {
        p = skip_ws(p + 1);
        if (*p == '}')
            return *skip_ws(p + 1) == '\0' ? 0 : (snprintf(err, errlen, "invalid etl_args"), -1);
        for (;;) {
            const char *k, *v;
            size_t kn, vn;
            int kq, vq;
            if ((p = json_token(p, &k, &kn, &kq)) == NULL || !kq)
                break;
            p = skip_ws(p);
            if (*p != ':')
                break;
            if ((p = json_token(skip_ws(p + 1), &v, &vn, &vq)) == NULL)
                break;
            if (set_key(st, k, kn, v, vn, err, errlen) != 0)
                return -1;
            p = skip_ws(p);
            if (*p == ',') {
                p = skip_ws(p + 1);
                continue;
            }
            if (*p == '}' && *skip_ws(p + 1) == '\0')
                return 0;
            break;
        }
        snprintf(err, errlen, "invalid etl_args JSON (expected {\"ac\":N,\"ar\":N})");
        return -1;
    }
    /* ac=1,ar=16000 */
    while (*p != '\0') {
        const char *k = p;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        size_t kn = (size_t)(p - k);
        p = skip_ws(p);
        if (kn == 0 || (*p != '=' && *p != ':')) {
            snprintf(err, errlen, "invalid etl_args (expected ac=N,ar=N or JSON)");
            return -1;
        }
        const char *v = p = skip_ws(p + 1);
        while (*p != '\0' && *p != ',' && *p != '&' && *p != ';' && !isspace((unsigned char)*p))
            p++;
        if (set_key(st, k, kn, v, (size_t)(p - v), err, errlen) != 0)
            return -1;
        while (*p == ',' || *p == '&' || *p == ';' || isspace((unsigned char)*p))
            p++;
    }
    return 0;
}

/* Python's os.path.splitext(path)[1].lower() in the reference's extension list. */
static int is_audio(const char *path)
{
    static const char *const exts[] = {".flac", ".wav", ".mp3", ".m4a", ".aac", ".opus", ".ogg"};
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (dot == NULL)
        return 0;
    const char *q = base; /* leading dots of the name are not an extension */
    while (*q == '.')
        q++;
    if (dot < q)
        return 0;
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int xf(const locus_etl_input_t *in, locus_etl_output_t *out, void *ud)
{
    if (!is_audio(in->path))
        return locus_etl_set_static(out, in->data, in->len); /* zero-copy pass-through */
    settings_t st = *(const settings_t *)ud;
    char err[512];
    if (parse_args(in->args, &st, err, sizeof(err)) != 0)
        return locus_etl_set_error(out, 400, "%s", err);
    uint8_t *wav = NULL;
    size_t n = 0;
    if (ffx_convert(in->data, in->len, st.ac, st.ar, &wav, &n, err, sizeof(err)) != 0)
        return locus_etl_set_error(out, 500, "%s: %s", in->path, err);
    return locus_etl_set_owned(out, wav, n, NULL);
}

/* $name as an integer in [lo, hi] into *v (unchanged when unset or empty); -1 if invalid. */
static int env_int(const char *name, int lo, int hi, int *v)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return 0;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (parse_int(s, n, lo, hi, v) == 0)
        return 0;
    fprintf(stderr, "ffmpeg: invalid %s '%s' (%d..%d)\n", name, s, lo, hi);
    return -1;
}

int main(int argc, char **argv)
{
    static settings_t defaults = {2, 44100};
    if (env_int("AC", FFX_AC_MIN, FFX_AC_MAX, &defaults.ac) != 0 ||
        env_int("AR", FFX_AR_MIN, FFX_AR_MAX, &defaults.ar) != 0)
        return 2;
    /* The reference image's optional output settings (commented out in its spec). Its server
     * code reads only AC and AR, so a spec that sets them still gets WAV there; do the same,
     * but say so. */
    static const char *const ignored[] = {"BR", "CODEC", "FORMAT", "AUDIO_FILTERS"};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        const char *v = getenv(ignored[i]);
        if (v != NULL && *v != '\0')
            locus_etl_log(LOCUS_ETL_LOG_WARNING,
                          "ffmpeg: %s=%s ignored: the output is always 16-bit PCM WAV, only AC "
                          "and AR are settings",
                          ignored[i], v);
    }
    ffx_init();
    locus_etl_log(LOCUS_ETL_LOG_NOTICE, "ffmpeg: default AC=%d AR=%d", defaults.ac, defaults.ar);
    return locus_etl_serve(&(locus_etl_server_t){LOCUS_ETL_API_V1, .name = "ffmpeg",
                                                 .transform = xf, .userdata = &defaults},
                           argc, argv);
}
