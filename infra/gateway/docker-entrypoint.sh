#!/bin/sh
# The gateway container's entry point (docker-compose `gateway`): renders the same templates
# `npm start` renders (scripts/src/lib/gateway.ts), from environment variables, then runs nginx
# (or, given `--check`, only validates the rendered configuration).
# Only our upper-case placeholders are substituted; nginx's own $variables are left alone.
set -eu

: "${GATEWAY_RUN_DIR:=/tmp/meetmatt-gateway}"
: "${GATEWAY_CONF_DIR:=$GATEWAY_RUN_DIR}"
: "${GATEWAY_ERROR_LOG:=stderr}"
: "${GATEWAY_ACCESS_LOG:=/dev/stdout}"
: "${GATEWAY_LISTEN:=8080}"
: "${GATEWAY_AUTH_RATE:=10r/s}"
: "${GATEWAY_USER_RATE:=20r/s}"
: "${GATEWAY_ADDRESS_RATE:=30r/s}"
: "${GATEWAY_WEBHOOK_RATE:=50r/s}"
: "${GATEWAY_AUTH_BURST:=20}"
: "${GATEWAY_USER_BURST:=40}"
: "${GATEWAY_ADDRESS_BURST:=60}"
: "${GATEWAY_WEBHOOK_BURST:=100}"
: "${USER_UPSTREAM_SERVERS:=server user-service:3002 max_fails=3 fail_timeout=5s;}"
: "${PAYMENT_UPSTREAM_SERVERS:=server payment-service:3001 max_fails=3 fail_timeout=5s;}"
: "${BRAIN_UPSTREAM_SERVERS:=server brain-service:3003 max_fails=3 fail_timeout=5s;}"
: "${GATEWAY_TLS_LISTEN:=8443}"
: "${GATEWAY_TLS_CERT_FILE:=}"
: "${GATEWAY_TLS_KEY_FILE:=}"
# Sent to user-service's /auth/verify, which answers only the gateway; unset, every credential fails.
: "${GATEWAY_SHARED_SECRET:=}"
# Browser origins allowed by CORS, comma or space separated; none unless set (production).
: "${CORS_ALLOWED_ORIGINS:=}"
# The $cors_allow_origin map's lines (nginx.conf), unless given already rendered.
cors_map=''
set -f
for origin in $(printf '%s' "$CORS_ALLOWED_ORIGINS" | tr ',' ' '); do
  case "$origin" in
    http://?*|https://?*) ;;
    *) echo "CORS_ALLOWED_ORIGINS: \"$origin\" is not an origin such as http://localhost:5173" >&2; exit 1 ;;
  esac
  case "$origin" in
    *[!A-Za-z0-9.:/-]*|*://*/*) echo "CORS_ALLOWED_ORIGINS: \"$origin\" is not an origin such as http://localhost:5173" >&2; exit 1 ;;
  esac
  cors_map="$cors_map${cors_map:+
    }\"$origin\" \$http_origin;"
done
set +f
: "${GATEWAY_CORS_ORIGINS:=$cors_map}"
GATEWAY_TLS_INCLUDE="$GATEWAY_CONF_DIR/tls.conf"
export GATEWAY_RUN_DIR GATEWAY_CONF_DIR GATEWAY_ERROR_LOG GATEWAY_ACCESS_LOG GATEWAY_LISTEN \
  GATEWAY_AUTH_RATE GATEWAY_USER_RATE GATEWAY_ADDRESS_RATE GATEWAY_WEBHOOK_RATE GATEWAY_AUTH_BURST \
  GATEWAY_USER_BURST GATEWAY_ADDRESS_BURST GATEWAY_WEBHOOK_BURST USER_UPSTREAM_SERVERS PAYMENT_UPSTREAM_SERVERS BRAIN_UPSTREAM_SERVERS \
  GATEWAY_TLS_LISTEN GATEWAY_TLS_CERT_FILE GATEWAY_TLS_KEY_FILE GATEWAY_TLS_INCLUDE \
  GATEWAY_SHARED_SECRET GATEWAY_CORS_ORIGINS

VARIABLES='${GATEWAY_RUN_DIR} ${GATEWAY_CONF_DIR} ${GATEWAY_ERROR_LOG} ${GATEWAY_ACCESS_LOG}
${GATEWAY_LISTEN} ${GATEWAY_AUTH_RATE} ${GATEWAY_USER_RATE} ${GATEWAY_ADDRESS_RATE}
${GATEWAY_WEBHOOK_RATE} ${GATEWAY_AUTH_BURST} ${GATEWAY_USER_BURST} ${GATEWAY_ADDRESS_BURST}
${GATEWAY_WEBHOOK_BURST} ${USER_UPSTREAM_SERVERS}
${PAYMENT_UPSTREAM_SERVERS} ${BRAIN_UPSTREAM_SERVERS} ${GATEWAY_TLS_LISTEN}
${GATEWAY_TLS_CERT_FILE} ${GATEWAY_TLS_KEY_FILE} ${GATEWAY_TLS_INCLUDE} ${GATEWAY_SHARED_SECRET}
${GATEWAY_CORS_ORIGINS}'

TEMPLATES=${GATEWAY_TEMPLATES:-/etc/meetmatt/gateway}
mkdir -p "$GATEWAY_RUN_DIR" "$GATEWAY_CONF_DIR"
for dir in client_body proxy fastcgi uwsgi scgi; do mkdir -p "$GATEWAY_RUN_DIR/$dir"; done
for template in "$TEMPLATES"/*.template; do
  envsubst "$VARIABLES" < "$template" > "$GATEWAY_CONF_DIR/$(basename "$template" .template)"
done
if [ -z "$GATEWAY_TLS_CERT_FILE" ] || [ -z "$GATEWAY_TLS_KEY_FILE" ]; then
  echo '# TLS is off: set GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE' > "$GATEWAY_TLS_INCLUDE"
fi
# `--check`: render and validate only (scripts/test/gateway-config.test.ts runs it).
if [ "${1:-}" = --check ]; then
  exec nginx -t -p "$GATEWAY_RUN_DIR" -c "$GATEWAY_CONF_DIR/nginx.conf"
fi
exec nginx -p "$GATEWAY_RUN_DIR" -c "$GATEWAY_CONF_DIR/nginx.conf" -g 'daemon off;'
