#!/usr/bin/env bash
# Installs the Debian packages Locus needs to build, test, benchmark and demo.
# Idempotent: installs only what is missing; quiet when everything is there.
set -euo pipefail

PKGS=(
    build-essential cmake pkg-config clang-format
    libmicrohttpd-dev libcurl4-openssl-dev libwslay-dev libssl-dev
    libjansson-dev libxxhash-dev libmsgpack-dev libyaml-dev
    libcmocka-dev
    libavformat-dev libavcodec-dev libswresample-dev libavutil-dev ffmpeg
    python3 python3-pytest python3-requests python3-msgpack python3-xxhash
    python3-cloudpickle python3-fastapi python3-uvicorn python3-flask python3-websocket
    python3-matplotlib python3-jwt python3-cryptography openssl
    nginx-light attr curl
    libjwt-dev bubblewrap clang libfuzzer-14-dev libclang-rt-14-dev
    libisal-dev prometheus libarchive-dev python3-lz4
    libexpat1-dev awscli python3-boto3 s3cmd rclone
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
