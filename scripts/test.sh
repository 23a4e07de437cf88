#!/usr/bin/env bash
# Runs the whole suite twice: on SQLite (the embedded default) and on PostgreSQL.
# PostgreSQL is started when it is installed but not running. With CI=true a missing service fails
# the run instead of skipping its tests. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
PG_URL=${LIVECART_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
mkdir -p test-artifacts && rm -f test-artifacts/junit-*.xml

ensure_postgres() {
  if psql "$PG_URL" -qAtc 'select 1' >/dev/null 2>&1; then return 0; fi
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test: starting PostgreSQL"
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    done
    for _ in $(seq 1 30); do
      psql "$PG_URL" -qAtc 'select 1' >/dev/null 2>&1 && return 0
      sleep 1
    done
  fi
  echo "test: PostgreSQL is not reachable at $PG_URL"
  return 1
}

run_pass() {  # name, then pytest arguments
  local name=$1; shift
  echo "== tests on $name =="
  LIVECART_TEST_DB=$name "$BIN/python" -m pytest -q -p no:cacheprovider \
    --junitxml="test-artifacts/junit-$name.xml" "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then echo "test: no tests collected on $name"; rc=0; fi
  return $rc
}

status=0
run_pass sqlite "$@" || status=1
if ensure_postgres; then
  run_pass postgres "$@" || status=1
elif [ "${CI:-}" = "true" ]; then
  status=1
else
  echo "test: skipping the PostgreSQL pass (set CI=true to make this a failure)"
fi

"$BIN/python" - <<'PY'
import glob
import xml.etree.ElementTree as ET

for path in sorted(glob.glob("test-artifacts/junit-*.xml")):
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    tests, fail, err, skip = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    name = path.split("junit-")[1].removesuffix(".xml")
    print(f"{name}: {tests - fail - err - skip} passed, {fail + err} failed, {skip} skipped")
PY
exit $status
