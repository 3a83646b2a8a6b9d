# syntax=docker/dockerfile:1
# One image for every Paysuite service; the command selects the service,
# e.g. `python -m ledger` or `python -m ledger migrate`.

ARG PYTHON_IMAGE=python:3.11-slim

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


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="paysuite" \
      org.opencontainers.image.description="Paysuite gRPC services: gateway, ledger, identity, recon"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN groupadd --system --gid 10001 paysuite \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin paysuite

# Same base image in both stages, so the venv's interpreter symlinks stay valid.
COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
USER 10001:10001

EXPOSE 50051 50052 50053 50054

# No default service: Kubernetes sets the command per Deployment.
CMD ["python", "-c", "print('usage: python -m {gateway|ledger|identity|recon} [migrate]')"]
