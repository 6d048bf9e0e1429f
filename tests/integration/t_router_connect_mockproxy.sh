#!/usr/bin/env bash
# router-connect-mockproxy: the checks of t_router_connect_squid.sh (phone-home ok through the proxy
# with credentials, 407 without them, 403 for a denied domain and port, TLS failures, access-log
# lines, no direct route, no password in any log) against the lab's own mock-proxy instead of Squid.
ZL_CONNECT_PROXY=mock-proxy
. "$(dirname "$0")/t_router_connect_squid.sh"
