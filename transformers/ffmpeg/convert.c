/*
 * convert.c - one audio object -> 16-bit PCM WAV, in memory, with FFmpeg's libraries.
 *
 * The object is already one contiguous buffer (request body or mmap'ed FQN), so the demuxer
 * reads it through a custom AVIOContext (read + seek callbacks over the buffer: no temp file,
 * no pipe), the container format is probed from the first bytes directly (av_probe_input_format2
 * over a growing, zero-padded prefix, the way av_probe_input_buffer2 grows its reads), the
 * decoder's frames go through libswresample straight into the output buffer, behind a WAV
 * header that is filled in last, when the data size is known. The result is what
 *   ffmpeg -nostdin -i pipe:0 -ac AC -ar AR -c:a pcm_s16le -f wav pipe:1
 * writes (same resampler and defaults, same fmt chunk), except that the header holds the exact
 * RIFF and data sizes (the CLI writes 0xFFFFFFFF into a pipe) and there is no LIST/INFO chunk.
 *
 * Unlike the CLI, which logs a decoding error and carries on, any demuxing or decoding error
 * fails the conversion (a storage system should not turn a damaged object into a shorter
 * "successful" one), and so does a stream that ends before the length its header announces
 * (cut at a frame boundary, it decodes without an error): see the check at the end.
 *
 * DESIGN (threads): everything libav is created and freed per call on the calling worker
 * thread, and libav (>= 4.0) needs no global lock for that. The one shared piece is the
 * av_log callback, which writes only into a thread-local buffer that the conversion running on
 * that thread set up (`tl_log`), so error details end up in the right request's message.
 */
#include "ffmpeg.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#define AVIO_BUF_SIZE (64 * 1024)
#define PROBE_MIN 2048
#define PROBE_MAX (1 << 20) /* like av_probe_input_buffer2's default max_probe_size */
#define WAV_MAX_DATA (0xFFFFFFFFu - 80u)

/* ------------------------------------------------------------------------------------------ */
/* libav log -> the current conversion's error text */

typedef struct {
    char *buf; /* the first error-level message of this conversion */
    size_t len;
} log_sink_t;

static _Thread_local log_sink_t *tl_log;

static void on_av_log(void *avcl, int level, const char *fmt, va_list vl)
{
    log_sink_t *s = tl_log;
    if (level > AV_LOG_ERROR || s == NULL || s->buf[0] != '\0')
        return;
    const AVClass *avc = avcl != NULL ? *(const AVClass **)avcl : NULL;
    int n = 0;
    if (avc != NULL && avc->item_name != NULL)
        n = snprintf(s->buf, s->len, "%s: ", avc->item_name(avcl));
    if (n < 0 || (size_t)n >= s->len)
        n = 0;
    vsnprintf(s->buf + n, s->len - (size_t)n, fmt, vl);
    size_t l = strlen(s->buf);
    while (l > 0 && (s->buf[l - 1] == '\n' || s->buf[l - 1] == '\r' || s->buf[l - 1] == ' '))
        s->buf[--l] = '\0';
}

void ffx_init(void)
{
    av_log_set_callback(on_av_log);
}

/* ------------------------------------------------------------------------------------------ */
/* custom I/O over the input buffer */

typedef struct {
    const uint8_t *data;
    size_t len;
    size_t pos;
} membuf_t;

static int mem_read(void *opaque, uint8_t *buf, int n)
{
    membuf_t *m = opaque;
    size_t left = m->len - m->pos;
    if (left == 0)
        return AVERROR_EOF;
    if (n < 0)
        return AVERROR(EINVAL);
    if ((size_t)n > left)
        n = (int)left;
    memcpy(buf, m->data + m->pos, (size_t)n);
    m->pos += (size_t)n;
    return n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence)
{
    membuf_t *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return (int64_t)m->len;
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)m->pos;
        break;
    case SEEK_END:
        base = (int64_t)m->len;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0 || (uint64_t)(base + off) > m->len)
        return AVERROR(EINVAL);
    m->pos = (size_t)(base + off);
    return (int64_t)m->pos;
}

