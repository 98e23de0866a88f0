# Sourced by run.sh and compare.sh: write_host_config FILE writes the served host's config
# from HOST_THREADS and HOST_CONFIG (host config lines, e.g. "direct_writes: false") when
# either is set, and sets the array host_config_args to the `serve` options that read it
# (none when neither is set, so the host runs on its defaults).
write_host_config() {
    host_config_args=()
    [[ -z "${HOST_THREADS:-}" && -z "${HOST_CONFIG:-}" ]] && return 0
    : > "$1"
    if [[ -n "${HOST_THREADS:-}" ]]; then printf 'threads: %s\n' "$HOST_THREADS" >> "$1"; fi
    if [[ -n "${HOST_CONFIG:-}" ]]; then printf '%s\n' "$HOST_CONFIG" >> "$1"; fi
    host_config_args=(--config "$1")
}
