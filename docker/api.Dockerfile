# API image: slim Python with the CPU build of PyTorch (the API embeds on CPU).
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 SSLPT_DATA_DIR=/data SSLPT_HOST=0.0.0.0
WORKDIR /app
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1
COPY pyproject.toml README.md ./
COPY api api
COPY worker worker
COPY ssl_engine ssl_engine
COPY migrations migrations
RUN pip install .
EXPOSE 8000
CMD ["sslpt", "api"]
