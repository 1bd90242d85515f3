"""48 `locus-bench gen-librispeech` (issue 5, "## Data"; docs/benchmarks.md, "The data"): the
LibriSpeech-like corpus generator. No cluster: it runs the tool into temp dirs and checks

- determinism: the same seed gives byte-identical files whatever the thread count; another seed
  gives different audio;
- the layout: <spk>/<chap>/<spk>-<chap>-<NNNN>.flac numbered from 0000, one
  <spk>-<chap>.trans.txt per chapter whose lines name exactly that chapter's files, in order, with
  uppercase words;
- the audio (ffprobe/ffmpeg; skipped when they are missing): FLAC, 16 kHz, mono, s16, durations in
  1-35 s whose mean is the one the tool printed, decodes without errors, pauses are a noise floor
  and not digital zero, and the bitrate is speech-like (not white noise, not a pure tone);
- the statistics lines and bad options.
"""

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import locustest as lt

BENCH = lt.BIN_DIR / "locus-bench"
NFILES = 30
FFPROBE = shutil.which("ffprobe")
FFMPEG = shutil.which("ffmpeg")
NAME_RE = re.compile(r"^(\d+)-(\d+)-(\d{4})\.flac$")


def gen(out, *args, check=True):
    if not BENCH.exists():
        pytest.fail(f"{BENCH} does not exist (build the locus-bench target)")
    p = subprocess.run([str(BENCH), "gen-librispeech", "--out", str(out), *args],
                       capture_output=True, text=True, timeout=lt.tmo(120))
    if check:
        assert p.returncode == 0, p.stderr
    return p


def digests(root):
    """Relative path -> sha256 of every file below root."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


def parse_stats(stdout):
    m = re.search(r"gen-librispeech: (\d+) files, (\d+) speakers, (\d+) chapters", stdout)
    d = re.search(r"duration\s+total \S+\s+mean ([\d.]+) s\s+min ([\d.]+) s\s+max ([\d.]+) s\s+"
                  r"short \(<8 s\) ([\d.]+)%\s+pauses ([\d.]+)%", stdout)
    f = re.search(r"flac\s+total ([\d.]+) MB\s+mean ([\d.]+) kB/file\s+([\d.]+) kB/s", stdout)
    t = re.search(r"time\s+([\d.]+) s with (\d+) threads", stdout)
    assert m and d and f and t, f"statistics missing from:\n{stdout}"
    return {"files": int(m[1]), "speakers": int(m[2]), "chapters": int(m[3]),
            "mean_dur": float(d[1]), "min_dur": float(d[2]), "max_dur": float(d[3]),
            "short_pct": float(d[4]), "pause_pct": float(d[5]),
            "total_mb": float(f[1]), "mean_kb": float(f[2]), "kbps": float(f[3])}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One corpus of NFILES files (seed 7, 2 threads) and its printed statistics."""
    out = tmp_path_factory.mktemp("gen") / "a"
    p = gen(out, "--files", str(NFILES), "--seed", "7", "--threads", "2")
    return out, parse_stats(p.stdout)


def test_same_seed_same_bytes(corpus, tmp_path):
    out, _ = corpus
    again = tmp_path / "b"
    gen(again, "--files", str(NFILES), "--seed", "7", "--threads", "1")
    a, b = digests(out), digests(again)
    assert len(a) > NFILES
    assert a == b, "same seed, different output: " + \
        str([k for k in a if a.get(k) != b.get(k)][:5])


def test_other_seed_differs(corpus, tmp_path):
    out, _ = corpus
    other = tmp_path / "c"
    gen(other, "--files", str(NFILES), "--seed", "8")
    a = set(digests(out).values())
    b = set(digests(other).values())
    assert not a & b, "seeds 7 and 8 produced some identical files"


def test_prefix_stable(corpus, tmp_path):
    """The first N files of a bigger run are the files of --files N (per-file PRNG streams)."""
    out, _ = corpus
    small = tmp_path / "d"
    gen(small, "--files", "5", "--seed", "7")
    a = digests(out)
    flacs = {k: v for k, v in digests(small).items() if k.endswith(".flac")}
    assert len(flacs) == 5
    for k, v in flacs.items():
        assert a.get(k) == v, k


