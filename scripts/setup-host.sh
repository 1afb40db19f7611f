#!/usr/bin/env bash
# Idempotent host set-up for podbay on Debian 12 with Node.js 20: installs the Debian packages
# that are missing, the npm dependencies, and builds dist/. Safe to run again at any time.
set -euo pipefail
cd "$(dirname "$0")/.."

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host: run as root (or with sudo) to install Debian packages: $*" >&2
    exit 1
  fi
}

# Debian packages podbay (and its tests) use. Native addons (better-sqlite3) build with
# python3/make/g++ when no prebuilt binary can be fetched. The pod runtime needs runc (crun
# refuses this VM's hybrid cgroups), conmon, catatonit (the pause process), the standard CNI
# plugins, iptables and conntrack (the service proxy clears UDP flows of endpoints that are gone); util-linux gives unshare/nsenter/mount, attr gives setfattr (overlay
# opaque dirs); busybox-static builds the test images; docker-registry (a real registry the
# image pull/push tests start on loopback) and apache2-utils (htpasswd, bcrypt, for its auth);
# chromium (headless) tests the web view; etcd-server is the store behind `--store etcd` (its
# tests start their own members on loopback ports) and etcd-client its etcdctl, which the etcd
# tests read the keys with (only a recommendation of etcd-server's, so named here); python3-kubernetes (Debian's official Python
# client) is a client the kubectl-verbs suite drives the API with; nginx-light is the proxy the
# built-in ingress controller runs.
packages=(ca-certificates curl python3 make g++ iproute2 util-linux attr
  runc conmon catatonit containernetworking-plugins iptables conntrack busybox-static
  docker-registry apache2-utils chromium etcd-server etcd-client python3-kubernetes nginx-light)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  need_root "${missing[*]}"
  echo "setup-host: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # the tests start their own registries on loopback; the package's system service (listening
  # on :5000 on every interface) is not wanted
  if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
  fi
  # likewise etcd's: the etcd tests start their own members on loopback ports
  if [[ " ${missing[*]} " == *" etcd-server "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now etcd.service >/dev/null 2>&1 || true
  fi
fi

# 20.19: require() of an ES module (src/lazy-module.ts loads ESM-only packages on first use)
node_ok=$(node -p 'const [a, b] = process.versions.node.split(".").map(Number); a > 20 || (a === 20 && b >= 19) ? 1 : 0' 2>/dev/null || echo 0)
if [ "$node_ok" != 1 ]; then
  echo "setup-host: podbay needs Node.js 20.19 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup-host: kubectl is not on PATH: install kubectl (any of 1.27 to 1.33) to drive podbay and to run its tests" >&2
  exit 1
fi

# npm dependencies: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.podbay-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run -s build
