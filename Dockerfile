# syntax=docker/dockerfile:1
# Plinto production image: ASGI web (gunicorn + uvicorn workers) by default; the same image runs the
# Celery worker and beat with another command (see docker-compose.yml and docs/operations.md).

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a virtualenv with exactly the locked production dependencies --------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.lock

# --- final: the virtualenv and the source, nothing else ----------------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=plinto.settings.production

RUN groupadd --gid 10001 plinto \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin plinto

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY . .

# Static files are collected into the image (served by WhiteNoise). Production settings refuse to
# load without their secrets, so this one step gets throwaway values; they are not kept in the image.
RUN DJANGO_SECRET_KEY=collectstatic-build-only-not-a-secret \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build@localhost:5432/build \
    REDIS_URL=redis://localhost:6379/0 \
    FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput --verbosity 0

# Source and static files stay owned by root: the application user can read but not change them.
USER plinto
EXPOSE 8000

# No curl in the slim image. Django answers 400 to a Host outside ALLOWED_HOSTS, so the probe sends
# the first DJANGO_ALLOWED_HOSTS entry as Host (a leading "." wildcard is stripped).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; h = os.environ.get('DJANGO_ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.'); h = h if h and h != '*' else 'localhost'; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/health/live', headers={'Host': h}), timeout=4)"]

# `exec` makes gunicorn PID 1, so `docker stop` (SIGTERM) reaches it. Workers: WEB_CONCURRENCY, default 2.
CMD ["sh", "-c", "exec gunicorn plinto.asgi:application -k uvicorn.workers.UvicornWorker --bind 0.0.0.0:8000 --workers \"${WEB_CONCURRENCY:-2}\""]
