#!/bin/sh
# The broker container's entry point (docker-compose `rabbitmq`): starts RabbitMQ, then makes
# the operators' user and one user per service from passwords compose passes from the
# operator's environment, and removes guest. A service's user may write only to its own
# exchange and queues, and bind a queue to an event type only on the exchange of the service
# that owns the type: the same permissions `npm start` gives (scripts/src/lib/service-accounts.ts;
# scripts/test/compose.test.ts checks they agree). The health check waits for the ready file.
set -eu

: "${RABBITMQ_ADMIN_PASSWORD:?set RABBITMQ_ADMIN_PASSWORD}"
: "${PAYMENT_RABBITMQ_PASSWORD:?set PAYMENT_RABBITMQ_PASSWORD}"
: "${USER_RABBITMQ_PASSWORD:?set USER_RABBITMQ_PASSWORD}"
: "${BRAIN_RABBITMQ_PASSWORD:?set BRAIN_RABBITMQ_PASSWORD}"
READY=/tmp/meetmatt-accounts-ready
rm -f "$READY"

docker-entrypoint.sh rabbitmq-server &
server=$!
trap 'kill -TERM "$server"; wait "$server"' TERM INT

until rabbitmq-diagnostics -q check_running >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || exit 1
  sleep 1
done

# user password: passwords go through stdin, never on a command line.
account() {
  if ! printf '%s\n' "$2" | rabbitmqctl add_user "$1" >/dev/null 2>&1; then
    printf '%s\n' "$2" | rabbitmqctl change_password "$1" >/dev/null
  fi
}

account meetmatt-admin "$RABBITMQ_ADMIN_PASSWORD"
rabbitmqctl set_user_tags meetmatt-admin administrator >/dev/null
rabbitmqctl set_permissions -p / meetmatt-admin '.*' '.*' '.*' >/dev/null

account payment-service "$PAYMENT_RABBITMQ_PASSWORD"
rabbitmqctl set_permissions -p / payment-service '^(payment\-service\..*|payment\.events|user\.events|brain\.events)$' '^(payment\-service\..*|payment\.events)$' '^(payment\-service\..*|payment\.events|user\.events|brain\.events)$' >/dev/null
rabbitmqctl set_topic_permissions -p / payment-service payment.events '^payment\.' '^payment\.' >/dev/null
rabbitmqctl set_topic_permissions -p / payment-service user.events '^$' '^user\.' >/dev/null
rabbitmqctl set_topic_permissions -p / payment-service brain.events '^$' '^agent\.' >/dev/null

account user-service "$USER_RABBITMQ_PASSWORD"
rabbitmqctl set_permissions -p / user-service '^(user\-service\..*|payment\.events|user\.events|brain\.events)$' '^(user\-service\..*|user\.events)$' '^(user\-service\..*|payment\.events|user\.events|brain\.events)$' >/dev/null
rabbitmqctl set_topic_permissions -p / user-service payment.events '^$' '^payment\.' >/dev/null
rabbitmqctl set_topic_permissions -p / user-service user.events '^user\.' '^user\.' >/dev/null
rabbitmqctl set_topic_permissions -p / user-service brain.events '^$' '^agent\.' >/dev/null

account brain-service "$BRAIN_RABBITMQ_PASSWORD"
rabbitmqctl set_permissions -p / brain-service '^(brain\-service\..*|payment\.events|user\.events|brain\.events)$' '^(brain\-service\..*|brain\.events)$' '^(brain\-service\..*|payment\.events|user\.events|brain\.events)$' >/dev/null
rabbitmqctl set_topic_permissions -p / brain-service payment.events '^$' '^payment\.' >/dev/null
rabbitmqctl set_topic_permissions -p / brain-service user.events '^$' '^user\.' >/dev/null
rabbitmqctl set_topic_permissions -p / brain-service brain.events '^agent\.' '^agent\.' >/dev/null

rabbitmqctl delete_user guest >/dev/null 2>&1 || true
touch "$READY"
wait "$server"
