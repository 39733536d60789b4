#!/usr/bin/env bash
# Offline stand-in for `asv continuous BASE` with environment_type "existing" (which refuses
# commit ranges): benchmark BASE from a `git archive` copy put first on the benchmarks'
# path, benchmark the installed working tree, then `asv compare` the two result sets.
#
#   ./continuous_offline.sh [BASE=HEAD] [extra asv run args, e.g. -b W1 --quick]
#
# No commits, branches or index changes are made.  The working-tree result set is labelled
# with `git stash create` (a dangling commit object naming the uncommitted state; nothing
# is stashed) or HEAD when the tree is clean.
set -euo pipefail
cd "$(dirname "$0")"
BASE=${1:-HEAD}
shift || true
BASE_HASH=$(git rev-parse --verify "$BASE^{commit}")
CAND=$(git stash create 2>/dev/null || true)
CAND=${CAND:-$(git rev-parse HEAD)}
if [ "$CAND" = "$BASE_HASH" ]; then
    echo "working tree is clean and at $BASE: nothing to compare" >&2
    exit 1
fi
SRC=$(mktemp -d "${TMPDIR:-/tmp}/jitgrad-base-XXXXXX")
trap 'rm -rf "$SRC"' EXIT
git -C .. archive "$BASE_HASH" jitgrad | tar -x -C "$SRC"

asv machine --yes >/dev/null
echo "== baseline $BASE ($BASE_HASH) from $SRC"
ASV_PYTHONPATH="$SRC" asv run --python=same --set-commit-hash="$BASE_HASH" "$@"
echo "== working tree (labelled $CAND)"
asv run --python=same --set-commit-hash="$CAND" "$@"
echo "== compare"
asv compare "$BASE_HASH" "$CAND" --factor "${ASV_FACTOR:-1.1}" --split
