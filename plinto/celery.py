import os

from celery import Celery

# Like asgi.py and wsgi.py: production unless told otherwise (`make run` / manage.py say local).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plinto.settings.production")

app = Celery("plinto")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
