/*
 * gen.c - `locus-bench gen-librispeech`: a LibriSpeech-like corpus of synthetic speech, the
 * stand-in for the real corpus (which cannot be downloaded here) described in docs/benchmarks.md
 * ("The data"): FLAC, 16 kHz, mono, 16-bit; durations with mean ~12.0 s (~85% between 8 and
 * 35 s around 13.4 s, ~15% short ones of 1-8 s), hard cap 35 s; speech-like content that FLAC
 * compresses to ~17 kB/s; the folder layout <speaker>/<chapter>/<spk>-<chap>-<NNNN>.flac plus
 * one <spk>-<chap>.trans.txt per chapter.
 *
 * DESIGN
 * - Determinism. Every random choice comes from xoshiro256** generators seeded through
 *   splitmix64 from (--seed, stream, index): one stream for the layout (speakers, chapters,
 *   durations, transcripts) drawn sequentially in the main thread, and one stream per file
 *   for its audio. The same seed therefore gives byte-identical files whatever --threads is
 *   and however the threads are scheduled, and the first N files of a larger run are the
 *   files of a run with --files N (only the last chapter's .trans.txt may be shorter).
 *   The synthesis is plain IEEE double arithmetic with our own exp/log/sin (no libm, no
 *   -ffast-math), so optimisation levels agree too: the -O0 ASan build writes the same bytes.
 * - Signal: a Klatt-style source-filter model. Voiced syllables: a Rosenberg glottal pulse
 *   train at F0 90-250 Hz (per-speaker base, phrase declination, per-syllable accent, 1%
 *   jitter, shimmer) plus aspiration noise, through a cascade of four formant resonators
 *   gliding between vowel targets (scaled per speaker), under a syllabic envelope at 3-6 Hz.
 *   Unvoiced: fricatives (noise through a 2.5-7 kHz resonator) and plosive bursts at syllable
 *   onsets and codas. Phrases are separated by pauses that take 15-25% of each file; pauses
 *   hold a low-level noise floor (a recording's room noise), never digital zero.
 *   GEN_* levels below were tuned so that FLAC (libavcodec, default compression level 5)
 *   averages ~17 kB/s like the real corpus; the unpredictable parts (aspiration, fricatives,
 *   the floor) are what cost bits: white noise would be ~100% of PCM, pure tones ~5%.
 * - Threads: the main thread plans the layout, creates the directories and writes the
 *   .trans.txt files; --threads workers take file indices from an atomic counter and each
 *   synthesises, encodes (libavcodec FLAC) and muxes (libavformat "flac" muxer) into
 *   <name>.flac.tmp, renamed when complete. Per-file results go into the file's own slot, so
 *   the statistics need no lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>

#include "bench.h"
#include "opts.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define GEN_MAX_DUR 35.0  /* hard cap, seconds */
#define GEN_SHORT_DUR 8.0 /* "short" utterances are below this */
#define GEN_SHORT_P 0.15  /* share of short utterances */
#define F0_MIN 90.0       /* pitch range of the voices, Hz (jitter aside) */
#define F0_MAX 250.0
#define GEN_PHRASE_S 2.6   /* mean phrase length, seconds */
#define GEN_FLOOR_LSB 15.0 /* noise floor, standard deviation in LSB (scaled per speaker) */
#define GEN_ASPIRATION 2.0 /* aspiration noise relative to the voiced source (per speaker) */
#define GEN_FRIC_LEVEL 0.7 /* fricative RMS relative to the voiced RMS */

/* --- math ---
 * Our own exp/log/sin/cos/sqrt: locus-bench does not link libm, and with these the samples do
 * not depend on the libm version either (same seed, same bytes on any glibc). Accurate to a
 * few ulp over the ranges used here, which is far more than 16-bit audio needs. */

static inline double m_abs(double x)
{
    return x < 0 ? -x : x;
}

static inline double m_min(double a, double b)
{
    return a < b ? a : b;
}

static inline double m_max(double a, double b)
{
    return a > b ? a : b;
}

static inline long m_round(double x)
{
    return x >= 0 ? (long)(x + 0.5) : -(long)(-x + 0.5);
}

static inline double m_floor(double x)
{
    double t = (double)(long)x;
    return t > x ? t - 1 : t;
}

/* 2^k for an integer k in the normal range. */
static inline double m_pow2i(long k)
{
    union {
        double d;
        uint64_t u;
    } v;
    if (k < -1022)
        return 0;
    v.u = (uint64_t)(k + 1023) << 52;
    return v.d;
}

static double m_exp(double x)
{
    if (x < -700)
        return 0;
    if (x > 700)
        x = 700;
    const double ln2 = 0.6931471805599453;
    long k = m_round(x / ln2);
    double r = x - (double)k * ln2, t = 1, sum = 1;
    for (int i = 1; i <= 13; i++) { /* |r| <= 0.35: the 14th term is below 1e-19 */
        t *= r / i;
        sum += t;
    }
    return sum * m_pow2i(k);
}

