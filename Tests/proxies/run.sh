#!/usr/bin/env bash
# Runs the nginx and Caddy examples of Docs/SECURITY.md (Reverse proxies) for real, on
# loopback: the config blocks are taken from the doc as they are written, with only the
# site name, the certificate paths, the ports and the upstream address replaced. Each
# proxy terminates TLS with a certificate made here by a throwaway CA, in front of a
# `hyphae serve` on plain ws://, and three clients go through it: curl (https://
# /health, and /admin/ and /metrics, which the examples keep inside), `hyphae subscribe` over wss://
# and the Python example client over wss://. The proxy's access log must show the
# upgrade (nginx: 101; Caddy: the Sec-WebSocket-Accept it answered with).
#
#   Tests/proxies/run.sh [nginx|caddy|all]     (default all; about 15 s with a debug build)
#
# Needs: nginx and caddy (Debian: apt-get install nginx-light caddy), openssl, curl, a
# built hyphae (HYPHAE=path, default .build/debug/hyphae) and a python3 with websockets
# (PYTHON=path, default .venv-tests/bin/python, as ./test.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
which=${1:-all}
hyphae=${HYPHAE:-$root/.build/debug/hyphae}
python=${PYTHON:-$root/.venv-tests/bin/python}
doc=$root/Docs/SECURITY.md

fail() { echo "proxies: $*" >&2; exit 1; }
[ -x "$hyphae" ] || fail "no hyphae at $hyphae; run swift build (or set HYPHAE)"
"$python" -c 'import websockets' 2>/dev/null || fail "$python has no websockets; run ./test.sh once (or set PYTHON)"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "proxies: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for_port() {
    local port=$1 what=$2
    for _ in $(seq 1 200); do
        if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    fail "$what did not listen on port $port"
}

# The fenced block of language $1 that follows the heading line $2 in SECURITY.md.
doc_block() {
    awk -v lang="$1" -v heading="$2" '
        $0 == heading { found = 1; next }
        found && $0 == "```" lang { inside = 1; next }
        inside && $0 == "```" { exit }
        inside { print }
    ' "$doc"
}

# A CA and a certificate for localhost and 127.0.0.1, signed by it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Hyphae proxies test CA" \
    -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$work/privkey.pem" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
    -extfile "$work/ext.cnf" -out "$work/fullchain.pem" 2>/dev/null

upstream=$(free_port)
"$hyphae" serve --port "$upstream" --pipelines "$root/pipelines" --log-format json 2>"$work/hyphae.log" &
pids+=($!)
wait_for_port "$upstream" "hyphae serve"

# The clients, through the proxy at https://127.0.0.1:$1 (and wss://).
check_clients() {
    local port=$1 name=$2
    local health
    health=$(curl -sS --cacert "$work/ca.pem" "https://127.0.0.1:$port/health")
    [ "$health" = '{"status":"ok"}' ] || fail "$name: GET /health through the proxy answered: $health"
    local inside status
    for inside in /admin/pipelines /metrics; do
        status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$work/ca.pem" "https://127.0.0.1:$port$inside")
        [ "$status" = 403 ] || fail "$name: $inside through the proxy answered $status, not 403"
    done
    local frames
    frames=$("$hyphae" subscribe "wss://127.0.0.1:$port/ws/ticker" --frames 3 --ca-file "$work/ca.pem" --param rate=50 2>"$work/subscribe.err") \
        || fail "$name: hyphae subscribe failed: $(cat "$work/subscribe.err")"
    [ "$(printf '%s\n' "$frames" | grep -c '"sequence"')" -ge 3 ] || fail "$name: hyphae subscribe got no 3 frames: $frames"
    frames=$("$python" "$root/Docs/examples/mfn_client.py" "wss://localhost:$port/ws/ticker" --frames 3 --ca-file "$work/ca.pem" --param rate=50 2>"$work/python.err") \
        || fail "$name: the Python client failed: $(cat "$work/python.err")"
    [ "$(printf '%s\n' "$frames" | grep -c '"sequence"')" -ge 3 ] || fail "$name: the Python client got no 3 frames: $frames"
    echo "proxies: $name: /health 200, /admin/ and /metrics 403, hyphae subscribe and the Python client got their frames over wss://"
}

