#!/usr/bin/env bash
# Size of the release `wifi-sensing` binary (default features: the tract pose backend), and where
# its bytes are.
#
# Usage: bash benches/compare/binary_size.sh [--no-build] [--limit BYTES] [--top N]
#
# Builds `cargo build --release -p wifi-sensing-cli` with symbols kept (CARGO_PROFILE_RELEASE_STRIP=
# none; everything else is the release profile of the workspace Cargo.toml), copies the binary
# to target/size/, strips the copy with `strip` (what the release profile's `strip = "symbols"`
# does), and prints:
#   - the stripped size, and whether it is under the limit (default 25 MB = 25,000,000 bytes; the
#     exit status is 1 when it is not);
#   - the ELF sections of the stripped file (`size -A`: .text is code, .rodata constants and
#     tables, .eh_frame/.gcc_except_table unwinding data);
#   - the bytes of code and data symbols summed by crate (the first path segment of each
#     demangled symbol, `<T as Trait>` counted under T's crate; after LTO, generic code inlined
#     into a caller counts under the caller), then the N largest symbols.
# The symbol table accounts for most, not all, of the file (padding, tables and unnamed data
# remain).
#
# A fat-LTO build takes 10-20 minutes on 2 cores (much longer under load); `--no-build` reuses
# target/release/wifi-sensing as it is (it must have been built with symbols kept).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=1
limit=25000000
top=25
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --limit) limit="$2"; shift ;;
    --top) top="$2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
for tool in nm strip size c++filt python3; do
  command -v "$tool" >/dev/null || { echo "binary_size: needs $tool (binutils, python3)" >&2; exit 2; }
done
if [ "$build" = 1 ]; then
  CARGO_PROFILE_RELEASE_STRIP=none cargo build --release -p wifi-sensing-cli >&2
fi
mkdir -p target/size
cp target/release/wifi-sensing target/size/wifi-sensing.symbols
if ! nm target/size/wifi-sensing.symbols >/dev/null 2>&1; then
  echo "binary_size: target/release/wifi-sensing has no symbols; build it without --no-build" >&2
  exit 2
fi
strip -o target/size/wifi-sensing target/size/wifi-sensing.symbols
bytes=$(stat -c %s target/size/wifi-sensing)
echo "wifi-sensing (release, stripped): $bytes bytes ($(awk "BEGIN{printf \"%.1f\", $bytes/1e6}") MB); limit $limit bytes"
echo
echo "sections of the stripped binary (bytes):"
size -A target/size/wifi-sensing | awk 'NR>2 && $2>100000 {printf "  %-22s %10d\n", $1, $2}'
echo
nm --size-sort -S target/size/wifi-sensing.symbols | c++filt >target/size/symbols.txt
python3 - "$top" target/size/symbols.txt <<'PY'
import collections, re, sys
top = int(sys.argv[1])
by_crate = collections.Counter()
syms = []
total = 0
for line in open(sys.argv[2]):
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 4 or parts[2] not in "tTrRdDbBvVwW":
        continue
    size, name = int(parts[1], 16), parts[3]
    # Rust symbols end in a hash ::h0123456789abcdef
    name = re.sub(r"::h[0-9a-f]{16}$", "", name)
    path = name.lstrip("<&*(").replace("dyn ", "").replace("mut ", "").replace("const ", "")
    crate = path.split("::", 1)[0] if "::" in path else "[C/asm/other]"
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", crate):
        crate = "[C/asm/other]"
    by_crate[crate] += size
    total += size
    syms.append((size, name))
print(f"symbols: {total} bytes in {len(syms)} symbols; by crate:")
for crate, size in by_crate.most_common(30):
    print(f"  {size:>10}  {100*size/total:5.1f} %  {crate}")
rest = sum(s for c, s in by_crate.most_common()[30:])
print(f"  {rest:>10}  {100*rest/total:5.1f} %  ({len(by_crate) - 30 if len(by_crate) > 30 else 0} other crates)")
print(f"\nlargest {top} symbols:")
for size, name in sorted(syms, reverse=True)[:top]:
    print(f"  {size:>9}  {name[:140]}")
PY
[ "$bytes" -lt "$limit" ]
