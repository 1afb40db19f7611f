#!/usr/bin/env bash
# Builds a minimal nginx root filesystem from Debian's own nginx package, for the tests (no
# image registry is reachable here, and nothing is downloaded): the nginx binary the host's
# installed package put at /usr/sbin/nginx (nginx-light, which scripts/setup-host.sh installs,
# depends on it), the shared libraries it links (ldd, from this same Debian host), users, the
# directories nginx expects, and an nsswitch.conf so that getaddrinfo, which nginx calls on
# every upstream name while it loads its config, asks /etc/hosts and then the pod's resolv.conf
# (cluster DNS); glibc >= 2.34 has its files and dns NSS modules inside libc.so.6.
# Usage: build-nginx-rootfs.sh OUT_DIR   (needs dpkg-query, ldd)
set -euo pipefail
out=${1:?usage: build-nginx-rootfs.sh OUT_DIR}
nginx=/usr/sbin/nginx
if ! pkg=$(dpkg-query -S "$nginx" 2>/dev/null) || [ ! -x "$nginx" ]; then
  echo "build-nginx-rootfs: Debian's nginx is not installed on this host ($nginx): apt-get install nginx-light (scripts/setup-host.sh installs it)" >&2
  exit 1
fi
mkdir -p "$out"

install -D -m 0755 "$nginx" "$out/usr/sbin/nginx"
for lib in $(ldd "$nginx" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
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
cat >"$out/etc/nsswitch.conf" <<'N'
passwd: files
group: files
hosts: files dns
N
echo "<html><body>nginx (${pkg%%:*} $(dpkg-query -W -f='${Version}' "${pkg%%:*}")) in a podbay pod</body></html>" >"$out/usr/share/nginx/html/index.html"
echo "$out"
