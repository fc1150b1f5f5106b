"""A real distributed run on one machine: Redis, PostgreSQL and Celery workers started for it
(`make demo-distributed`, and the distributed test in `make test-slow`)."""