run_nginx() {
    command -v nginx >/dev/null || fail "no nginx; apt-get install nginx-light"
    local port
    port=$(free_port)
    mkdir -p "$work/nginx"
    {
        echo "pid $work/nginx/nginx.pid;"
        echo "error_log $work/nginx/error.log;"
        echo "events {}"
        echo "http {"
        echo "access_log $work/nginx/access.log;"
        for temp in client_body proxy fastcgi uwsgi scgi; do echo "${temp}_temp_path $work/nginx/$temp;"; done
        doc_block nginx "#### nginx" \
            | sed -e "s|listen 443 ssl;|listen 127.0.0.1:$port ssl;|" \
                  -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$upstream;|" \
                  -e "s|server_name streams.example.com;|server_name localhost;|" \
                  -e "s|/etc/letsencrypt/live/streams.example.com/|$work/|"
        echo "}"
    } > "$work/nginx/nginx.conf"
    grep -q "listen 127.0.0.1:$port ssl;" "$work/nginx/nginx.conf" || fail "the nginx block in SECURITY.md no longer has the lines this script replaces"
    nginx -t -q -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' || fail "nginx refuses the example: $(cat "$work/nginx/error.log")"
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
    local pid=$!
    pids+=("$pid")
    wait_for_port "$port" nginx
    check_clients "$port" "nginx $(nginx -v 2>&1 | sed 's|.*/||')"
    grep -q '"GET /ws/ticker HTTP/1.1" 101' "$work/nginx/access.log" || fail "nginx's access log shows no upgrade (101): $(cat "$work/nginx/access.log")"
    kill "$pid"
}

run_caddy() {
    command -v caddy >/dev/null || fail "no caddy; apt-get install caddy"
    local port http_port
    port=$(free_port)
    http_port=$(free_port)
    mkdir -p "$work/caddy"
    {
        # Not in the example: no admin endpoint on its fixed port 2019, no listener on port 80,
        # and the access log in a file, for a run beside other programs on one machine.
        echo "{"
        echo "    admin off"
        echo "    http_port $http_port"
        echo "    https_port $port"
        echo "    auto_https disable_redirects"
        echo "}"
        doc_block caddyfile "#### Caddy" \
            | sed -e "s|^streams.example.com {|https://localhost:$port, https://127.0.0.1:$port {\n\tlog {\n\t\toutput file $work/caddy/access.log\n\t}|" \
                  -e "s|/etc/hyphae/tls/|$work/|g" \
                  -e "s|reverse_proxy 127.0.0.1:8080|reverse_proxy 127.0.0.1:$upstream|"
    } > "$work/caddy/Caddyfile"
    grep -q "reverse_proxy 127.0.0.1:$upstream" "$work/caddy/Caddyfile" || fail "the Caddy block in SECURITY.md no longer has the lines this script replaces"
    XDG_DATA_HOME=$work/caddy XDG_CONFIG_HOME=$work/caddy caddy run --adapter caddyfile --config "$work/caddy/Caddyfile" 2>"$work/caddy/caddy.log" &
    local pid=$!
    pids+=("$pid")
    wait_for_port "$port" caddy
    check_clients "$port" "caddy $(caddy version | cut -d' ' -f1)"
    # Caddy 2.6 logs a WebSocket it hands over with status 0; the upgrade shows in the response headers.
    grep -q '"uri":"/ws/ticker".*"Sec-Websocket-Accept"' "$work/caddy/access.log" || fail "caddy's access log shows no upgrade: $(cat "$work/caddy/access.log")"
    kill "$pid"
}

case $which in
    nginx) run_nginx ;;
    caddy) run_caddy ;;
    all) run_nginx; run_caddy ;;
    *) fail "unknown proxy '$which'; use nginx, caddy or all" ;;
esac
