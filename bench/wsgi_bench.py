"""gunicorn entry for bench/http_holds.py: the production app (settings from the environment,
DATABASE_URL and SECRET_KEY included) with CSRF checks off, so load clients need not scrape
tokens. Never used outside the benchmarks.

    DATABASE_URL=postgresql://... SECRET_KEY=bench .venv/bin/gunicorn -w 2 --threads 16 \
        -b 127.0.0.1:PORT bench.wsgi_bench:app
"""

from booking import create_app

app = create_app({"WTF_CSRF_ENABLED": False})
