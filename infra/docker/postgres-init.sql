-- One database per service, as `npm start` makes them locally.
CREATE DATABASE meetmatt_payment;
CREATE DATABASE meetmatt_user;
CREATE DATABASE meetmatt_brain;
