#!/usr/bin/env bash
# The quickstart side by side: another tree (e.g. a worktree of an older commit) and this checkout, one
# after the other on the same machine, each in a fresh workspace and cache folder (the converted
# bundled model linked in). Prints each arm's wall time, CPU share, peak RSS, verdict and control.
#
#   git worktree add /tmp/old afec809
#   bash benchmarks/quickstart_side_by_side.sh /tmp/old [OUT]      # OUT: /tmp/quickstart_sbs
set -euo pipefail
OTHER=$(cd "$1" && pwd)
THIS=$(cd "$(dirname "$0")/.." && pwd)
OUT=${2:-/tmp/quickstart_sbs}
M=$(cd /tmp && python -c "from workbench.core.models import resolve_model; print(resolve_model('smollm2-135m-instruct'))")
for arm in other this; do
  if [ $arm = other ]; then tree=$OTHER; else tree=$THIS; fi
  d=$OUT/$arm; rm -rf "$d"; mkdir -p "$d/cache/models"; ln -s "$M" "$d/cache/models/smollm2-135m-instruct"
  echo "== $arm ($tree) start $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  (cd "$d" && PYTHONPATH=$tree WORKBENCH_HOME=$d/home WORKBENCH_CACHE=$d/cache \
     /usr/bin/time -v python -m workbench ablate "$tree/examples/quickstart.yaml" > "$d/run.log" 2>&1)
  echo "== $arm end $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  grep -E "Elapsed|Maximum resident|Percent of CPU|User time|System time" "$d/run.log"
  grep -E "^- .*curated vs no-reasoning|A/A control" "$d/run.log" | head -4
done
