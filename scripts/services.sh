#!/usr/bin/env bash
# Starts the Redis and PostgreSQL servers the tests use, when they are not already answering.
set -euo pipefail

redis_up() {
    (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null
}

if ! redis_up; then
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "installing Redis with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server \
            >/dev/null
    fi
    echo "starting Redis on 127.0.0.1:6379" >&2
    redis-server --bind 127.0.0.1 --port 6379 --daemonize yes >/dev/null
    for _ in $(seq 1 30); do
        redis_up && break
        sleep 1
    done
    redis_up || { echo "Redis did not start on 127.0.0.1:6379" >&2; exit 1; }
fi

pg_up() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h 127.0.0.1 -p 5432
    else
        (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
}

if pg_up; then
    exit 0
fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "installing PostgreSQL with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version="$(ls /etc/postgresql | sort -V | tail -n 1)"
echo "starting PostgreSQL $version" >&2
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do
    pg_up && break
    sleep 1
done
pg_up || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
# A fresh cluster has neither trust for TCP nor the test database; make both exist.
su postgres -c "psql -q -h 127.0.0.1 -tc \"SELECT 1 FROM pg_database WHERE datname='test'\"" \
    | grep -q 1 || su postgres -c "createdb -h 127.0.0.1 test" || true
