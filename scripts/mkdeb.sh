#!/usr/bin/env bash
# Builds the Debian package of Locus from a build directory (make deb; docs/deploy.md):
#   scripts/mkdeb.sh BUILD_DIR OUT_DIR  ->  OUT_DIR/locus_<version>_amd64.deb
# Layout: the daemon and its helpers in /usr/lib/locus/bin (locusd finds its ETL transformers and
# sandbox helper next to itself), /usr/bin/locusd, locus and locus-bench as links to them, the
# systemd units, the sysusers entry, /etc/locus/{proxy-p1,target-t1}.json (conffiles), the docs.
# Depends: the shared libraries the binaries link (dpkg-shlibdeps) and bubblewrap (ETL sandbox).
set -euo pipefail

build=$(realpath "${1:?usage: mkdeb.sh BUILD_DIR OUT_DIR}")
out=$(realpath "${2:?usage: mkdeb.sh BUILD_DIR OUT_DIR}")
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"

version="0.1.0"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    version="0.1.0+git$(git -C "$src" log -1 --format=%cd.%h --date=format:%Y%m%d)"
fi
arch=$(dpkg --print-architecture)

lib="$root/usr/lib/locus/bin"
install -d "$lib" "$root/usr/bin" "$root/etc/locus" "$root/lib/systemd/system" \
    "$root/usr/lib/sysusers.d" "$root/usr/share/doc/locus" "$root/DEBIAN"
bins=(locusd locus locus-sandbox-exec)
for b in "$build"/bin/locus-etl-* "$build/bin/locus-bench"; do
    [ -f "$b" ] && [ -x "$b" ] && bins+=("$(basename "$b")")
done
for b in "${bins[@]}"; do
    [ -f "$build/bin/$b" ] || { echo "mkdeb: $build/bin/$b missing: build first (make)" >&2; exit 1; }
    case "$b" in
    *.py) install -m 0644 "$build/bin/$b" "$lib/$b" ;;
    *) install -m 0755 -s "$build/bin/$b" "$lib/$b" ;;
    esac
done
for b in locusd locus locus-bench; do
    [ -e "$lib/$b" ] && ln -s "../lib/locus/bin/$b" "$root/usr/bin/$b"
done
install -m 0644 "$src"/deploy/systemd/locus-*@.service "$root/lib/systemd/system/"
install -m 0644 "$src/deploy/debian/locus.sysusers" "$root/usr/lib/sysusers.d/locus.conf"
install -m 0644 "$src/deploy/debian/proxy-p1.json" "$src/deploy/debian/target-t1.json" \
    "$root/etc/locus/"
install -m 0644 "$src/README.md" "$src/deploy/locusd.example.json" "$src"/docs/*.md \
    "$root/usr/share/doc/locus/"
install -m 0755 "$src/deploy/debian/postinst" "$src/deploy/debian/postrm" "$root/DEBIAN/"
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) >"$root/DEBIAN/conffiles"

# dpkg-shlibdeps wants a source tree's debian/control: a minimal one in the work dir
mkdir -p "$work/debian"
printf 'Source: locus\n\nPackage: locus\nArchitecture: any\n' >"$work/debian/control"
elfs=()
for b in "${bins[@]}"; do
    case "$b" in *.py) ;; *) elfs+=(-e "$lib/$b") ;; esac
done
shlibs=$(cd "$work" && dpkg-shlibdeps -O "${elfs[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CTRL
Package: locus
Version: $version
Architecture: $arch
Maintainer: Locus developers <locus@localhost>
Installed-Size: $size
Depends: $shlibs, bubblewrap
Recommends: python3, python3-cloudpickle, attr
Section: net
Priority: optional
Description: distributed object store that runs ETL where the data lives
 Locus is a distributed object store in C: proxies and storage targets, buckets and
 objects, erasure coding and mirroring, and an ETL subsystem that runs user-defined
 transformations on the storage nodes, inline on GET or bucket to bucket. It speaks
 AIStore's REST API, so AIStore's clients and transformer servers work against it.
CTRL
mkdir -p "$out"
deb="$out/locus_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z6 --build "$root" "$deb" >/dev/null
echo "$deb"
