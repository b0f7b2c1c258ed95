# The bot as a container image: `docker build -t connect-bitbucket .`, then
# `docker run -p 3000:3000 --env-file .env connect-bitbucket` (or compose.yaml for the
# whole set). docs/operating.md says what the test suite verifies of it, and how.
#
# PYTHON_IMAGE is any Debian-based image with Python 3.11 or newer and its venv module:
# the official slim image by default; tests build one from Debian's own packages.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# Stage 1: build the wheel and install it with its dependencies into a virtualenv.
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml ./
COPY bot bot
COPY migrations migrations
RUN python3 -m venv /opt/bot \
    && /opt/bot/bin/pip install --no-cache-dir --quiet --upgrade pip \
    && /opt/bot/bin/pip wheel --no-cache-dir --quiet --no-deps --wheel-dir /wheels . \
    && /opt/bot/bin/pip install --no-cache-dir --quiet /wheels/*.whl

# Stage 2: only the virtualenv, on the same base; no source, no build tools, no pip cache.
FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/bot bot \
    && mkdir /data && chown bot:bot /data
COPY --from=build /opt/bot /opt/bot
ENV PATH=/opt/bot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    DATABASE_URL=sqlite:////data/bot.db
USER bot
WORKDIR /home/bot
VOLUME /data
EXPOSE 3000
# /healthz answers 200 while the database does; urllib keeps the image free of curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
# SIGTERM stops the bot cleanly within 10 s (it finishes the work in hand).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "serve"]
