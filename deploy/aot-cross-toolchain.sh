#!/usr/bin/env bash
# Native AOT links with the target's C toolchain. On the Ubuntu-based .NET SDK image, installs
# what cross-compiling for <amd64|arm64> needs when the build machine is the other architecture
# (the layout of dotnet/dotnet-docker's AOT cross-compilation samples); a no-op otherwise.
#   deploy/aot-cross-toolchain.sh <target arch>
set -euo pipefail
target="$1"
build="$(dpkg --print-architecture)"
[ "$target" != "$build" ] || exit 0
case "$target" in
  arm64) gcc=gcc-aarch64-linux-gnu; uri=http://ports.ubuntu.com/ubuntu-ports/ ;;
  amd64) gcc=gcc-x86-64-linux-gnu; uri=http://archive.ubuntu.com/ubuntu/ ;;
  *) echo "aot-cross-toolchain.sh: unsupported architecture '$target' (amd64 or arm64)" >&2; exit 2 ;;
esac
# shellcheck source=/dev/null
. /etc/os-release
# The image's own sources serve only its architecture; the target's packages come from the
# archive that carries that architecture.
sed -i "/^Signed-By/ a Architectures: $build" /etc/apt/sources.list.d/ubuntu.sources
cat >"/etc/apt/sources.list.d/$target.sources" <<SOURCES
Types: deb
URIs: $uri
Suites: $VERSION_CODENAME $VERSION_CODENAME-updates
Components: main restricted
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
Architectures: $target
SOURCES
dpkg --add-architecture "$target"
apt-get update
apt-get install -y --no-install-recommends clang llvm "$gcc" "zlib1g-dev:$target"
rm -rf /var/lib/apt/lists/*
