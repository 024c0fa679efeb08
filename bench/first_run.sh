#!/bin/bash
# The first run, timed: a fresh clone of this repository (committed state) -> bootstrap -> `spacesuite up` until every
# Space answers 200, then until the background rest of the pipeline is done. Usage: bash bench/first_run.sh [folder]
# Run as in a user's shell: PYTHONDONTWRITEBYTECODE (set on CI machines) would make bootstrap compile every module.
# `up.out` keeps the wall time of each stage `spacesuite up` ran.
set -u
unset PYTHONDONTWRITEBYTECODE
REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel); DEST=${1:-/tmp/spacesuite-first-run}
rm -rf "$DEST" && git clone -q "$REPO" "$DEST" && cd "$DEST" || exit 1
t0=$(date +%s.%N)
bash scripts/bootstrap.sh > boot.log 2>&1 || { echo "bootstrap failed"; tail -20 boot.log; exit 1; }
t1=$(date +%s.%N)
.venv/bin/spacesuite up --port 7999 > up.out 2> up.err &
pid=$!
until grep -q "The Spaces are ready" up.err 2>/dev/null && curl -sf -o /dev/null http://127.0.0.1:7999/; do
  sleep 2; kill -0 $pid 2>/dev/null || { echo "up died"; tail -30 up.err; tail -30 up.out; exit 1; }
done
t2=$(date +%s.%N)
for s in sign-language bird-species keras-basics emotion gender penguins sign-language-web; do
  printf "%s %s\n" $s $(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:7999/$s/)
done
until grep -q "The rest of the pipeline is done\|The rest of the pipeline failed" up.err; do sleep 5; done
t3=$(date +%s.%N)
grep "The rest of the pipeline" up.err
kill -INT $pid; wait $pid
python3 -c "
t0,t1,t2,t3=$t0,$t1,$t2,$t3
print(f'bootstrap {t1-t0:.0f} s; up to every Space serving {t2-t1:.0f} s; fresh clone to serving {t2-t0:.0f} s ({(t2-t0)/60:.1f} min); rest of the pipeline done {t3-t0:.0f} s')"
