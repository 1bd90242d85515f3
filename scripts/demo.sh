#!/usr/bin/env bash
# demo.sh - `make demo`: start a local Locus cluster (1 proxy + 3 targets) under ./demo-cluster,
# upload a folder of sample files, list them, read some back and compare, run the md5 ETL; then
# the benchmark story (docs/benchmarks.md, "The data"): 200 LibriSpeech-like speech files uploaded, the FFmpeg ETL
# initialised from its spec file, the bucket converted FLAC -> WAV offline and one file inline,
# and a short side-by-side of client-side vs in-cluster conversion of those files (locus-bench
# etl-ffmpeg against this cluster); show the cluster map, and leave the cluster running.
#
# Environment: LOCUS_DEMO_PORT (primary proxy port, default 8080; the targets take the next 3),
# LOCUS_BIN_DIR (default build/bin). Re-running stops the previous demo cluster and starts over.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${LOCUS_BIN_DIR:-$ROOT/build/bin}
DIR=$ROOT/demo-cluster
PORT=${LOCUS_DEMO_PORT:-8080}
TARGETS=3
BUCKET=ais://demo
export LOCUS_ENDPOINT=http://127.0.0.1:$PORT
LOCUS=$BIN/locus

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() {
    printf '\ndemo: %s\n' "$*" >&2
    exit 1
}
# `$ locus ...` echoed, then run.
run() {
    printf '$ locus'
    printf ' %q' "$@"
    printf '\n'
    "$LOCUS" "$@"
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
who_listens() {
    command -v ss >/dev/null 2>&1 && ss -ltnpH "sport = :$1" 2>/dev/null | sed 's/^/    /' || true
}

[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT + TARGETS < 65536)) ||
    die "LOCUS_DEMO_PORT='$PORT' is not a valid port"
for b in locus locusd locus-bench locus-etl-ffmpeg; do
    [ -x "$BIN/$b" ] || die "$BIN/$b not found: build first (make)"
done

# A previous demo cluster (from this checkout) is stopped first, whatever port it used, and
# its data is wiped so every run starts from the same state.
if compgen -G "$DIR/*/locusd.pid" >/dev/null; then
    step "Stopping the previous demo cluster in $DIR"
    run cluster down --dir "$DIR" || true
fi
rm -rf "$DIR"

for ((p = PORT; p <= PORT + TARGETS; p++)); do
    if port_busy "$p"; then
        msg="port $p is already in use (the demo needs $PORT..$((PORT + TARGETS)): proxy + $TARGETS targets)."
        msg+=$'\n'"$(who_listens "$p")"
        msg+=$'\n'"Stop whatever listens there, or pick other ports: LOCUS_DEMO_PORT=9080 make demo"
        die "$msg"
    fi
done

