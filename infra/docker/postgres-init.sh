#!/bin/sh
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d): one
# role per service, owning its own database and nothing else, with the password compose passes
# from the operator's environment. Later password changes: README, "Security".
set -eu

for service in payment user brain; do
  password_variable=$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD
  eval "password=\${$password_variable:?set $password_variable}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="meetmatt_$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
