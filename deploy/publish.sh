#!/usr/bin/env bash
# The container's publish step, shared by deploy/Dockerfile and deploy/verify.sh so what is
# verified here is what the image contains.
#   deploy/publish.sh <amd64|arm64|x64> <output dir>
set -euo pipefail
arch="$1"
out="$2"
case "$arch" in
  amd64|x64) rid=linux-x64 ;;
  arm64) rid=linux-arm64 ;;
  *) echo "publish.sh: unsupported architecture '$arch' (amd64 or arm64)" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"

# Native AOT: one self-contained executable (docs/performance.md: idle RSS 37 MB against 83-88 MB
# on the JIT runtime), so the runtime image needs no .NET. Cross-architecture publishes need the
# target's C toolchain (deploy/aot-cross-toolchain.sh). The .dbg symbol file stays out.
dotnet publish "$root/src/EnergyWs/EnergyWs.csproj" -c Release -r "$rid" -p:PublishAot=true \
  -p:GenerateDocumentationFile=false -o "$out" -nologo -v quiet
rm -f "$out"/*.dbg

# librdkafka.redist ships several builds per architecture (~23 MB each); keep the one the
# target loads (see src/EnergyWs/Kafka/Librdkafka.cs): on x64 glibc the centos8 build, whose only
# dependency is glibc (the plain build needs libsasl2.so.3); on arm64 the single glibc build.
case "$rid" in
  linux-x64) keep=centos8-librdkafka.so ;;
  linux-arm64) keep=librdkafka.so ;;
esac
find "$out" -name '*librdkafka*.so*' ! -name "$keep" -delete
# The package also drops its Windows DLLs (for .NET Framework projects) into librdkafka/x64|x86.
rm -rf "$out/librdkafka"
if ! find "$out" -name "$keep" | grep -q .; then
  echo "publish.sh: $keep missing from the $rid publish" >&2
  exit 1
fi
find "$out" -type d -empty -delete
