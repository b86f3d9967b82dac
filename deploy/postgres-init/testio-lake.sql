-- Run by the postgres image when its volume is first created: the DuckLake's catalog gets a
-- database of its own beside Dagster's (deploy/docker-compose.lake.yaml).
CREATE DATABASE testio_lake OWNER dagster;
