"""
47 The FFmpeg audio transformer (transformers/ffmpeg, locus-etl-ffmpeg) on its own, without a
cluster: started on a free port like test_45 starts the built-ins, fed audio generated here with
the ffmpeg CLI (FLAC, WAV, MP3, Ogg Opus, Ogg Vorbis, M4A/AAC, raw ADTS AAC) over hpush (body)
and hpush FQN (etl_fqn under LOCUS_ETL_FQN_ROOTS). Every result is checked against the CLI's
conversion of the same file (`ffmpeg -nostdin -loglevel error -i IN -ac AC -ar AR -c:a pcm_s16le
-f wav OUT`): same channels, rate and sample count, and the samples themselves. Measured with
FFmpeg 5.1 (Debian 12): identical, sample for sample, for every format; the test allows
SAMPLE_SLACK frames and MAX_LSB_DIFF per sample in case a different libav build rounds
differently (see docs/etl-framework.md, "The FFmpeg transformer"). Also: the exact WAV header,
pass-through of non-audio names, etl_args (JSON and short form, 400 on bad values), AC/AR from
the environment, and corrupt/truncated/random/empty inputs answered with 500 and a reason while
the server keeps serving.
"""

import array
import io
import os
import random
import shutil
import struct
import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from test_45_etl_framework import TIMEOUT, binary, fqn_query, spawn  # noqa: F401,F811

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(FFMPEG is None, reason="the ffmpeg CLI is not installed")

# Bounds against the CLI (measured: 0 and 0 with Debian 12's FFmpeg 5.1 for all formats).
SAMPLE_SLACK = 0   # frames of difference in length
MAX_LSB_DIFF = int(os.environ.get("LOCUS_TEST_FFMPEG_LSB", "1"))  # per 16-bit sample

TONE = "sine=frequency=440:duration=2.5:sample_rate={rate}"
# name -> (ffmpeg encoder options, source rate, source channels)
FORMATS = {
    "a.flac": (["-c:a", "flac"], 16000, 1),
    "a.wav": (["-c:a", "pcm_s16le"], 22050, 2),
    "a.mp3": (["-c:a", "libmp3lame", "-b:a", "96k"], 22050, 2),
    "a.opus": (["-c:a", "libopus", "-b:a", "48k"], 48000, 2),
    "a.ogg": (["-c:a", "libvorbis"], 22050, 1),
    "a.m4a": (["-c:a", "aac", "-b:a", "96k"], 44100, 2),
    "a.aac": (["-c:a", "aac", "-b:a", "96k", "-f", "adts"], 32000, 1),
}


def run_ffmpeg(*args):
    subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-y", *args], check=True,
                   timeout=60)


def make_input(d, name):
    opts, rate, ch = FORMATS[name]
    out = d / name
    if not out.exists():
        src = ["-f", "lavfi", "-i", TONE.format(rate=rate)]
        if ch == 2:  # two different tones, so a channel mix-up would show
            src += ["-f", "lavfi", "-i", TONE.replace("440", "660").format(rate=rate),
                    "-filter_complex", "amerge=inputs=2"]
        run_ffmpeg(*src, "-ac", str(ch), *opts, str(out))
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    for name in FORMATS:
        make_input(d, name)
    return d


def cli_convert(path, ac, ar, tmp):
    out = tmp / (path.name + f".{ac}.{ar}.cli.wav")
    if not out.exists():
        run_ffmpeg("-i", str(path), "-ac", str(ac), "-ar", str(ar), "-c:a", "pcm_s16le",
                   "-f", "wav", str(out))
    return read_wav(out.read_bytes(), exact_header=False)


def read_wav(b, exact_header=True):
    """(channels, rate, frames, samples); with exact_header, also checks our header layout."""
    w = wave.open(io.BytesIO(b))
    ch, rate, width, n = w.getnchannels(), w.getframerate(), w.getsampwidth(), w.getnframes()
    assert width == 2, "16-bit PCM expected"
    pcm = w.readframes(n)
    assert len(pcm) == n * ch * 2
    if exact_header:
        assert b[:4] == b"RIFF" and b[8:16] == b"WAVEfmt "
        riff = struct.unpack_from("<I", b, 4)[0]
        fmt_len, tag = struct.unpack_from("<IH", b, 16)
        assert riff == len(b) - 8, "RIFF size must be exact"
        assert (fmt_len, tag) in ((16, 1), (40, 0xFFFE))
        data_at = 20 + fmt_len
        assert b[data_at:data_at + 4] == b"data"
        assert struct.unpack_from("<I", b, data_at + 4)[0] == len(b) - data_at - 8 == n * ch * 2
    s = array.array("h")
    s.frombytes(pcm)
    return ch, rate, n, s