/* Natural log of x > 0 (finite). */
static double m_log(double x)
{
    union {
        double d;
        uint64_t u;
    } v = {.d = x};
    long e = (long)((v.u >> 52) & 0x7ff) - 1023;
    v.u = (v.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL; /* mantissa in [1, 2) */
    double m = v.d;
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double s = (m - 1) / (m + 1), s2 = s * s, t = s, sum = 0;
    for (int i = 1; i <= 25; i += 2) { /* |s| <= 0.172 */
        sum += t / i;
        t *= s2;
    }
    return 2 * sum + (double)e * 0.6931471805599453;
}

static inline double m_pow(double x, double y)
{
    return x <= 0 ? 0 : m_exp(y * m_log(x));
}

static double m_sqrt(double x)
{
    if (x <= 0)
        return 0;
    /* start from 2^(e/2), then Newton (quadratic convergence) */
    union {
        double d;
        uint64_t u;
    } v = {.d = x};
    long e = (long)((v.u >> 52) & 0x7ff) - 1023;
    double y = m_pow2i(e / 2);
    for (int i = 0; i < 8; i++)
        y = 0.5 * (y + x / y);
    return y;
}

static double m_sin(double x)
{
    const double pi = M_PI, twopi = 2 * M_PI;
    x -= twopi * m_floor(x / twopi + 0.5); /* [-pi, pi] */
    if (x > pi / 2)
        x = pi - x;
    else if (x < -pi / 2)
        x = -pi - x;
    double x2 = x * x, t = x, sum = x;
    for (int i = 3; i <= 21; i += 2) {
        t *= -x2 / ((i - 1) * i);
        sum += t;
    }
    return sum;
}

static inline double m_cos(double x)
{
    return m_sin(x + M_PI / 2);
}

/* --- PRNG: splitmix64 seeding xoshiro256** (Blackman & Vigna, public domain) --- */

typedef struct {
    uint64_t s[4];
} rng_t;

enum { STREAM_LAYOUT = 1, STREAM_AUDIO = 2 };

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_init(rng_t *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t x = seed;
    x = splitmix64(&x) ^ (stream * 0xd1b54a32d192ed03ULL);
    x = splitmix64(&x) ^ (index * 0x8cb92ba72f3d8dd7ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

/* Uniform in [0, 1). */
static inline double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static inline double rng_uniform(rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

/* Uniform integer in [lo, hi]. */
static inline long rng_int(rng_t *r, long lo, long hi)
{
    return lo + (long)(rng_unit(r) * (double)(hi - lo + 1));
}

/* Approximately standard normal: the sum of four 16-bit uniforms from one draw (Irwin-Hall,
 * bounded at +-3.46). Plenty for noise in audio, and without log/sqrt, which were half of
 * the synthesis time with the polar method. */
static inline double rng_gauss(rng_t *r)
{
    uint64_t x = rng_next(r);
    double sum = (double)((x & 0xffff) + ((x >> 16) & 0xffff) + ((x >> 32) & 0xffff) + (x >> 48));
    return (sum * (1.0 / 65536.0) - 2.0) * 1.7320508075688772;
}

/* --- layout: speakers, chapters, utterances, transcripts --- */

typedef struct {
    int id;
    double f0;      /* base fundamental, Hz */
    double vtl;     /* formant scale (shorter vocal tract = higher formants) */
    double syl_hz;  /* syllable rate, Hz */
    double breath;  /* aspiration multiplier */
    double floor;   /* noise floor multiplier */
    double peak;    /* peak level, fraction of full scale */
    double fric;    /* fricative level multiplier */
    double lowpass; /* recording's high-frequency roll-off, Hz */
} gen_speaker_t;

typedef struct {
    int spk;       /* index into speakers */
    int chap;      /* chapter id */
    int utt;       /* NNNN */
    long nsamples; /* duration in samples */
    char *words;   /* transcript, uppercase (owned) */
    char *dir;     /* <out>/<spk>/<chap> (borrowed from the chapter) */
    /* results, written by the worker that made the file */
    long bytes;   /* FLAC size, -1 until done */
    long silence; /* samples in pauses */
} gen_file_t;

typedef struct {
    int spk, id;
    char *dir;   /* owned */
    long first;  /* index of its first file */
    long nfiles; /* files in it */
} gen_chapter_t;

typedef struct {
    /* options */
    long nfiles;
    uint64_t seed;
    const char *out;
    int threads;
    int rate;
    /* plan */
    gen_speaker_t *spk;
    int nspk;
    gen_chapter_t *chap;
    int nchap;
    gen_file_t *files;
    /* workers */
    atomic_long next;
    atomic_long done;
    atomic_int failed;
    pthread_mutex_t err_lock; /* protects err (first failure wins) */
    char err[LOCUS_ERR_LEN];
} gen_t;

static const char *const vocab[] = {
    "THE",       "AND",       "OF",        "TO",       "A",        "IN",       "THAT",
    "HE",        "WAS",       "IT",        "HIS",      "HAD",      "WITH",     "AS",
    "FOR",       "HER",       "SHE",       "YOU",      "NOT",      "BUT",      "AT",
    "ON",        "BE",        "HIM",       "THEY",     "BY",       "ALL",      "THIS",
    "WHICH",     "WERE",      "FROM",      "SO",       "SAID",     "WOULD",    "ONE",
    "THERE",     "THEIR",     "WHEN",      "WHAT",     "BEEN",     "NO",       "IF",
    "OUT",       "UPON",      "INTO",      "COULD",    "THEN",     "LITTLE",   "TIME",
    "ABOUT",     "MORE",      "NOW",       "OLD",      "VERY",     "MAN",      "GREAT",
    "BEFORE",    "DAY",       "SOME",      "ONLY",     "OVER",     "AGAIN",    "MIGHT",
    "HOUSE",     "HAND",      "THOUGHT",   "EYES",     "NIGHT",    "LONG",     "AWAY",
    "THROUGH",   "WATER",     "HEAD",      "DOWN",     "FATHER",   "MOTHER",   "WORLD",
    "NEVER",     "UNDER",     "WHILE",     "DOOR",     "ROOM",     "YOUNG",    "LIFE",
    "SHALL",     "AMONG",     "CAME",      "FACE",     "MORNING",  "SILENCE",  "VOICE",
    "WINDOW",    "GARDEN",    "RIVER",     "COUNTRY",  "FRIEND",   "LETTER",   "CHILDREN",
    "EVENING",   "STRANGE",   "BEAUTIFUL", "PERHAPS",  "ALTHOUGH", "NOTHING",  "EVERYTHING",
    "MOMENT",    "HORSES",    "CAPTAIN",   "LADY",     "KING",     "FOREST",   "SHIP",
    "MOUNTAIN",  "QUESTION",  "ANSWERED",  "REMEMBER", "BELIEVE",  "DAUGHTER", "HUNDRED",
    "WHISPERED", "PRESENTLY", "CERTAINLY", "TOGETHER", "HOWEVER",  "ALREADY",  "SUDDENLY",
    "DON'T",     "I'M",       "IT'S",      "COULDN'T", "THAT'S",   "HE'S",     "O'CLOCK",
};

static char *make_words(rng_t *r, double dur_s)
{
    long n = m_round(dur_s * rng_uniform(r, 2.3, 3.1));
    if (n < 1)
        n = 1;
    buf_t b;
    buf_init(&b);
    for (long i = 0; i < n; i++) {
        /* Zipf-ish: short function words are far more frequent than the rest. */
        double u = rng_unit(r);
        size_t k = (size_t)(u * u * u * (double)ARRAY_SIZE(vocab));
        if (k >= ARRAY_SIZE(vocab))
            k = ARRAY_SIZE(vocab) - 1;
        buf_printf(&b, "%s%s", i ? " " : "", vocab[k]);
    }
    return buf_steal(&b);
}

/* Utterance duration in seconds: ~15% short ones of 1-8 s (mean ~4.1 s), the rest 8 s plus a
 * gamma(3, 1.8 s) tail (mean 13.4 s, right-skewed like the real corpus), capped at 35 s. The
 * mix has a mean of ~12.0 s. */
static double draw_duration(rng_t *r)
{
    if (rng_unit(r) < GEN_SHORT_P)
        return 1.0 + 7.0 * m_pow(rng_unit(r), 1.3);
    for (;;) {
        /* one draw per statement: the order of calls within an expression is unspecified */
        double p = 1 - rng_unit(r);
        p *= 1 - rng_unit(r);
        p *= 1 - rng_unit(r);
        double g = -1.8 * m_log(p);
        if (8.0 + g <= GEN_MAX_DUR)
            return 8.0 + g;
    }
}

static void plan_speaker(gen_speaker_t *s, rng_t *r, int id)
{
    bool female = rng_unit(r) < 0.5;
    s->id = id;
    s->f0 = female ? rng_uniform(r, 165, 220) : rng_uniform(r, 100, 145);
    s->vtl = female ? rng_uniform(r, 1.10, 1.20) : rng_uniform(r, 0.94, 1.04);
    s->syl_hz = rng_uniform(r, 3.5, 5.5);
    s->breath = rng_uniform(r, 0.7, 1.4);
    s->floor = rng_uniform(r, 0.7, 1.4);
    s->peak = rng_uniform(r, 0.5, 0.9);
    s->fric = rng_uniform(r, 0.7, 1.3);
    s->lowpass = rng_uniform(r, 5500, 7600);
}

/* Plans speakers (2-4 chapters each), chapters (10-25 files each) and files, and creates
 * the chapter directories. 0 or -1 (g->err filled). */
static int plan(gen_t *g)
{
    rng_t r;
    rng_init(&r, g->seed, STREAM_LAYOUT, 0);
    g->files = xcalloc((size_t)g->nfiles, sizeof(*g->files));
    size_t cap_spk = 16, cap_chap = 32;
    g->spk = xmalloc(cap_spk * sizeof(*g->spk));
    g->chap = xmalloc(cap_chap * sizeof(*g->chap));
    int spk_id = 14, chap_id = 100;
    long f = 0;
    while (f < g->nfiles) {
        if ((size_t)g->nspk == cap_spk)
            g->spk = xrealloc(g->spk, (cap_spk *= 2) * sizeof(*g->spk));
        spk_id += (int)rng_int(&r, 5, 60);
        gen_speaker_t *s = &g->spk[g->nspk];
        plan_speaker(s, &r, spk_id);
        int nch = (int)rng_int(&r, 2, 4);
        for (int c = 0; c < nch && f < g->nfiles; c++) {
            if ((size_t)g->nchap == cap_chap)
                g->chap = xrealloc(g->chap, (cap_chap *= 2) * sizeof(*g->chap));
            chap_id += (int)rng_int(&r, 1, 3000);
            gen_chapter_t *ch = &g->chap[g->nchap++];
            ch->spk = g->nspk;
            ch->id = chap_id;
            ch->first = f;
            ch->dir = xasprintf("%s/%d/%d", g->out, s->id, chap_id);
            if (mkdir_p(ch->dir, 0755) != 0) {
                snprintf(g->err, sizeof(g->err), "mkdir %s: %s", ch->dir, strerror(errno));
                g->nspk++;
                return -1;
            }
            long n = rng_int(&r, 10, 25);
            for (long u = 0; u < n && f < g->nfiles; u++, f++) {
                gen_file_t *fi = &g->files[f];
                double dur = draw_duration(&r);
                fi->spk = g->nspk;
                fi->chap = chap_id;
                fi->utt = (int)u;
                fi->nsamples = m_round(dur * g->rate);
                fi->words = make_words(&r, dur);
                fi->dir = ch->dir;
                fi->bytes = -1;
            }
            ch->nfiles = f - ch->first;
        }
        g->nspk++;
    }
    return 0;
}

static int write_transcripts(gen_t *g)
{
    for (int c = 0; c < g->nchap; c++) {
        gen_chapter_t *ch = &g->chap[c];
        int spk = g->spk[ch->spk].id;
        buf_t b;
        buf_init(&b);
        for (long i = ch->first; i < ch->first + ch->nfiles; i++)
            buf_printf(&b, "%d-%d-%04d %s\n", spk, ch->id, g->files[i].utt, g->files[i].words);
        char *path = xasprintf("%s/%d-%d.trans.txt", ch->dir, spk, ch->id);
        int rc = write_file_atomic(path, b.base, b.len);
        if (rc != 0)
            snprintf(g->err, sizeof(g->err), "write %s: %s", path, strerror(errno));
        free(path);
        buf_dispose(&b);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* --- synthesis --- */

/* Two-pole resonator. Formants use Klatt's unity-gain-at-DC form (the cascade then shapes the
 * spectrum as a vocal tract does); noise filters use unity gain at the centre frequency. */
typedef struct {
    double a0, b1, b2, y1, y2;
} reson_t;

static void reson_set(reson_t *z, double f, double bw, double rate, bool peak_norm)
{
    double rr = m_exp(-M_PI * bw / rate), th = 2 * M_PI * f / rate;
    z->b1 = 2 * rr * m_cos(th);
    z->b2 = -rr * rr;
    z->a0 = peak_norm ? (1 - rr) * m_sqrt(1 + rr * rr - 2 * rr * m_cos(2 * th)) : 1 - z->b1 - z->b2;
}

static inline double reson_run(reson_t *z, double x)
{
    double y = z->a0 * x + z->b1 * z->y1 + z->b2 * z->y2;
    z->y2 = z->y1;
    z->y1 = y;
    return y;
}

/* Vowel formant targets F1-F3 of an adult male (Peterson & Barney), Hz. */
static const double vowels[][3] = {
    {270, 2290, 3010}, {390, 1990, 2550}, {530, 1840, 2480}, {660, 1720, 2410}, {730, 1090, 2440},
    {570, 840, 2410},  {440, 1020, 2240}, {300, 870, 2240},  {640, 1190, 2390}, {490, 1350, 1690},
};
static const double formant_bw[4] = {70, 100, 160, 300};
#define F4_HZ 3400.0
#define UPDATE 32 /* samples between formant/pitch coefficient updates */

/* Rosenberg glottal flow over one period, phase in [0, 1). */
static inline double glottal(double ph)
{
    const double tp = 0.40, tn = 0.16;
    if (ph < tp)
        return 0.5 * (1 - m_cos(M_PI * ph / tp));
    if (ph < tp + tn)
        return m_cos(0.5 * M_PI * (ph - tp) / tn);
    return 0;
}

typedef enum { ONSET_NONE, ONSET_VOICED, ONSET_FRIC, ONSET_PLOSIVE } onset_t;

/* Synthesis state that runs across the syllables of one phrase. */
typedef struct {
    const gen_speaker_t *s;
    double rate;
    reson_t form[4], fric;
    double f[4];     /* current formant frequencies */
    double phase;    /* glottal phase, periods */
    double period_j; /* this period's jitter factor */
    double shimmer;  /* this period's amplitude factor */
    double g_prev;   /* last glottal flow value (differentiated = lip radiation) */
    double fric_f, fric_bw;
} voice_t;

/* Renders one syllable of n samples into v (voiced) and u (unvoiced). f0a/f0b: pitch at the
 * start and end; stress: 0.5-1; first/last: phrase edges (short fades). */
static void syllable(voice_t *vs, rng_t *r, float *v, float *u, long n, double f0a, double f0b,
                     double stress, bool first, bool last)
{
    const gen_speaker_t *s = vs->s;
    double rate = vs->rate;
    const double *vw = vowels[rng_int(r, 0, (long)ARRAY_SIZE(vowels) - 1)];
    double target[4] = {vw[0] * s->vtl, vw[1] * s->vtl, vw[2] * s->vtl, F4_HZ * s->vtl};
    for (int k = 0; k < 4; k++)
        target[k] *= rng_uniform(r, 0.92, 1.08);

    /* onset consonant, up to 35% of the syllable */
    double p = rng_unit(r);
    onset_t on = p < 0.35   ? ONSET_FRIC
                 : p < 0.55 ? ONSET_PLOSIVE
                 : p < 0.75 ? ONSET_VOICED
                            : ONSET_NONE;
    long on_len = 0;
    if (on != ONSET_NONE) {
        double sec = on == ONSET_FRIC ? rng_uniform(r, 0.04, 0.12) : rng_uniform(r, 0.03, 0.07);
        on_len = m_round(sec * rate);
        if (on_len > n * 35 / 100)
            on_len = n * 35 / 100;
    }
    /* coda fricative ('s', 'th', 'f') over the last part of the syllable */
    long coda_len = 0;
    if (rng_unit(r) < 0.25) {
        coda_len = m_round(rng_uniform(r, 0.04, 0.10) * rate);
        if (coda_len > n / 3)
            coda_len = n / 3;
    }
    double nyq = 0.45 * rate;
    double fc = m_min(rng_uniform(r, 2500, 7000), nyq), fbw = rng_uniform(r, 800, 2500);
    reson_set(&vs->fric, fc, fbw, rate, true);
    double fric_amp = stress * s->fric * rng_uniform(r, 0.6, 1.4);
    long nuc = n - on_len;
    double smooth = 1 - m_exp(-(double)UPDATE / (0.025 * rate));

    for (long i = 0; i < n; i++) {
        if (i % UPDATE == 0) {
            for (int k = 0; k < 4; k++) {
                vs->f[k] += (target[k] - vs->f[k]) * smooth;
                reson_set(&vs->form[k], m_min(vs->f[k], nyq), formant_bw[k], rate, false);
            }
        }
        /* voiced amplitude: the syllabic envelope over the nucleus */
        double av = 0;
        if (i >= on_len) {
            double x = (double)(i - on_len) / (double)nuc;
            double e = 1 - m_sin(M_PI * x); /* a rounded-top arch, cheaper than sin^0.7 */
            av = 0.08 + 0.92 * (1 - e * e);
        } else if (on == ONSET_VOICED || on == ONSET_NONE) {
            av = 0.08;
        }
        if (first && i < on_len + (long)(0.02 * rate))
            av *= (double)i / (double)(on_len + (long)(0.02 * rate));
        if (last && i >= n - (long)(0.03 * rate))
            av *= (double)(n - i) / (0.03 * rate);
        av *= stress;

        /* glottal source at the interpolated pitch, with per-period jitter and shimmer */
        double f0 = f0a + (f0b - f0a) * (double)i / (double)n;
        vs->phase += f0 * vs->period_j / rate;
        if (vs->phase >= 1) {
            vs->phase -= m_floor(vs->phase);
            vs->period_j = 1 + 0.012 * rng_gauss(r);
            vs->shimmer = 1 + 0.06 * rng_gauss(r);
        }
        double g = glottal(vs->phase);
        double src = (g - vs->g_prev) * vs->shimmer * (rate / f0) * 0.05;
        vs->g_prev = g;
        /* aspiration: stronger while the glottis is open */
        double asp =
            rng_gauss(r) * (vs->phase < 0.56 ? 1.0 : 0.4) * 0.02 * GEN_ASPIRATION * s->breath;
        double y = (src + asp) * av;
        for (int k = 0; k < 4; k++)
            y = reson_run(&vs->form[k], y);
        v[i] = (float)y;

        /* unvoiced: onset fricative/burst, coda fricative */
        double au = 0;
        if (i < on_len && on == ONSET_FRIC)
            au = m_sin(M_PI * (double)i / (double)on_len);
        else if (i < on_len && on == ONSET_PLOSIVE && i >= on_len * 2 / 3)
            au = 1.6 * m_exp(-(double)(i - on_len * 2 / 3) / (0.006 * rate));
        if (coda_len > 0 && i >= n - coda_len)
            au += 0.8 * m_sin(M_PI * (double)(i - (n - coda_len)) / (double)coda_len);
        double nz = rng_gauss(r);
        u[i] = (float)(reson_run(&vs->fric, nz) * au * fric_amp);
    }
}

/* Renders a whole file into pcm (n samples, 16-bit). Returns the samples in pauses. */
static long synth_file(const gen_t *g, long idx, int16_t *pcm, float *v, float *u)
{
    const gen_file_t *fi = &g->files[idx];
    const gen_speaker_t *s = &g->spk[fi->spk];
    double rate = g->rate;
    long n = fi->nsamples;
    rng_t r;
    rng_init(&r, g->seed, STREAM_AUDIO, (uint64_t)idx);
    memset(v, 0, (size_t)n * sizeof(*v));
    memset(u, 0, (size_t)n * sizeof(*u));

    /* pauses: 15-25% of the file, split between lead-in, between phrases and tail */
    double sil_share = rng_uniform(&r, 0.15, 0.25);
    long sil = m_round(sil_share * (double)n), speech = n - sil;
    int np = (int)m_round((double)speech / rate / (GEN_PHRASE_S * rng_uniform(&r, 0.8, 1.2)));
    if (np < 1)
        np = 1;
    double *pw = xmalloc((size_t)np * sizeof(*pw)), *gw = xmalloc((size_t)(np + 1) * sizeof(*gw));
    double psum = 0, gsum = 0;
    for (int i = 0; i < np; i++)
        psum += pw[i] = rng_uniform(&r, 0.6, 1.4);
    for (int i = 0; i <= np; i++)
        gsum += gw[i] = (i == 0 || i == np) ? rng_uniform(&r, 0.3, 0.7) : rng_uniform(&r, 0.5, 1.5);

    voice_t vs = {.s = s, .rate = rate, .period_j = 1, .shimmer = 1};
    for (int k = 0; k < 4; k++)
        vs.f[k] = (k < 3 ? vowels[8][k] : F4_HZ) * s->vtl;
    long pos = 0, used_sil = 0, used_speech = 0;
    double gacc = 0, pacc = 0;
    for (int ph = 0; ph < np; ph++) {
        /* gap before phrase ph, and the phrase itself (cumulative rounding: exact totals) */
        gacc += gw[ph];
        long gap = m_round(gacc / gsum * (double)sil) - used_sil;
        used_sil += gap;
        pos += gap;
        pacc += pw[ph];
        long plen = m_round(pacc / psum * (double)speech) - used_speech;
        used_speech += plen;

        /* phrase: syllables at the speaker's rate; pitch declines over the phrase */
        double f0_start = m_min(s->f0 * rng_uniform(&r, 1.0, 1.15), F0_MAX);
        double f0_end = m_max(s->f0 * rng_uniform(&r, 0.8, 0.92), F0_MIN);
        double syl = rate / s->syl_hz;
        long off = 0;
        double f0_prev = f0_start;
        vs.phase = 0;
        vs.g_prev = 0;
        for (int k = 0; k < 4; k++)
            vs.form[k].y1 = vs.form[k].y2 = 0;
        vs.fric.y1 = vs.fric.y2 = 0;
        while (off < plen) {
            long len = m_round(syl * rng_uniform(&r, 0.65, 1.35));
            if (plen - off - len < (long)(syl * 0.5))
                len = plen - off;
            double stress = rng_uniform(&r, 0.45, 1.0);
            double f0_next = f0_start + (f0_end - f0_start) * (double)(off + len) / (double)plen;
            f0_next *= 1 + 0.12 * (stress - 0.7) + 0.03 * rng_gauss(&r);
            f0_next = m_max(F0_MIN, m_min(F0_MAX, f0_next));
            syllable(&vs, &r, v + pos + off, u + pos + off, len, f0_prev, f0_next, stress, off == 0,
                     off + len == plen);
            f0_prev = f0_next;
            off += len;
        }
        pos += plen;
    }
    free(pw);
    free(gw);

    /* mix: fricatives at a fixed RMS ratio to the voiced part, then the recording's roll-off,
     * then normalise to the speaker's peak level */
    double ev = 0, eu = 0;
    long nv = 0, nu = 0;
    for (long i = 0; i < n; i++) {
        if (v[i] != 0) {
            ev += (double)v[i] * v[i];
            nv++;
        }
        if (u[i] != 0) {
            eu += (double)u[i] * u[i];
            nu++;
        }
    }
    double ku =
        (nu > 0 && nv > 0 && eu > 0) ? GEN_FRIC_LEVEL * m_sqrt(ev / nv) / m_sqrt(eu / nu) : 0;
    /* the recording chain's roll-off: two cascaded RBJ low-pass biquads (Butterworth Q) */
    double fl = m_min(s->lowpass, 0.45 * rate), w0 = 2 * M_PI * fl / rate;
    double cw = m_cos(w0), al = m_sin(w0) / (2 * 0.7071067811865476), a0 = 1 + al;
    double lb0 = (1 - cw) / 2 / a0, lb1 = (1 - cw) / a0, la1 = -2 * cw / a0, la2 = (1 - al) / a0;
    double x1[2] = {0, 0}, x2[2] = {0, 0}, y1[2] = {0, 0}, y2[2] = {0, 0};
    double peak = 0;
    for (long i = 0; i < n; i++) {
        double x = v[i] + ku * u[i];
        for (int k = 0; k < 2; k++) {
            double y = lb0 * x + lb1 * x1[k] + lb0 * x2[k] - la1 * y1[k] - la2 * y2[k];
            x2[k] = x1[k];
            x1[k] = x;
            y2[k] = y1[k];
            y1[k] = y;
            x = y;
        }
        v[i] = (float)x;
        if (m_abs(x) > peak)
            peak = m_abs(x);
    }
    double scale = peak > 0 ? s->peak * 32767.0 / peak : 0;
    /* noise floor: slightly low-passed room noise, everywhere (so pauses are never zero) */
    double fsd = GEN_FLOOR_LSB * s->floor, nlp = 0;
    for (long i = 0; i < n; i++) {
        nlp = 0.6 * nlp + 0.4 * rng_gauss(&r);
        double x = v[i] * scale + nlp * fsd * 1.6;
        long q = m_round(x);
        pcm[i] = (int16_t)(q > 32767 ? 32767 : q < -32768 ? -32768 : q);
    }
    return sil;
}

/* --- FLAC encoding --- */

static void av_err(char *err, size_t errlen, const char *what, const char *path, int rc)
{
    char e[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(rc, e, sizeof(e));
    snprintf(err, errlen, "%s %s: %s", what, path, e);
}

static int drain(AVCodecContext *cc, AVFormatContext *oc, AVPacket *pkt)
{
    int rc;
    while ((rc = avcodec_receive_packet(cc, pkt)) == 0) {
        av_packet_rescale_ts(pkt, cc->time_base, oc->streams[0]->time_base);
        pkt->stream_index = 0;
        if ((rc = av_write_frame(oc, pkt)) < 0)
            return rc;
        av_packet_unref(pkt);
    }
    return rc == AVERROR(EAGAIN) || rc == AVERROR_EOF ? 0 : rc;
}

/* Encodes n mono s16 samples into a FLAC file at path. Returns the file size or -1 (err). */
static long write_flac(const char *path, const int16_t *pcm, long n, int rate, char *err,
                       size_t errlen)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_FLAC);
    AVCodecContext *cc = NULL;
    AVFormatContext *oc = NULL;
    AVFrame *fr = NULL;
    AVPacket *pkt = NULL;
    long size = -1;
    int rc;
    if (codec == NULL) {
        snprintf(err, errlen, "libavcodec has no FLAC encoder");
        return -1;
    }
    if ((rc = avformat_alloc_output_context2(&oc, NULL, "flac", path)) < 0) {
        av_err(err, errlen, "flac muxer for", path, rc);
        return -1;
    }
    cc = avcodec_alloc_context3(codec);
    fr = av_frame_alloc();
    pkt = av_packet_alloc();
    if (cc == NULL || fr == NULL || pkt == NULL) {
        snprintf(err, errlen, "out of memory for %s", path);
        goto out;
    }
    cc->sample_fmt = AV_SAMPLE_FMT_S16;
    cc->sample_rate = rate;
    cc->time_base = (AVRational){1, rate};
    av_channel_layout_default(&cc->ch_layout, 1);
    /* bitexact: no library version strings in the file, so the bytes depend on the seed */
    cc->flags |= AV_CODEC_FLAG_BITEXACT;
    oc->flags |= AVFMT_FLAG_BITEXACT;
    /* no 8 KiB PADDING block: the sizes are those of the audio */
    oc->metadata_header_padding = 0;
    if ((rc = avcodec_open2(cc, codec, NULL)) < 0) {
        av_err(err, errlen, "FLAC encoder for", path, rc);
        goto out;
    }
    AVStream *st = avformat_new_stream(oc, NULL);
    if (st == NULL || avcodec_parameters_from_context(st->codecpar, cc) < 0) {
        snprintf(err, errlen, "stream setup for %s failed", path);
        goto out;
    }
    st->time_base = cc->time_base;
    if ((rc = avio_open(&oc->pb, path, AVIO_FLAG_WRITE)) < 0) {
        av_err(err, errlen, "open", path, rc);
        goto out;
    }
    if ((rc = avformat_write_header(oc, NULL)) < 0) {
        av_err(err, errlen, "write header", path, rc);
        goto out;
    }
    int fsz = cc->frame_size > 0 ? cc->frame_size : 4096;
    fr->format = AV_SAMPLE_FMT_S16;
    fr->sample_rate = rate;
    fr->nb_samples = fsz;
    if (av_channel_layout_copy(&fr->ch_layout, &cc->ch_layout) < 0 ||
        av_frame_get_buffer(fr, 0) < 0) {
        snprintf(err, errlen, "frame buffer for %s failed", path);
        goto out;
    }
    for (long off = 0; off < n; off += fsz) {
        if ((rc = av_frame_make_writable(fr)) < 0) {
            av_err(err, errlen, "frame for", path, rc);
            goto out;
        }
        long k = n - off < fsz ? n - off : fsz;
        fr->nb_samples = (int)k;
        fr->pts = off;
        memcpy(fr->data[0], pcm + off, (size_t)k * sizeof(*pcm));
        if ((rc = avcodec_send_frame(cc, fr)) < 0 || (rc = drain(cc, oc, pkt)) < 0) {
            av_err(err, errlen, "encode", path, rc);
            goto out;
        }
    }
    if ((rc = avcodec_send_frame(cc, NULL)) < 0 || (rc = drain(cc, oc, pkt)) < 0) {
        av_err(err, errlen, "flush", path, rc);
        goto out;
    }
    if ((rc = av_write_trailer(oc)) < 0) {
        av_err(err, errlen, "write trailer", path, rc);
        goto out;
    }
    size = (long)avio_size(oc->pb);
    if (size <= 0) {
        snprintf(err, errlen, "size of %s unknown", path);
        size = -1;
    }
out:
    if (oc != NULL && oc->pb != NULL && avio_closep(&oc->pb) < 0 && size >= 0) {
        snprintf(err, errlen, "close %s failed", path);
        size = -1;
    }
    avformat_free_context(oc);
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&cc);
    return size;
}

/* --- workers --- */

static void fail(gen_t *g, const char *msg)
{
    pthread_mutex_lock(&g->err_lock);
    if (g->err[0] == '\0')
        snprintf(g->err, sizeof(g->err), "%s", msg);
    pthread_mutex_unlock(&g->err_lock);
    atomic_store(&g->failed, 1);
}

static void *worker(void *arg)
{
    gen_t *g = arg;
    size_t maxn = (size_t)m_round(GEN_MAX_DUR * g->rate) + 1;
    int16_t *pcm = xmalloc(maxn * sizeof(*pcm));
    float *v = xmalloc(maxn * sizeof(*v)), *u = xmalloc(maxn * sizeof(*u));
    char err[LOCUS_ERR_LEN];
    long i;
    while (!bench_stop && !atomic_load(&g->failed) &&
           (i = atomic_fetch_add(&g->next, 1)) < g->nfiles) {
        gen_file_t *fi = &g->files[i];
        fi->silence = synth_file(g, i, pcm, v, u);
        int spk = g->spk[fi->spk].id;
        char *path = xasprintf("%s/%d-%d-%04d.flac", fi->dir, spk, fi->chap, fi->utt);
        char *tmp = xasprintf("%s.tmp", path);
        long size = write_flac(tmp, pcm, fi->nsamples, g->rate, err, sizeof(err));
        if (size >= 0 && rename(tmp, path) != 0) {
            snprintf(err, sizeof(err), "rename %s: %s", tmp, strerror(errno));
            size = -1;
        }
        if (size < 0) {
            unlink(tmp);
            fail(g, err);
        }
        fi->bytes = size;
        free(tmp);
        free(path);
        atomic_fetch_add(&g->done, 1);
    }
    free(u);
    free(v);
    free(pcm);
    return NULL;
}

/* --- command --- */

static const char usage[] =
    "usage: locus-bench gen-librispeech --out DIR [options]\n"
    "\n"
    "Generates a LibriSpeech-like corpus of synthetic speech: FLAC, mono, 16-bit,\n"
    "durations with mean ~12 s (15% of 1-8 s, the rest 8-35 s), ~17 kB/s, laid out as\n"
    "DIR/<speaker>/<chapter>/<spk>-<chap>-<NNNN>.flac with one\n"
    "<spk>-<chap>.trans.txt per chapter. Deterministic: the same seed gives the same\n"
    "bytes, whatever the thread count; existing files of the same names are replaced.\n";

static int parse_args(gen_t *g, int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    g->nfiles = 200;
    g->seed = 1;
    g->threads = ncpu > 0 ? (int)ncpu : 1;
    g->rate = 16000;
    const bench_opt_t opts[] = {
        BOPT("out", BOPT_STR, &g->out, "DIR", "output directory (created)"),
        BOPT("files", BOPT_LONG, &g->nfiles, "N", "number of files, default 200", .min = 1,
             .max = 100000000),
        BOPT("seed", BOPT_U64, &g->seed, "S", "seed, default 1"),
        BOPT("threads", BOPT_INT, &g->threads, "T", "encoder threads, default: the number of CPUs",
             .min = 1, .max = 1024),
        BOPT("rate", BOPT_INT, &g->rate, "HZ", "sample rate, default 16000", .min = 8000,
             .max = 192000),
    };
    int rc = bench_opts_parse(usage, opts, ARRAY_SIZE(opts), argc, argv);
    if (rc != BENCH_OPTS_GO)
        return rc;
    if (g->out == NULL) {
        fprintf(stderr, "locus-bench: gen-librispeech needs --out DIR\n");
        bench_opts_usage(usage, opts, ARRAY_SIZE(opts), stderr);
        return 2;
    }
    if (g->threads > g->nfiles)
        g->threads = (int)g->nfiles;
    return BENCH_OPTS_GO;
}

static void report(const gen_t *g, double secs)
{
    double total = 0, dmin = 1e9, dmax = 0, bytes = 0, sil = 0;
    long shorts = 0, n = g->nfiles;
    for (long i = 0; i < n; i++) {
        double d = (double)g->files[i].nsamples / g->rate;
        total += d;
        dmin = m_min(dmin, d);
        dmax = m_max(dmax, d);
        shorts += d < GEN_SHORT_DUR;
        bytes += (double)g->files[i].bytes;
        sil += (double)g->files[i].silence;
    }
    double pcm_rate = g->rate * 2 / 1000.0;
    int h = (int)(total / 3600), m = (int)(total / 60) % 60;
    printf("gen-librispeech: %ld files, %d speakers, %d chapters in %s (seed %llu, %d Hz)\n", n,
           g->nspk, g->nchap, g->out, (unsigned long long)g->seed, g->rate);
    printf("  duration  total %d:%02d:%04.1f  mean %.2f s  min %.2f s  max %.2f s  short (<8 s) "
           "%.1f%%  pauses %.1f%%\n",
           h, m, total - h * 3600 - m * 60, total / n, dmin, dmax, 100.0 * shorts / n,
           100.0 * sil / (total * g->rate));
    printf("  flac      total %.1f MB  mean %.1f kB/file  %.2f kB/s  (%.0f%% of PCM's %.0f kB/s)\n",
           bytes / 1e6, bytes / n / 1e3, bytes / total / 1e3,
           100.0 * bytes / total / 1e3 / pcm_rate, pcm_rate);
    printf("  time      %.1f s with %d threads (%.1f files/s, %.0fx real time)\n", secs, g->threads,
           n / secs, total / secs);
    printf("  real LibriSpeech: mean 12.0 s, ~206 kB/file, ~17 kB/s (kB = 1000 bytes)\n");
}

int bench_cmd_gen_librispeech(int argc, char **argv)
{
    gen_t g = {0};
    int rc = 1;
    int prc = parse_args(&g, argc, argv);
    if (prc != BENCH_OPTS_GO)
        return prc;
    int64_t t0 = time_mono_ns();
    /* Ctrl-C: workers finish (or remove) the file in hand, so no .tmp file is left behind */
    bench_catch_signals();
    av_log_set_level(AV_LOG_ERROR);
    pthread_mutex_init(&g.err_lock, NULL);
    atomic_init(&g.next, 0);
    atomic_init(&g.done, 0);
    atomic_init(&g.failed, 0);
    pthread_t *th = xcalloc((size_t)g.threads, sizeof(*th));
    int started = 0;
    if (plan(&g) != 0 || write_transcripts(&g) != 0)
        goto out;
    for (; started < g.threads; started++) {
        if (pthread_create(&th[started], NULL, worker, &g) != 0) {
            fail(&g, "pthread_create failed");
            break;
        }
    }
    bool tty = isatty(STDERR_FILENO);
    long shown = -1;
    while (started > 0 && atomic_load(&g.done) < g.nfiles && !atomic_load(&g.failed) &&
           !bench_stop) {
        long d = atomic_load(&g.done);
        if (tty && d != shown) {
            fprintf(stderr, "\r  %ld/%ld files", d, g.nfiles);
            shown = d;
        }
        sleep_ms(100);
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (tty && shown >= 0)
        fprintf(stderr, "\r%*s\r", 40, "");
    if (atomic_load(&g.failed) || bench_stop || started < g.threads)
        goto out;
    report(&g, (double)(time_mono_ns() - t0) / 1e9);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "locus-bench: gen-librispeech: %s\n",
                g.err[0]     ? g.err
                : bench_stop ? "interrupted"
                             : "failed");
    for (long i = 0; g.files != NULL && i < g.nfiles; i++)
        free(g.files[i].words);
    for (int c = 0; c < g.nchap; c++)
        free(g.chap[c].dir);
    free(g.files);
    free(g.chap);
    free(g.spk);
    free(th);
    pthread_mutex_destroy(&g.err_lock);
    return rc;
}
