#!/usr/bin/env bash
# Runs the suite on SQLite (the embedded default: every test) and on PostgreSQL (the tests that use
# the pass's database; tests/conftest.py picks them), both passes at once: most of a test's time
# is waiting (servers, ffmpeg, browsers, sockets), and two cores serve both. Each pass has its
# own Redis databases and its own log, printed when it ends. PostgreSQL is started when it is
# installed but not running. With CI=true a missing service fails the run instead of skipping
# its tests. Extra arguments go to pytest.
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

run_pass() {  # name, then pytest arguments; output to test-artifacts/NAME.log
  local name=$1; shift
  local log="test-artifacts/$name.log"
  LIVECART_TEST_DB=$name "$BIN/python" -m pytest -q -p no:cacheprovider \
    --junitxml="test-artifacts/junit-$name.xml" "$@" >"$log" 2>&1
  local rc=$?
  if [ $rc -eq 5 ]; then echo "test: no tests collected on $name" >>"$log"; rc=0; fi
  return $rc
}

show_pass() {  # name, exit status
  echo "== tests on $1 (exit $2) =="
  cat "test-artifacts/$1.log"
}

status=0
have_pg=0
ensure_postgres && have_pg=1
if [ $have_pg -eq 1 ]; then
  # Both passes run: the database-independent tests of tests/unit go to the PostgreSQL pass,
  # which has less to do (tests/conftest.py), so that the two end at about the same time.
  export LIVECART_TEST_PASSES=both
fi
echo "test: the SQLite and PostgreSQL passes run at once; each prints when it ends"
run_pass sqlite "$@" &
sqlite_pid=$!
if [ $have_pg -eq 1 ]; then
  # Its own Redis databases: the passes flush theirs.
  LIVECART_TEST_REDIS_URL=redis://127.0.0.1:6379/7 \
  LIVECART_TEST_WINDOW_REDIS_URL=redis://127.0.0.1:6379/6 \
  LIVECART_TEST_RQ_REDIS_URL=redis://127.0.0.1:6379/5 \
    run_pass postgres "$@"
  pg_status=$?
  show_pass postgres $pg_status
  [ $pg_status -eq 0 ] || status=1
elif [ "${CI:-}" = "true" ]; then
  status=1
else
  echo "test: skipping the PostgreSQL pass (set CI=true to make this a failure)"
fi
wait $sqlite_pid
sqlite_status=$?
show_pass sqlite $sqlite_status
[ $sqlite_status -eq 0 ] || status=1

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