def assert_like_cli(ours, cli):
    ch, rate, n, s = ours
    cch, crate, cn, cs = cli
    assert (ch, rate) == (cch, crate)
    assert abs(n - cn) <= SAMPLE_SLACK, f"{n} frames, the CLI {cn}"
    m = min(len(s), len(cs))
    worst = max((abs(a - b) for a, b in zip(s[:m], cs[:m])), default=0)
    assert worst <= MAX_LSB_DIFF, f"max sample difference {worst} LSB"


def put(url, name, data=b"", args=None, fqn=None, session=requests):
    q = []
    if args is not None:
        q.append("etl_args=" + requests.utils.quote(args, safe=""))
    if fqn is not None:
        q.append(fqn_query(fqn))
    return session.put(f"{url}/bck/{name}" + ("?" + "&".join(q) if q else ""), data=data,
                       timeout=TIMEOUT)


# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(FORMATS))
def test_formats_like_cli(spawn, media, tmp_path, name):
    """Default AC=2 AR=44100 (the reference spec's), body and FQN, against the CLI."""
    s = spawn("ffmpeg", env={"LOCUS_ETL_FQN_ROOTS": str(media)})
    src = media / name
    r = put(s.url, name, src.read_bytes())
    assert r.status_code == 200, r.text
    ours = read_wav(r.content)
    assert ours[:2] == (2, 44100)
    assert_like_cli(ours, cli_convert(src, 2, 44100, tmp_path))
    r2 = put(s.url, name, fqn=src)
    assert r2.status_code == 200, r2.text
    assert r2.content == r.content


@pytest.mark.parametrize("name", ["a.flac", "a.mp3", "a.m4a", "a.opus"])
def test_env_mono_16k(spawn, media, tmp_path, name):
    """AC=1 AR=16000 from the environment (the blog's benchmark setting)."""
    s = spawn("ffmpeg", env={"AC": "1", "AR": "16000"})
    r = put(s.url, name, (media / name).read_bytes())
    assert r.status_code == 200, r.text
    ours = read_wav(r.content)
    assert ours[:2] == (1, 16000)
    assert_like_cli(ours, cli_convert(media / name, 1, 16000, tmp_path))


def test_etl_args(spawn, media, tmp_path):
    s = spawn("ffmpeg")
    data = (media / "a.wav").read_bytes()
    with requests.Session() as h:
        for args, ac, ar in (('{"ac":1,"ar":16000}', 1, 16000),
                             ('{ "ar" : "8000" }', 2, 8000),
                             ("ac=1,ar=22050", 1, 22050),
                             ("ar=48000&ac=2", 2, 48000),
                             ("AC=6", 6, 44100),  # 5.1: WAVE_FORMAT_EXTENSIBLE, like the CLI
                             ("{}", 2, 44100),
                             ("", 2, 44100)):
            r = put(s.url, "x/a.wav", data, args=args, session=h)
            assert r.status_code == 200, (args, r.text)
            if ac > 2:
                b = r.content
                assert struct.unpack_from("<IH", b, 16) == (40, 0xFFFE)
                assert struct.unpack_from("<HI", b, 22) == (ac, ar)
                assert struct.unpack_from("<I", b, 64)[0] == len(b) - 68
                continue
            ours = read_wav(r.content)
            assert ours[:2] == (ac, ar), args
            assert_like_cli(ours, cli_convert(media / "a.wav", ac, ar, tmp_path))
        for bad in ("ac=0", "ac=9", "ar=10", "ar=abc", '{"ac":1', '{"channels":2}', "ac",
                    "bogus=1", '{"ac":-1}', "ar=99999999999"):
            r = put(s.url, "x/a.wav", data, args=bad, session=h)
            assert r.status_code == 400, (bad, r.status_code, r.text)
            assert r.text
        # args don't matter for a pass-through object
        r = put(s.url, "x/a.txt", b"text", args="ac=0", session=h)
        assert r.status_code == 200 and r.content == b"text"