/* The container format of data[0..len), probed from its first bytes: a zero-padded copy of a
 * prefix that doubles from 2 KiB until the score is conclusive or the prefix is the whole
 * object (or 1 MiB), like av_probe_input_buffer2. NULL if nothing matches. */
static const AVInputFormat *probe(const uint8_t *data, size_t len)
{
    uint8_t stackbuf[PROBE_MIN + AVPROBE_PADDING_SIZE];
    uint8_t *heap = NULL;
    const AVInputFormat *fmt = NULL;
    for (size_t n = PROBE_MIN;; n *= 2) {
        size_t sz = n < len ? n : len;
        uint8_t *buf = stackbuf;
        if (sz > PROBE_MIN) {
            uint8_t *p = realloc(heap, sz + AVPROBE_PADDING_SIZE);
            if (p == NULL)
                break;
            buf = heap = p;
        }
        memcpy(buf, data, sz);
        memset(buf + sz, 0, AVPROBE_PADDING_SIZE);
        AVProbeData pd = {.filename = "", .buf = buf, .buf_size = (int)sz, .mime_type = NULL};
        int last = sz == len || n >= PROBE_MAX;
        int score = last ? 0 : AVPROBE_SCORE_RETRY;
        fmt = av_probe_input_format2(&pd, 1, &score);
        if (fmt != NULL || last)
            break;
    }
    free(heap);
    return fmt;
}

/* ------------------------------------------------------------------------------------------ */
/* output: a WAV header followed by the samples, grown as needed */

typedef struct {
    uint8_t *p;
    size_t len; /* header + data bytes so far */
    size_t cap;
    size_t hdr; /* header size: 44 (PCM) or 68 (WAVE_FORMAT_EXTENSIBLE) */
} obuf_t;

static int obuf_reserve(obuf_t *o, size_t extra)
{
    if (o->cap - o->len >= extra)
        return 0;
    size_t data = o->len > o->hdr ? o->len - o->hdr : 0;
    if (extra > WAV_MAX_DATA || data > WAV_MAX_DATA - extra)
        return AVERROR(EFBIG);
    size_t need = o->len + extra;
    size_t cap = o->cap < 64 * 1024 ? 64 * 1024 : o->cap;
    while (cap < need)
        cap = cap / 2 * 3;
    uint8_t *p = realloc(o->p, cap);
    if (p == NULL)
        return AVERROR(ENOMEM);
    o->p = p;
    o->cap = cap;
    return 0;
}

static uint8_t *put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

/* Like FFmpeg's wav muxer (ff_put_wav_header): WAVE_FORMAT_EXTENSIBLE when there are more than
 * two channels or the rate is above 48 kHz, the 16-byte PCM WAVEFORMAT otherwise. */
static size_t wav_header_size(int ac, int ar)
{
    return ac > 2 || ar > 48000 ? 68 : 44;
}

static void wav_header(uint8_t *p, size_t hdr, int ac, int ar, uint32_t data_bytes)
{
    int ext = hdr == 68;
    uint32_t fmt_len = ext ? 40 : 16;
    memcpy(p, "RIFF", 4);
    p = put_le(p + 4, 4 + 8 + fmt_len + 8 + (uint64_t)data_bytes, 4);
    memcpy(p, "WAVEfmt ", 8);
    p = put_le(p + 8, fmt_len, 4);
    p = put_le(p, ext ? 0xFFFE : 1, 2);
    p = put_le(p, (uint64_t)ac, 2);
    p = put_le(p, (uint64_t)ar, 4);
    p = put_le(p, (uint64_t)ar * (uint64_t)ac * 2, 4);
    p = put_le(p, (uint64_t)ac * 2, 2);
    p = put_le(p, 16, 2);
    if (ext) {
        AVChannelLayout l;
        av_channel_layout_default(&l, ac);
        uint64_t mask = l.order == AV_CHANNEL_ORDER_NATIVE ? l.u.mask : 0;
        av_channel_layout_uninit(&l);
        static const uint8_t pcm_guid[16] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                                             0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};
        p = put_le(p, 22, 2);
        p = put_le(p, 16, 2);
        p = put_le(p, mask, 4);
        memcpy(p, pcm_guid, 16);
        p += 16;
    }
    memcpy(p, "data", 4);
    put_le(p + 4, data_bytes, 4);
}

