"""
93 The FFmpeg transformer end to end on a real cluster: AIStore's published spec
(tests/assets/aistore-specs/ffmpeg.etl_spec.yaml, image aistorage/transformer_ffmpeg, AC=2
AR=44100, hpush + FQN, direct put) is sent to PUT /v1/etl unchanged (parsed with PyYAML when
installed, else the same spec written out here as JSON), and the node's image table runs
locus-etl-ffmpeg for it. Then: inline GET of a FLAC (compared with the ffmpeg CLI's conversion),
etl_args, a LibriSpeech transcript passing through, and a small bucket job with ext flac->wav.
"""

import array
import io
import os
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

import locustest as lt
from etl import etlutil as eu

FFMPEG = shutil.which("ffmpeg")
SPEC_FILE = lt.REPO_ROOT / "tests" / "assets" / "aistore-specs" / "ffmpeg.etl_spec.yaml"
IMAGE = "aistorage/transformer_ffmpeg:latest"

pytestmark = pytest.mark.skipif(FFMPEG is None, reason="the ffmpeg CLI is not installed")


@pytest.fixture
def etls(cluster, http):
    yield from eu.etls_fixture(cluster, http)


@pytest.fixture
def buckets(cluster, http):
    yield from eu.buckets_fixture(cluster, http)


def reference_spec():
    """The reference spec as a dict; the hand-written fallback has the same fields."""
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None and SPEC_FILE.exists():
        return yaml.safe_load(SPEC_FILE.read_text())
    return {"name": "ffmpeg-etl-new",
            "runtime": {"image": IMAGE,
                        "env": [{"name": "ETL_DIRECT_FQN", "value": "true"},
                                {"name": "AR", "value": "44100"},
                                {"name": "AC", "value": "2"}]},
            "communication": "hpush://", "argument": "fqn", "init_timeout": "5m",
            "obj_timeout": "45s", "support_direct_put": True}


def flac_file(tmp, seconds, freq):
    out = tmp / f"{freq}.flac"
    subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency={freq}:duration={seconds}:sample_rate=16000", "-ac", "1",
                    str(out)], check=True, timeout=60)
    return out


def cli_wav(src, ac, ar, tmp):
    out = tmp / f"{src.stem}.{ac}.{ar}.cli.wav"
    subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-ac",
                    str(ac), "-ar", str(ar), "-c:a", "pcm_s16le", "-f", "wav", str(out)],
                   check=True, timeout=60)
    return pcm(out.read_bytes())


def pcm(b):
    w = wave.open(io.BytesIO(b))
    a = array.array("h")
    a.frombytes(w.readframes(w.getnframes()))
    return w.getnchannels(), w.getframerate(), w.getnframes(), a


def test_reference_spec_inline_and_job(cluster, http, etls, buckets, tmp_path):
    base = cluster.url
    spec = reference_spec()
    assert spec["runtime"]["image"] == IMAGE
    binary = lt.BIN_DIR / "locus-etl-ffmpeg"
    if not binary.exists():
        pytest.skip(f"{binary} is not built")
    name = etls.track(spec["name"])
    etls.init_ok(spec)
    eu.wait_stage(http, base, name, "Running")

    src = buckets()
    flacs = {f"1272/128104/1272-128104-{i:04d}.flac": flac_file(tmp_path, 1.5 + i, 300 + 100 * i)
             for i in range(3)}
    trans = b"1272-128104-0000 MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES\n"
    for obj, f in flacs.items():
        eu.put(http, base, src, obj, f.read_bytes())
    eu.put(http, base, src, "1272/128104/1272-128104.trans.txt", trans)

    # inline, default AC=2 AR=44100 from the spec's env: the CLI's samples exactly
    obj, f = next(iter(flacs.items()))
    r = eu.get_obj(http, base, src, obj, etl_name=name)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert pcm(r.content) == cli_wav(f, 2, 44100, tmp_path)
    # etl_args override
    r = eu.get_obj(http, base, src, obj, etl_name=name, etl_args='{"ac":1,"ar":16000}')
    assert r.status_code == 200, r.text[:300]
    assert pcm(r.content) == cli_wav(f, 1, 16000, tmp_path)
    # the transcript passes through
    r = eu.get_obj(http, base, src, "1272/128104/1272-128104.trans.txt", etl_name=name)
    assert r.status_code == 200 and r.content == trans

    # offline, as the benchmark runs it: ext flac -> wav, transcripts copied as they are
    dst = buckets()
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name, ext={"flac": "wav"}))
    st = eu.wait_job(http, base, jid, timeout=120)
    assert not st.get("err"), st
    want = sorted([o[:-len("flac")] + "wav" for o in flacs]
                  + ["1272/128104/1272-128104.trans.txt"])
    assert sorted(eu.list_names(http, base, dst)) == want
    for obj, f in flacs.items():
        r = eu.get_obj(http, base, dst, obj[:-len("flac")] + "wav")
        assert r.status_code == 200
        assert pcm(r.content) == cli_wav(f, 2, 44100, tmp_path), obj
    assert eu.get_obj(http, base, dst, "1272/128104/1272-128104.trans.txt").content == trans


def test_own_spec_file_via_cli(cluster, http, etls, buckets, tmp_path):
    """transformers/ffmpeg/etl_spec.yaml through `locus etl init -f` (renamed with --name)."""
    if not lt.LOCUS_CLI.exists() or not (lt.BIN_DIR / "locus-etl-ffmpeg").exists():
        pytest.skip("the locus CLI or locus-etl-ffmpeg is not built")
    base = cluster.url
    name = etls.track(eu.etl_name("ffmpeg"))
    env = dict(os.environ, LOCUS_ENDPOINT=base)
    env.pop("AIS_ENDPOINT", None)
    p = subprocess.run([str(lt.LOCUS_CLI), "etl", "init", "-f",
                        str(lt.REPO_ROOT / "transformers" / "ffmpeg" / "etl_spec.yaml"),
                        "--name", name], env=env, capture_output=True, timeout=lt.tmo(90))
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-2000:]
    eu.wait_stage(http, base, name, "Running")
    src = buckets()
    f = flac_file(tmp_path, 2, 523)
    eu.put(http, base, src, "a.flac", f.read_bytes())
    r = eu.get_obj(http, base, src, "a.flac", etl_name=name, etl_args="ac=1,ar=22050")
    assert r.status_code == 200, r.text[:300]
    assert pcm(r.content) == cli_wav(f, 1, 22050, tmp_path)
    r = eu.get_obj(http, base, src, "a.flac", etl_name=name, etl_args="ac=99")
    assert r.status_code == 400 and "invalid ac" in r.text, (r.status_code, r.text[:300])