def test_bad_env_refuses_to_start(tmp_path):
    for env in ({"AC": "zero"}, {"AR": "5"}):
        p = subprocess.run([str(binary("ffmpeg")), "--port", "0"], env={**os.environ, **env},
                           capture_output=True, timeout=20)
        assert p.returncode == 2 and b"invalid" in p.stderr


def test_pass_through(spawn, media):
    s = spawn("ffmpeg", env={"LOCUS_ETL_FQN_ROOTS": str(media)})
    txt = b"1272-128104-0000 MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES\n"
    (media / "1272-128104.trans.txt").write_bytes(txt)
    flac = (media / "a.flac").read_bytes()
    cases = [("1272/128104/1272-128104.trans.txt", txt),
             ("noext", b"\x00\x01binary"),
             ("dir.flac/readme", b"not audio"),  # the extension is the object name's
             (".flac", flac),                    # splitext: a leading dot is no extension
             ("a.flac.bak", flac),
             ("empty.txt", b"")]
    for name, body in cases:
        r = put(s.url, name, body)
        assert r.status_code == 200 and r.content == body, name
    r = put(s.url, "1272-128104.trans.txt", fqn=media / "1272-128104.trans.txt")
    assert r.status_code == 200 and r.content == txt
    r = put(s.url, "UPPER.FLAC", flac)  # extensions are compared case-insensitively
    assert r.status_code == 200 and r.content[:4] == b"RIFF"


def test_corrupt_inputs_500(spawn, media, tmp_path):
    s = spawn("ffmpeg")
    flac = (media / "a.flac").read_bytes()
    cut = flac.find(b"\xff\xf8", len(flac) // 2)  # a FLAC frame header: cut at a frame boundary
    assert cut > 0
    rnd = random.Random(47).randbytes(64 << 10)  # deterministic: a seed that is not audio
    cases = {
        "trunc.flac": flac[:len(flac) * 2 // 3],
        "frame-cut.flac": flac[:cut],
        "header-only.flac": flac[:100],
        "random.flac": rnd,
        "random.mp3": rnd,
        "random.wav": b"RIFF" + rnd,
        "empty.flac": b"",
        "text.ogg": b"hello world\n" * 10,
        "trunc.wav": (media / "a.wav").read_bytes()[:50001],
        "trunc.m4a": (media / "a.m4a").read_bytes()[:5000],
        "trunc.aac": (media / "a.aac").read_bytes()[:7001],
        "trunc.mp3": (media / "a.mp3").read_bytes()[:9000],
        # 4 KiB zeroed mid-stream: the frames there are lost (CRC), so samples are missing
        "zeroed.flac": flac[:len(flac) // 2] + bytes(4096) + flac[len(flac) // 2 + 4096:],
    }
    with requests.Session() as h:
        for name, body in cases.items():
            r = put(s.url, name, body, session=h)
            assert r.status_code == 500, (name, r.status_code, r.content[:100])
            assert r.text.startswith(f"bck/{name}: ") and len(r.text) > len(name) + 8, r.text
        # still serving, on the same connection
        r = put(s.url, "ok.flac", flac, session=h)
        assert r.status_code == 200 and read_wav(r.content)[:2] == (2, 44100)
    for name in ("trunc.flac", "random.flac", "empty.flac"):
        r = put(s.url, name, cases[name])
        assert r.status_code == 500


def test_concurrent_mixed(spawn, media, tmp_path):
    """Many conversions at once on the worker pool (all libav state per call): every answer is
    the one a lone conversion gives."""
    s = spawn("ffmpeg", env={"NUM_WORKERS": "4"})
    names = list(FORMATS)
    want = {}
    for n in names:
        r = put(s.url, n, (media / n).read_bytes())
        assert r.status_code == 200
        want[n] = r.content
    bad = os.urandom(20000)

    def work(i):
        n = names[i % len(names)]
        with requests.Session() as h:
            if i % 5 == 4:
                return put(s.url, "bad.flac", bad, session=h).status_code == 500
            r = put(s.url, n, (media / n).read_bytes(), session=h)
            return r.status_code == 200 and r.content == want[n]

    with ThreadPoolExecutor(8) as ex:
        assert all(ex.map(work, range(60)))
