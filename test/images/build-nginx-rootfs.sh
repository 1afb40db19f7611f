#!/usr/bin/env bash
# Builds a minimal nginx root filesystem from Debian's own nginx package, for the tests (no
# image registry is reachable here): the nginx binary from the .deb, the shared libraries it
# links (copied from this Debian host, the same release), users and the directories nginx
# expects. Usage: build-nginx-rootfs.sh OUT_DIR   (root; needs apt-get, dpkg-deb, ldd)
set -euo pipefail
out=${1:?usage: build-nginx-rootfs.sh OUT_DIR}
cache=${PODBAY_TEST_CACHE:-/var/cache/podbay-test}
mkdir -p "$cache" "$out"

deb=$(ls "$cache"/nginx_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  ( cd "$cache" && { apt-get download nginx 2>/dev/null || { apt-get update -qq && apt-get download nginx; }; } ) >/dev/null
  deb=$(ls "$cache"/nginx_*.deb | head -n1)
fi
x=$(mktemp -d)
trap 'rm -rf "$x"' EXIT
dpkg-deb -x "$deb" "$x"

install -D -m 0755 "$x/usr/sbin/nginx" "$out/usr/sbin/nginx"
for lib in $(ldd "$x/usr/sbin/nginx" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
  [ -f "$lib" ] || continue
  install -D -m 0755 "$(readlink -f "$lib")" "$out$lib"
done
mkdir -p "$out"/{etc/nginx,var/lib/nginx,var/log/nginx,run,tmp,proc,sys,dev,usr/share/nginx/html}
chmod 1777 "$out/tmp"
cat >"$out/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
P
cat >"$out/etc/group" <<'G'
root:x:0:
www-data:x:33:
nogroup:x:65534:
nobody:x:65534:
G
echo '<html><body>nginx in a podbay pod</body></html>' >"$out/usr/share/nginx/html/index.html"
echo "$out"