/* ------------------------------------------------------------------------------------------ */
/* per-thread resampler cache
 *
 * swr_init() builds the polyphase filter bank (16 kHz -> 44.1 kHz: 441 phases x 32 taps, about
 * 1.6 ms here, a fifth of a whole 12 s file's conversion). Initializing a context again with the
 * same rates keeps its bank and only resets the state, so each worker thread keeps the context
 * of its last conversion and reuses it when the next object has the same input format; the
 * output is the same as with a fresh context. Freed when the thread exits. */

typedef struct {
    SwrContext *swr;
    int in_fmt, in_rate, ac, ar;
    AVChannelLayout in_layout;
} swr_cache_t;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static _Thread_local swr_cache_t *tl_cache;

static void cache_free(void *p)
{
    swr_cache_t *sc = p;
    swr_free(&sc->swr);
    av_channel_layout_uninit(&sc->in_layout);
    free(sc);
}

static void cache_key_create(void)
{
    if (pthread_key_create(&cache_key, cache_free) != 0)
        cache_key = (pthread_key_t)-1;
}

/* This thread's cached context for that input and output (NULL if none); the caller owns it. */
static SwrContext *cache_take(int in_fmt, int in_rate, const AVChannelLayout *in, int ac, int ar)
{
    swr_cache_t *sc = tl_cache;
    if (sc == NULL || sc->swr == NULL || sc->in_fmt != in_fmt || sc->in_rate != in_rate ||
        sc->ac != ac || sc->ar != ar || av_channel_layout_compare(&sc->in_layout, in) != 0)
        return NULL;
    SwrContext *swr = sc->swr;
    sc->swr = NULL;
    return swr;
}

/* Keeps *swr (configured for that input and output) for this thread's next conversion. */
static void cache_put(SwrContext **swr, int in_fmt, int in_rate, const AVChannelLayout *in, int ac,
                      int ar)
{
    pthread_once(&cache_once, cache_key_create);
    swr_cache_t *sc = tl_cache;
    if (sc == NULL) {
        if (cache_key == (pthread_key_t)-1 || (sc = calloc(1, sizeof(*sc))) == NULL)
            return; /* no cache: the caller frees */
        if (pthread_setspecific(cache_key, sc) != 0) {
            free(sc);
            return;
        }
        tl_cache = sc;
    }
    swr_free(&sc->swr);
    av_channel_layout_uninit(&sc->in_layout);
    if (av_channel_layout_copy(&sc->in_layout, in) < 0)
        return;
    sc->swr = *swr;
    *swr = NULL;
    sc->in_fmt = in_fmt;
    sc->in_rate = in_rate;
    sc->ac = ac;
    sc->ar = ar;
}

/* ------------------------------------------------------------------------------------------ */
/* the conversion */

typedef struct {
    int ac, ar;
    AVChannelLayout out_layout;
    obuf_t o;
    SwrContext *swr;
    /* what swr was configured for */
    int in_fmt, in_rate;
    AVChannelLayout in_layout;
    int64_t in_samples; /* decoded, after the decoder's own trimming */
    const char *what;   /* the step that failed */
} conv_t;

/* Drains the resampler into the output (end of stream, or before a format change). */
static int swr_drain(conv_t *c)
{
    size_t bpf = (size_t)c->ac * 2;
    for (;;) {
        int n = swr_get_out_samples(c->swr, 0);
        if (n <= 0)
            return n;
        int rc = obuf_reserve(&c->o, (size_t)n * bpf);
        if (rc < 0)
            return rc;
        uint8_t *dst = c->o.p + c->o.len;
        int got = swr_convert(c->swr, &dst, n, NULL, 0);
        if (got <= 0)
            return got;
        c->o.len += (size_t)got * bpf;
    }
}

