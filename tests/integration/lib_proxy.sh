# Helpers for the mock-proxy namespace tests (t_proxy_*.sh), sourced after lib.sh.
#
#   client (eth0 198.18.1.100, .200) --- (lan0 198.18.1.1, .2) proxy (wan0 198.18.30.1) --- (eth0) mist
#                                                                                   198.18.30.10 ep-terminator.mistsys.net (TLS 443, HTTP 80)
#                                                                                   198.18.30.11 refused.test (nothing listens)
#                                                                                   198.18.30.12 echo.test (proxy-probe echo on 443)
# The proxy namespace has a hosts file for those names (zl_hosts) and a route to 198.18.40.0/24 via
# mist, which does not forward: connects there time out. 198.18.99.0/24 has no route (unreachable).
# The client has no route to mist: everything goes through the proxy.

zp_topology() {
    zl_ns client
    zl_ns proxy
    zl_ns mist
    zl_link client eth0 proxy lan0
    zl_link proxy wan0 mist eth0
    ip -n "$(zl_nsname client)" addr add 198.18.1.100/24 dev eth0
    ip -n "$(zl_nsname client)" addr add 198.18.1.200/24 dev eth0
    ip -n "$(zl_nsname proxy)" addr add 198.18.1.1/24 dev lan0
    ip -n "$(zl_nsname proxy)" addr add 198.18.1.2/24 dev lan0
    ip -n "$(zl_nsname proxy)" addr add 198.18.30.1/24 dev wan0
    ip -n "$(zl_nsname proxy)" route add 198.18.40.0/24 via 198.18.30.10
    local a
    for a in 10 11 12; do ip -n "$(zl_nsname mist)" addr add "198.18.30.$a/24" dev eth0; done
    ip -n "$(zl_nsname mist)" route add default via 198.18.30.1
    zl_hosts proxy "198.18.30.10 ep-terminator.mistsys.net" "198.18.30.11 refused.test" "198.18.30.12 echo.test"
}

# zp_cert: a self-signed certificate for ep-terminator.mistsys.net in $ZL_TMP/{cert,key}.pem.
zp_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=ep-terminator.mistsys.net -addext subjectAltName=DNS:ep-terminator.mistsys.net \
        -keyout "$ZL_TMP/key.pem" -out "$ZL_TMP/cert.pem" 2>/dev/null
}

# zp_port_open NS ADDR PORT: a TCP connect to ADDR:PORT from NS succeeds.
zp_port_open() { zl_in "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }

# zp_listening NS ADDR:PORT: something listens there (no connection made).
zp_listening() { zl_in "$1" ss -Hltn "src $2" 2>/dev/null | grep -q LISTEN; }

# zp_raw PROXY REQUEST [proxy-probe raw options]: the response (head and body) to a raw request
# sent from the client namespace; exit status as proxy-probe raw.
zp_raw() {
    local proxy=$1 req=$2; shift 2
    zl_in client "$ZTP_BIN/proxy-probe" raw --proxy "$proxy" "$@" "$req"
}

# zp_status: the status code of the response on stdin ("000" when none).
zp_status() { head -n1 | tr -d '\r' | awk '/^HTTP\//{print $2; f=1} END{if(!f) print "000"}'; }

# zp_header NAME: the value of header NAME in the response head on stdin.
zp_header() { sed -n '1,/^\r\{0,1\}$/p' | tr -d '\r' | awk -v n="$1" 'index(tolower($0), tolower(n) ":")==1 {sub(/^[^:]*:[ \t]*/, ""); print; exit}'; }

# zp_stats PROXYNAME JQ: a value from the stats file after asking for a fresh one (SIGUSR1).
zp_stats() {
    kill -USR1 "$(zl_pid "$1")"
    sleep 0.1
    jq -rc "$2" "$ZL_TMP/$1.stats.json"
}

# Squid's access log line (logformat squid), as mock-proxy writes it.
ZP_ACCESS_RE='^[0-9]+\.[0-9]{3} +[0-9]+ [0-9a-f.:]+ [A-Z_]+/[0-9]{3} [0-9]+ [^ ]+ [^ ]+ [^ ]+ HIER_(DIRECT|NONE)/[^ ]+ [^ ]+$'
