#!/usr/bin/env bash
# Fuzzes IMAPCore's response framer and parser with libFuzzer: the target is Fuzz/ (a package
# of its own, so its unsafe flags never reach the main build); it starts from the seed corpus
# Fuzz/corpus/, written from the parser's table fixtures (see Tests/IMAPCoreTests/FuzzSeedCorpus.swift).
#
#   integration/fuzz-parser.sh                    # 1,000,000 runs (a few minutes on 2 cores)
#   integration/fuzz-parser.sh 50000              # a quick look
#   integration/fuzz-parser.sh 1000000 -jobs=2    # further arguments go to libFuzzer
#
# Exits non-zero when an input crashes (trap, stack overflow, framing that depends on how the
# bytes arrive) or runs longer than 5 s; the input is left in .build-fuzz/findings/ and belongs
# in Tests/IMAPCoreTests/ResponseFixtures.swift as a table case with its fix.
# Needs Swift 6 on Linux (libFuzzer ships with the toolchain). Builds into .build-fuzz/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs="${1:-1000000}"
shift || true
scratch="$PWD/.build-fuzz"
build=(swift build --package-path Fuzz --scratch-path "$scratch" -c release --sanitize=fuzzer)

# Pin the dependencies to the main package's versions when it has resolved them.
if [[ -f Package.resolved && ! -f Fuzz/Package.resolved ]]; then cp Package.resolved Fuzz/Package.resolved; fi
"${build[@]}" --product IMAPParserFuzzer
fuzzer="$("${build[@]}" --show-bin-path)/IMAPParserFuzzer"

# New inputs the fuzzer finds go to its working corpus, never into the committed seeds.
mkdir -p "$scratch/corpus" "$scratch/findings"
started=$SECONDS
status=0
"$fuzzer" -runs="$runs" -max_len=4096 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict=Fuzz/imap.dict -artifact_prefix="$scratch/findings/" "$@" "$scratch/corpus" Fuzz/corpus || status=$?
echo "fuzz-parser: $runs runs in $((SECONDS - started)) s, exit status $status"
exit "$status"
