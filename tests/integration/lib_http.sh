# curl helpers for the HTTPS mock tests (sourced after lib.sh). The caller sets CURL=(curl ...) with
# its CA and --resolve options, and CURL_IN=(zl_in NS) to run curl inside a namespace (default: here).
# (t_mist_curl.sh holds the same two helpers and can source this file instead.)
CURL_IN=()

# req METHOD URL [BODY] [extra curl args...]: sets $code, $body, $hdrs
req() {
    local m=$1 url=$2 data=${3-}; shift 3 || shift $#
    local args=(-X "$m" -D "$ZL_TMP/hdrs" -o "$ZL_TMP/body" -w '%{http_code}')
    [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
    code=$("${CURL_IN[@]}" "${CURL[@]}" "${args[@]}" "$@" "$url") || zl_fail "curl $m $url failed"
    body=$(cat "$ZL_TMP/body")
    hdrs=$(tr -d '\r' <"$ZL_TMP/hdrs")
}

# expect CODE JQ-FILTER VALUE DESCRIPTION: the last answer had status CODE and (filter non-empty)
# the filter gives VALUE.
expect() {
    [ "$code" = "$1" ] || zl_fail "$4: HTTP $code, want $1 (body $body)"
    if [ -n "$2" ]; then
        local got; got=$(jq -r "$2" <<<"$body")
        [ "$got" = "$3" ] || zl_fail "$4: $2 = '$got', want '$3' (body $body)"
    fi
    zl_ok "$4"
}
