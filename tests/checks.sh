# Sourced by the shell tests: pass/fail counting and the one-line-error check.
# The sourcing script sets $tmp (its scratch directory) first.
passes=0 failures=0
pass() { echo "ok: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error DESCRIPTION PATTERN COMMAND...: the command must fail, and its
# stderr must be one line matching PATTERN.
expect_error() {
  local what=$1 pattern=$2
  shift 2
  if "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$what: exited 0"; return; fi
  if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q -- "$pattern" "$tmp/err"; then
    fail "$what: stderr was: $(cat "$tmp/err")"; return
  fi
  pass "$what: $(cat "$tmp/err")"
}

# fast_bf16_cpu: whether this CPU has AVX-512 BW, VL and DQ, without which
# dcomp computes bf16 recipes in fp32 (src/libtorch/autocast.h).
fast_bf16_cpu() {
  grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo
}

# finish NAME: the summary line, and the exit status.
finish() {
  echo "$1: $passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}
