#!/usr/bin/env bash
# Checks (default) or applies (--fix) the project's formatting with swift-format and .swift-format.
# Generated code is left alone: it is the generator's output, rewritten whole.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.swift' | grep -v '/Generated/' | grep -v '^Package.swift$')
[ "${#files[@]}" -gt 0 ] || exit 0

if [ "${1:-}" = "--fix" ]; then
    swift format format --in-place --parallel "${files[@]}"
    echo "format: formatted ${#files[@]} files"
else
    swift format lint --strict --parallel "${files[@]}"
    echo "format: ${#files[@]} files are formatted as .swift-format says"
fi
