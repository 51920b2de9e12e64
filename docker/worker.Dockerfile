# GPU worker image: the CUDA build of PyTorch on NVIDIA's runtime base.
FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 SSLPT_DATA_DIR=/data PIP_BREAK_SYSTEM_PACKAGES=1
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN pip3 install torch==2.14.1 torchvision==0.29.1
COPY pyproject.toml README.md ./
COPY api api
COPY worker worker
COPY ssl_engine ssl_engine
COPY migrations migrations
RUN pip3 install .
CMD ["sslpt", "worker"]
