# Sourced by the bench scripts. wait_for_port PORT [SECONDS (20)]: returns once something
# accepts on 127.0.0.1:PORT; otherwise says so and exits the script.
wait_for_port() {
    local tries=$(( ${2:-20} * 10 ))
    for _ in $(seq 1 "$tries"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$(basename "$0"): nothing listens on port $1" >&2
    exit 1
}
