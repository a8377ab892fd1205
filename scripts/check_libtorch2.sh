#!/bin/bash
# Compile every LibTorch translation unit of dcomp against the headers of
# LibTorch 2.x (Debian trixie's libtorch-dev, the same C++ API as the official
# 2.x builds), without linking: the code must stay off APIs removed since the
# 1.13 it is built with here. Needs a configured Ninja build directory and
# Debian's archive; the headers are fetched into $WORK (not installed).
#   scripts/check_libtorch2.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=${WORK:-/tmp/dcomp-libtorch2}
[ -f "$build/build.ninja" ] || { echo "error: $build is not a configured Ninja build directory" >&2; exit 2; }

# Download libtorch-dev from trixie with a private apt state, and unpack it.
apt_options=(-o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=/nonexistent
             -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o Debug::NoLocking=1)
if [ ! -d "$work/root/usr/include/torch" ]; then
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/root"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    >"$work/sources.list"
  apt-get "${apt_options[@]}" update -q >/dev/null
  (cd "$work" && apt-get "${apt_options[@]}" download libtorch-dev >/dev/null 2>&1)
  dpkg-deb -x "$work"/libtorch-dev_*.deb "$work/root"
fi
include=$work/root/usr/include
version=$(sed -n 's/^#define TORCH_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' \
  "$include/torch/csrc/api/include/torch/version.h" | paste -sd.)
echo "checking against LibTorch $version headers in $include"

# The build's own compile commands for every TU that includes LibTorch, with
# the 2.x headers searched first and no object written; run $(nproc) at a time.
ninja -C "$build" -t commands | grep -- '-isystem /usr/include/torch/csrc/api/include' | grep -- ' -c ' |
  sed -E 's# -isystem /usr/include/torch/csrc/api/include# -I'"$include"' -I'"$include"'/torch/csrc/api/include#' \
  >"$work/all_commands.txt"
# The build's precompiled LibTorch header (CMake's cmake_pch.hxx, which every
# TU includes first) holds the 1.13 headers: rebuild each from the 2.x headers
# under $pch and point the TUs at that copy.
pch=$work/pch
rm -rf "$pch"
while read -r command; do
  header=$(grep -o -- '-include [^ ]*cmake_pch.hxx' <<<"$command" | cut -d' ' -f2)
  mkdir -p "$pch$(dirname "$header")" && cp "$header" "$pch$header"
  command=$(sed -E "s# -MD -MT [^ ]+ -MF [^ ]+ -o [^ ]+# -o $pch$header.gch#; s#-include $header#-include $pch$header#" <<<"$command")
  (cd "$build" && eval "$command") >"$work/pch.log" 2>&1 ||
    { grep -m 5 error "$work/pch.log"; echo "the precompiled header $header fails against LibTorch 2.x"; exit 1; }
done < <(grep -- '-x c++-header' "$work/all_commands.txt")
grep -v -- '-x c++-header' "$work/all_commands.txt" |
  sed -E 's# -MD -MT [^ ]+ -MF [^ ]+ -o [^ ]+# -fsyntax-only#; s#-include ([^ ]*cmake_pch\.hxx)#-include '"$pch"'\1#' \
  >"$work/commands.txt"
rm -f "$work"/failed.*
check_one() {  # $1: a compile command; its output is kept only if it fails
  local log; log=$(mktemp "$work/failed.XXXXXX")
  if (cd "$build" && eval "$1") >"$log" 2>&1; then rm "$log"; else echo "FAILED: ${1##* }"; fi
}
export -f check_one; export build work
tr '\n' '\0' <"$work/commands.txt" | xargs -0 -P "$(nproc)" -I{} bash -c 'check_one "$1"' _ {}
total=$(wc -l <"$work/commands.txt")
failed=$(find "$work" -maxdepth 1 -name 'failed.*' | wc -l)
for log in "$work"/failed.*; do [ -e "$log" ] && grep -m 5 error "$log" || true; done
echo "$total translation units, $failed failed, against LibTorch $version"
[ "$total" -gt 0 ] && [ "$failed" -eq 0 ]