/* (Re)configures the resampler for the frame's format, layout and rate. */
static int swr_setup(conv_t *c, const AVFrame *f)
{
    AVChannelLayout in;
    int rc;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || f->ch_layout.nb_channels <= 0)
        av_channel_layout_default(&in, f->ch_layout.nb_channels > 0 ? f->ch_layout.nb_channels : 1);
    else if ((rc = av_channel_layout_copy(&in, &f->ch_layout)) < 0)
        return rc;
    if (c->swr != NULL) {
        if (c->in_fmt == f->format && c->in_rate == f->sample_rate &&
            av_channel_layout_compare(&c->in_layout, &in) == 0) {
            av_channel_layout_uninit(&in);
            return 0;
        }
        /* a chained stream changed format mid-way: finish the old part, restart */
        if ((rc = swr_drain(c)) < 0) {
            av_channel_layout_uninit(&in);
            return rc;
        }
        swr_free(&c->swr);
    }
    av_channel_layout_uninit(&c->in_layout);
    c->in_layout = in;
    c->in_fmt = f->format;
    c->in_rate = f->sample_rate;
    if (f->sample_rate <= 0)
        return AVERROR_INVALIDDATA;
    c->swr = cache_take(f->format, f->sample_rate, &c->in_layout, c->ac, c->ar);
    if (c->swr == NULL) {
        rc = swr_alloc_set_opts2(&c->swr, &c->out_layout, AV_SAMPLE_FMT_S16, c->ar, &c->in_layout,
                                 (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
        if (rc < 0)
            return rc;
    }
    return swr_init(c->swr); /* resets a reused context, keeping its filter bank */
}

static int on_frame(conv_t *c, const AVFrame *f)
{
    int rc;
    c->what = "resample";
    if ((rc = swr_setup(c, f)) < 0)
        return rc;
    size_t bpf = (size_t)c->ac * 2;
    int n = swr_get_out_samples(c->swr, f->nb_samples);
    if (n < 0)
        return n;
    if ((rc = obuf_reserve(&c->o, (size_t)n * bpf)) < 0)
        return rc;
    uint8_t *dst = c->o.p + c->o.len;
    int got = swr_convert(c->swr, &dst, n, (const uint8_t **)f->extended_data, f->nb_samples);
    if (got < 0)
        return got;
    c->o.len += (size_t)got * bpf;
    c->in_samples += f->nb_samples;
    return 0;
}

/* Sends one packet (NULL = flush) and converts every frame the decoder has ready. */
static int decode(conv_t *c, AVCodecContext *dc, const AVPacket *pkt, AVFrame *f)
{
    c->what = dc->codec->name;
    int rc = avcodec_send_packet(dc, pkt);
    if (rc < 0)
        return rc;
    for (;;) {
        c->what = dc->codec->name;
        rc = avcodec_receive_frame(dc, f);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0)
            return rc;
        rc = on_frame(c, f);
        av_frame_unref(f);
        if (rc < 0)
            return rc;
    }
}

/* Estimated output size in bytes from the stream's announced duration (0 if unknown), so that
 * the buffer is allocated once in the common case. */
static size_t estimate(const AVStream *st, const AVFormatContext *ic, int ac, int ar)
{
    int64_t us = AV_NOPTS_VALUE;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        us = av_rescale_q(st->duration, st->time_base, AV_TIME_BASE_Q);
    else if (ic->duration != AV_NOPTS_VALUE && ic->duration > 0)
        us = ic->duration;
    if (us == AV_NOPTS_VALUE || us > (int64_t)24 * 3600 * AV_TIME_BASE)
        return 0;
    /* + 1% and a little for rounding and the resampler's tail */
    int64_t frames = av_rescale(us, ar, AV_TIME_BASE);
    return (size_t)(frames + frames / 100 + 4096) * (size_t)ac * 2;
}

