#!/usr/bin/env bash
# Runs nginx with the nchan module in the foreground as a fan-out to compare Hyphae
# with (Tests/bench/compare.sh, Tests/HyphaeBenchTests): one worker, listening on
# 127.0.0.1:PORT only, its configuration, logs and temporary files in DIR.
#
#   Tests/bench/nchan-server.sh DIR PORT
#
#   POST http://127.0.0.1:PORT/pub        publishes one message to the channel `bench`
#   ws://127.0.0.1:PORT/sub               subscribes to it (WebSocket); each message is
#                                         sent as one text frame, as published
#
# New subscribers get only the messages published after they join, as a Hyphae
# subscriber of a shared instance does. Needs Debian's nginx and libnginx-mod-nchan
# (compare.sh installs them). Stop it with SIGTERM (nginx's fast shutdown) or SIGQUIT.
set -euo pipefail
DIR=${1:?usage: nchan-server.sh DIR PORT}
PORT=${2:?usage: nchan-server.sh DIR PORT}
MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}
command -v nginx >/dev/null || { echo "nchan-server.sh: nginx is missing (apt-get install nginx libnginx-mod-nchan)" >&2; exit 1; }
[[ -f "$MODULE" ]] || { echo "nchan-server.sh: $MODULE is missing (apt-get install libnginx-mod-nchan)" >&2; exit 1; }
mkdir -p "$DIR/temp"
ulimit -n "$(ulimit -Hn)"
FILES=$(ulimit -n)
cat > "$DIR/nginx.conf" <<CONF
load_module $MODULE;
worker_processes 1;
worker_rlimit_nofile $FILES;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
events {
    worker_connections $((FILES - 100));
}
http {
    access_log off;
    client_body_temp_path $DIR/temp/body;
    proxy_temp_path $DIR/temp/proxy;
    fastcgi_temp_path $DIR/temp/fastcgi;
    uwsgi_temp_path $DIR/temp/uwsgi;
    scgi_temp_path $DIR/temp/scgi;
    nchan_max_reserved_memory 64M;
    server {
        listen 127.0.0.1:$PORT;
        location = /pub {
            nchan_publisher http;
            nchan_channel_id bench;
            nchan_message_buffer_length 16;
            nchan_message_timeout 60s;
        }
        location = /sub {
            nchan_subscriber websocket;
            nchan_channel_id bench;
            nchan_subscriber_first_message newest;
        }
    }
}
CONF
exec nginx -p "$DIR" -e "$DIR/error.log" -c "$DIR/nginx.conf"
