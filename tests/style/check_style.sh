#!/usr/bin/env bash
# Style gate: every C source is clang-format clean (the root .clang-format) and no line is
# wider than 100 columns. Skipped (exit 77) when clang-format is not installed.
set -u
cd "$SYNTHMPI_SOURCE_DIR" || exit 1
command -v clang-format >/dev/null 2>&1 || { echo "clang-format not installed: skipped"; exit 77; }

files=$(find src include tests -name '*.[ch]' | sort)
bad=0
for f in $files; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not clang-format clean: $f"
    bad=$((bad + 1))
  fi
  wide=$(expand -t8 "$f" | awk 'length > 100 { n++ } END { print n + 0 }')
  if [ "$wide" -ne 0 ]; then
    echo "$f: $wide lines over 100 columns"
    bad=$((bad + 1))
  fi
done
echo "$(echo "$files" | wc -l) files checked, $bad problems"
[ "$bad" -eq 0 ]