step "Starting a local cluster: 1 proxy + $TARGETS targets, primary proxy on port $PORT"
mkdir -p "$DIR"
if ! run cluster up --dir "$DIR" --port "$PORT" --proxies 1 --targets "$TARGETS"; then
    for log in "$DIR"/*/locusd.log; do
        [ -f "$log" ] && { echo "--- $log (last lines)"; tail -n 15 "$log"; }
    done
    die "the cluster did not start (logs above, data in $DIR)"
fi

step "Creating sample files in $DIR/samples"
S=$DIR/samples
mkdir -p "$S/docs/notes" "$S/data/nested/deeper" "$S/images"
cat >"$S/README.txt" <<'EOF'
Sample files for the Locus demo: a few text files, some random binaries, nested folders.
EOF
printf 'Hello from Locus!\n' >"$S/docs/notes/hello.txt"
for i in $(seq 1 40); do
    echo "line $i: Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."
done >"$S/docs/lorem.txt"
printf 'id,name,size\n1,alpha,4096\n2,beta,65536\n3,gamma,1048576\n' >"$S/docs/table.csv"
printf 'objects are files: <mountpath>/@ais/<bucket>/%%ob/<name>\n' >"$S/docs/notes/with space.txt"
head -c 1024 /dev/urandom >"$S/data/random-1KiB.bin"
head -c 300000 /dev/urandom >"$S/data/nested/random-300KB.bin"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$S/data/nested/deeper/random-3MiB.bin"
head -c 65536 /dev/urandom >"$S/images/fake-photo.jpg"
(cd "$S" && find . -type f | sort | sed 's|^\./|    |')
NFILES=$(find "$S" -type f | wc -l)

step "Uploading the folder into $BUCKET ($NFILES files)"
run bucket create "$BUCKET" 2>/dev/null || true
run put "$S" "$BUCKET"

step "Listing $BUCKET"
run ls "$BUCKET"

step "Reading objects back and comparing them with the originals"
OUT=$DIR/readback
mkdir -p "$OUT"
for name in docs/notes/hello.txt data/nested/deeper/random-3MiB.bin "docs/notes/with space.txt"; do
    dst=$OUT/$(basename "$name")
    run get "$BUCKET/$name" "$dst"
    if cmp "$S/$name" "$dst"; then
        echo "    identical: $name ($(stat -c %s "$dst") bytes)"
    else
        die "$name differs from the original"
    fi
done
printf '$ locus get %s -   # to stdout\n' "$BUCKET/docs/notes/hello.txt"
"$LOCUS" get "$BUCKET/docs/notes/hello.txt" -

step "ETL: deploying the md5 transformer from its spec file (AIStore's runtime-spec format)"
run etl rm md5-etl 2>/dev/null || true
run etl init -f "$ROOT/transformers/md5/etl_spec.yaml"
run etl show

step "ETL offline: every object of $BUCKET -> its md5 digest in ais://demo-md5 (.md5 names)"
run bucket rm ais://demo-md5 2>/dev/null || true
run etl bucket md5-etl "$BUCKET" ais://demo-md5 --ext '{txt:md5,bin:md5,csv:md5,jpg:md5}' --wait
run ls ais://demo-md5

step "ETL inline: one object transformed on the fly as it is read"
run etl object md5-etl "$BUCKET/docs/notes/hello.txt" -
echo
printf '    local md5sum: %s\n' "$(md5sum "$S/docs/notes/hello.txt" | cut -d' ' -f1)"

SPEECH=ais://speech
step "The seed's story: 200 LibriSpeech-like speech files (FLAC, 16 kHz mono)"
printf '$ locus-bench gen-librispeech --out %s --files 200\n' "$DIR/speech"
"$BIN/locus-bench" gen-librispeech --out "$DIR/speech" --files 200
run bucket create "$SPEECH" 2>/dev/null || true
run put "$DIR/speech" "$SPEECH"

step "ETL: the FFmpeg transformer from its spec file (AIStore's transformer_ffmpeg image name)"
sed -n '/^runtime:/,/^communication/p' "$ROOT/transformers/ffmpeg/etl_spec.yaml" | grep -v '^ *#' |
    sed 's/^/    /'
run etl rm ffmpeg-etl 2>/dev/null || true
run etl init -f "$ROOT/transformers/ffmpeg/etl_spec.yaml"

step "ETL offline: every FLAC of $SPEECH -> 44.1 kHz stereo WAV in ais://speech-wav"
run bucket rm ais://speech-wav 2>/dev/null || true
T0=$(date +%s.%N)
run etl bucket ffmpeg-etl "$SPEECH" ais://speech-wav --ext '{flac:wav}' --wait
T1=$(date +%s.%N)
printf '    %s WAVs in ais://speech-wav, the transcripts copied as they are (%.1f s wall)\n' \
    "$("$LOCUS" ls ais://speech-wav | grep -c '\.wav')" "$(awk "BEGIN{print $T1 - $T0}")"
"$LOCUS" ls ais://speech-wav | sed -n '1,4s/^/    /p'

step "ETL inline: one FLAC converted on the fly as it is read"
ONE=$(cd "$DIR/speech" && find . -name '*.flac' | sort | sed -n '1s|^\./||p')
run etl object ffmpeg-etl "$SPEECH/$ONE" "$DIR/one.wav"
if command -v ffprobe >/dev/null 2>&1; then
    printf '    %s: %s -> %s\n' "$ONE" \
        "$(ffprobe -v error -show_entries stream=codec_name,sample_rate,channels -of csv=p=0 "$DIR/speech/$ONE")" \
        "$(ffprobe -v error -show_entries stream=codec_name,sample_rate,channels -of csv=p=0 "$DIR/one.wav")"
fi
printf '    %s bytes of FLAC -> %s bytes of WAV\n' "$(stat -c %s "$DIR/speech/$ONE")" "$(stat -c %s "$DIR/one.wav")"

step "Side by side, same 200 files: client-side (GET, convert, PUT) vs in-cluster ETL"
echo "(locus-bench etl-ffmpeg on this cluster: the in-process client with 8 threads, the reference's"
echo " ffmpeg-per-object client for 10 s, extrapolated, and the ws+fqn+direct-put ETL job; each verified)"
printf '$ locus-bench etl-ffmpeg --endpoint %s --files 200 --configs ws-fqn-dp --quick\n' "$LOCUS_ENDPOINT"
"$BIN/locus-bench" etl-ffmpeg --endpoint "$LOCUS_ENDPOINT" --files 200 --configs ws-fqn-dp --quick \
    2>/dev/null | sed -n '/^config/,/^$/p; /^Best in-cluster/p' | sed 's/^/    /'

step "Cluster map"
run cluster show

cat <<EOF

The cluster keeps running at $LOCUS_ENDPOINT (data and logs in $DIR).
Try:
    export LOCUS_ENDPOINT=$LOCUS_ENDPOINT
    $LOCUS ls $BUCKET
    $LOCUS get $BUCKET/docs/lorem.txt -
Stop it with:
    make demo-down        (or: $LOCUS cluster down --dir $DIR)
EOF
