#!/usr/bin/env bash
# The two commands of the README:
#   ./run.sh demo [demo options]   set up, then run the demo lane (simulators, gateway, broker, dashboard)
#   ./run.sh test [pytest args]    set up, then ruff, mypy and the whole test suite
# and, for maintainers:
#   ./run.sh bench                 run every benchmark (benchmarks/run_all)
#   ./run.sh fuzz                  the codec fuzz tests with 200,000 examples each
set -euo pipefail
cd "$(dirname "$0")"
job="${1:-demo}"
shift || true
case "$job" in
  demo)
    scripts/setup.sh demo
    exec .venv/bin/border-gateway demo "$@"
    ;;
  test)
    scripts/setup.sh test
    .venv/bin/ruff check gateway drivers simulators tests benchmarks tools
    .venv/bin/mypy
    HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}" exec .venv/bin/python -m pytest "$@"
    ;;
  fuzz)
    scripts/setup.sh test
    HYPOTHESIS_PROFILE=long exec .venv/bin/python -m pytest -m fuzz --timeout 0 "$@"
    ;;
  bench)
    scripts/setup.sh bench
    exec benchmarks/run_all "$@"
    ;;
  *)
    echo "usage: ./run.sh demo|test|bench|fuzz [args]" >&2
    exit 2
    ;;
esac
