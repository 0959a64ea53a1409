# The reelgate worker image: the flow runs of a Kubernetes work pool (deploy/kubernetes) or any
# machine with a container runtime. It installs exactly as a fresh clone does: the repository is
# copied in and scripts/setup.sh (what `make setup` runs) installs the Debian packages and the
# pinned Python dependencies. Build:
#   docker build --build-arg BASE=cpu  -t reelgate-worker:cpu .
#   docker build --build-arg BASE=cuda -t reelgate-worker:cuda .
ARG BASE=cpu

# CPU: Debian bookworm with Python 3.11.
FROM python:3.11-slim-bookworm AS base-cpu

# CUDA: NVIDIA's runtime image (CUDA libraries; the node's driver comes in through the NVIDIA
# container toolkit) with Python 3.11 from the deadsnakes archive, as Ubuntu 22.04 ships 3.10.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04 AS base-cuda
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends software-properties-common gpg-agent \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv python3.11-dev \
 && rm -rf /var/lib/apt/lists/*

FROM base-${BASE}
ENV PYTHONUNBUFFERED=1 \
    DO_NOT_TRACK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    REELGATE_DATA_DIR=/data/reelgate
# A virtual environment on both bases: the same interpreter path, and no clash with the
# distribution's own Python packages. PYTHON tells scripts/setup.sh to install into it (in a
# checkout, the same script makes and fills .venv instead).
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHON=/opt/venv/bin/python
WORKDIR /opt/reelgate
COPY . .
# The browser-test packages are left out (REELGATE_SETUP_BROWSER=0): a worker never drives a browser.
RUN REELGATE_SETUP_BROWSER=0 bash scripts/setup.sh && rm -rf /root/.cache/pip /var/lib/apt/lists/*
# Flow runs run as an unprivileged user; the pod's fsGroup (10001) makes the data volume writable.
RUN groupadd --gid 10001 reelgate && useradd --uid 10001 --gid 10001 --create-home reelgate \
 && mkdir -p /data/reelgate && chown reelgate:reelgate /data/reelgate
USER 10001
CMD ["prefect", "worker", "start", "--pool", "reelgate", "--type", "process"]
