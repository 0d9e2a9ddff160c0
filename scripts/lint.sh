#!/usr/bin/env bash
# Refuses banned functions (STYLE.md) in the project's C sources.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if grep -nE '\b(strcpy|sprintf|strtok|atoi|gets)\s*\(' \
	--include='*.c' --include='*.h' -r include node replication cli bench 2>/dev/null |
	grep -v '^tests/'; then
	echo "lint: banned function above (use snprintf/strtol/memcpy)" >&2
	exit 1
fi