static const char *fmt_err(int rc, char *buf, size_t len)
{
    if (rc == AVERROR(EFBIG))
        snprintf(buf, len, "output larger than a WAV file can hold (4 GiB)");
    else if (rc == AVERROR_EOF)
        snprintf(buf, len, "unexpected end of data (truncated?)");
    else
        av_strerror(rc, buf, len);
    return buf;
}

int ffx_convert(const void *data, size_t len, int ac, int ar, uint8_t **out, size_t *outlen,
                char *err, size_t errlen)
{
    char detail[256] = "";
    log_sink_t sink = {detail, sizeof(detail)};
    conv_t c = {.ac = ac, .ar = ar, .in_fmt = -1};
    AVIOContext *pb = NULL;
    AVFormatContext *ic = NULL;
    AVCodecContext *dc = NULL;
    AVPacket *pkt = NULL;
    AVFrame *f = NULL;
    membuf_t mem = {data, len, 0};
    int rc = 0, ret = -1;
    char ebuf[128];

    tl_log = &sink;
    av_channel_layout_default(&c.out_layout, ac);
    c.o.hdr = wav_header_size(ac, ar);

    if (len == 0) {
        snprintf(err, errlen, "empty object");
        goto out;
    }
    const AVInputFormat *fmt = probe(data, len);
    if (fmt == NULL) {
        snprintf(err, errlen, "not a recognized audio format");
        goto out;
    }
    uint8_t *iobuf = av_malloc(AVIO_BUF_SIZE);
    if (iobuf == NULL || (pb = avio_alloc_context(iobuf, AVIO_BUF_SIZE, 0, &mem, mem_read, NULL,
                                                  mem_seek)) == NULL) {
        av_free(iobuf);
        rc = AVERROR(ENOMEM);
        c.what = "allocate";
        goto fail;
    }
    if ((ic = avformat_alloc_context()) == NULL) {
        rc = AVERROR(ENOMEM);
        c.what = "allocate";
        goto fail;
    }
    ic->pb = pb;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    c.what = fmt->name;
    if ((rc = avformat_open_input(&ic, NULL, fmt, NULL)) < 0) /* frees ic on failure */
        goto fail;
    /* Most audio containers describe their streams in the header; the expensive stream-info
     * pass (it decodes a few frames) is only needed when they don't. */
    if (ic->nb_streams == 0 || (ic->ctx_flags & AVFMTCTX_NOHEADER)) {
        if ((rc = avformat_find_stream_info(ic, NULL)) < 0)
            goto fail;
    }
    /* av_find_best_stream() skips audio streams whose rate and channels the header did not
     * give (raw FLAC, MP3, ADTS without the stream-info pass): then the first audio stream. */
    const AVCodec *codec = NULL;
    int si = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (si == AVERROR_STREAM_NOT_FOUND) {
        for (unsigned i = 0; i < ic->nb_streams; i++) {
            if (ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
                si = (int)i;
                codec = avcodec_find_decoder(ic->streams[i]->codecpar->codec_id);
                if (codec == NULL)
                    si = AVERROR_DECODER_NOT_FOUND;
                break;
            }
        }
    }
    if (si < 0) {
        snprintf(err, errlen, "%s: %s", fmt->name,
                 si == AVERROR_DECODER_NOT_FOUND ? "no decoder for its audio stream"
                                                 : "no audio stream");
        goto out;
    }
    for (unsigned i = 0; i < ic->nb_streams; i++)
        if ((int)i != si)
            ic->streams[i]->discard = AVDISCARD_ALL; /* cover art and the like */
    AVStream *st = ic->streams[si];
    c.what = codec->name;
    if ((dc = avcodec_alloc_context3(codec)) == NULL) {
        rc = AVERROR(ENOMEM);
        goto fail;
    }
    if ((rc = avcodec_parameters_to_context(dc, st->codecpar)) < 0)
        goto fail;
    dc->pkt_timebase = st->time_base;
    dc->thread_count = 1; /* the worker pool is the parallelism */
    if ((rc = avcodec_open2(dc, codec, NULL)) < 0)
        goto fail;

    /* A header's duration is only a hint: a corrupt one must not make us reserve gigabytes
     * (up to 64 x the object or 16 MiB up front; the buffer grows past that if it must). */
    size_t est = estimate(st, ic, ac, ar);
    size_t cap = len < ((size_t)16 << 20) / 64 ? (size_t)16 << 20 : len * 64;
    if (est == 0 || est > cap || est > WAV_MAX_DATA)
        est = est == 0 ? (size_t)1 << 20 : (cap < WAV_MAX_DATA ? cap : (size_t)1 << 20);
    if ((rc = obuf_reserve(&c.o, c.o.hdr + est)) < 0)
        goto fail;
    c.o.len = c.o.hdr;

    if ((pkt = av_packet_alloc()) == NULL || (f = av_frame_alloc()) == NULL) {
        rc = AVERROR(ENOMEM);
        goto fail;
    }
    for (;;) {
        c.what = fmt->name;
        rc = av_read_frame(ic, pkt);
        if (rc == AVERROR_EOF)
            break;
        if (rc < 0)
            goto fail;
        if (pkt->stream_index == si)
            rc = decode(&c, dc, pkt, f);
        av_packet_unref(pkt);
        if (rc < 0)
            goto fail;
    }
    if ((rc = decode(&c, dc, NULL, f)) < 0)
        goto fail;
    if (c.swr == NULL) {
        snprintf(err, errlen, "%s: no audio decoded", codec->name);
        goto out;
    }
    c.what = "resample";
    if ((rc = swr_drain(&c)) < 0)
        goto fail;

    /* A stream cut at a packet boundary decodes without an error; catch it where the header
     * announces the length: FLAC (STREAMINFO) and WAV (data size) exactly, others (MP3's Xing
     * frame count, MP4 sample tables) within 5% as they count encoder delay and padding too.
     * Ogg's length comes from its last page, which is the cut one, so it can't tell. */
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && c.in_rate > 0) {
        int64_t want = av_rescale_q(st->duration, st->time_base, (AVRational){1, c.in_rate});
        int exact = codec->id == AV_CODEC_ID_FLAC || strcmp(fmt->name, "wav") == 0;
        if (c.in_samples < (exact ? want : want - want / 20)) {
            snprintf(err, errlen, "%s: truncated: %lld of %lld samples", fmt->name,
                     (long long)c.in_samples, (long long)want);
            goto out;
        }
    }

    wav_header(c.o.p, c.o.hdr, ac, ar, (uint32_t)(c.o.len - c.o.hdr));
    *out = c.o.p;
    *outlen = c.o.len;
    c.o.p = NULL;
    ret = 0;
    goto out;

fail:
    if (detail[0] != '\0' && rc != AVERROR(ENOMEM) && rc != AVERROR(EFBIG))
        snprintf(err, errlen, "%s: %s (%s)", c.what ? c.what : "convert",
                 fmt_err(rc, ebuf, sizeof(ebuf)), detail);
    else
        snprintf(err, errlen, "%s: %s", c.what ? c.what : "convert",
                 fmt_err(rc, ebuf, sizeof(ebuf)));
out:
    tl_log = NULL;
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&dc);
    avformat_close_input(&ic);
    if (pb != NULL) {
        av_freep(&pb->buffer);
        avio_context_free(&pb);
    }
    if (c.swr != NULL && swr_is_initialized(c.swr))
        cache_put(&c.swr, c.in_fmt, c.in_rate, &c.in_layout, ac, ar);
    swr_free(&c.swr);
    av_channel_layout_uninit(&c.in_layout);
    av_channel_layout_uninit(&c.out_layout);
    free(c.o.p);
    return ret;
}