def test_layout_and_transcripts(corpus):
    out, st = corpus
    flacs = sorted(p for p in out.rglob("*") if p.is_file() and p.suffix == ".flac")
    assert len(flacs) == NFILES == st["files"]
    assert not list(out.rglob("*.tmp"))
    chapters = {}
    for p in flacs:
        m = NAME_RE.match(p.name)
        assert m, p.name
        spk, chap, utt = m.groups()
        rel = p.relative_to(out).parts
        assert rel[:2] == (spk, chap), f"{p} not under <speaker>/<chapter>"
        chapters.setdefault((spk, chap), []).append(int(utt))
    assert len(chapters) == st["chapters"]
    assert len({s for s, _ in chapters}) == st["speakers"]
    for (spk, chap), utts in chapters.items():
        assert sorted(utts) == list(range(len(utts))), f"{spk}/{chap}: numbering {utts}"
        trans = out / spk / chap / f"{spk}-{chap}.trans.txt"
        assert trans.is_file(), trans
        lines = trans.read_text().splitlines()
        assert [ln.split(" ", 1)[0] for ln in lines] == \
            [f"{spk}-{chap}-{u:04d}" for u in range(len(utts))]
        for ln in lines:
            words = ln.split(" ")[1:]
            assert words and all(re.fullmatch(r"[A-Z']+", w) for w in words), ln
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == NFILES + len(chapters), "unexpected extra files"


def test_statistics(corpus):
    _, st = corpus
    assert 1.0 <= st["min_dur"] <= st["mean_dur"] <= st["max_dur"] <= 35.0
    assert 6.0 <= st["mean_dur"] <= 18.0
    assert 15.0 <= st["pause_pct"] <= 25.0
    # speech-like: FLAC at ~17 kB/s (white noise ~32, a pure tone ~2); loose for 30 files
    assert 12.0 <= st["kbps"] <= 22.0, st


def ffprobe(path):
    p = subprocess.run([FFPROBE, "-v", "error", "-select_streams", "a:0", "-show_entries",
                        "stream=codec_name,sample_rate,channels,sample_fmt,duration_ts,duration",
                        "-of", "default=noprint_wrappers=1", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return dict(ln.split("=", 1) for ln in p.stdout.split())


@pytest.mark.skipif(FFPROBE is None or FFMPEG is None, reason="ffprobe/ffmpeg not installed")
def test_ffprobe_format_and_durations(corpus):
    out, st = corpus
    flacs = sorted(out.rglob("*.flac"))
    durs = []
    for p in flacs:
        info = ffprobe(p)
        assert info["codec_name"] == "flac", info
        assert info["sample_rate"] == "16000", info
        assert info["channels"] == "1", info
        assert info["sample_fmt"] == "s16", info
        d = float(info["duration"])
        assert 1.0 <= d <= 35.0, (p, d)
        durs.append(d)
    assert abs(sum(durs) / len(durs) - st["mean_dur"]) < 0.01, (sum(durs) / len(durs), st)

    # one file decoded in full: no decoder complaint, sample count = STREAMINFO's, lead-in pause
    # is a noise floor (not digital zero) well below the speech level
    p = flacs[0]
    info = ffprobe(p)
    dec = subprocess.run([FFMPEG, "-v", "error", "-i", str(p), "-f", "s16le", "-"],
                         capture_output=True, timeout=60)
    assert dec.returncode == 0 and not dec.stderr, dec.stderr
    pcm = memoryview(dec.stdout).cast("h")
    assert len(pcm) == int(info["duration_ts"])
    lead = pcm[:500]  # first 31 ms: the lead-in pause is >= 45 ms even in a 1 s file
    assert any(x != 0 for x in lead), "pause is digital silence"
    assert max(abs(x) for x in lead) < 1000, "lead-in is not a pause"
    assert max(abs(x) for x in pcm) > 8000, "no speech-level signal"


def test_bad_options(tmp_path):
    assert gen(tmp_path / "x", "--files", "0", check=False).returncode == 2
    assert gen(tmp_path / "x", "--rate", "12", check=False).returncode == 2
    p = subprocess.run([str(BENCH), "gen-librispeech", "--files", "3"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2 and "--out" in p.stderr
    assert not (tmp_path / "x").exists()
