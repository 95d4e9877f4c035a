# syntax=docker/dockerfile:1
# One image for every evmon service (Evidently UI, scheduler, bridge, Streamlit app); the
# command picks the service: `evmon ui`, `evmon scheduler`, `evmon bridge`, `evmon app`, ...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DO_NOT_TRACK=1

WORKDIR /app

# the dependencies first (a layer that changes only with pyproject.toml), then the code
COPY pyproject.toml README.md ./
# (the one `evmon` package: evmon/ and the fronts mapped into it, see pyproject's package-dir)
RUN mkdir -p evmon/evidently scheduler bridge streamlit_app grafana \
    && touch evmon/__init__.py evmon/evidently/__init__.py scheduler/__init__.py bridge/__init__.py \
        streamlit_app/__init__.py grafana/__init__.py \
    && pip install '.[dask,s3]' \
    && pip uninstall -y evmon \
    && rm -rf evmon scheduler bridge streamlit_app grafana build ./*.egg-info

COPY evmon ./evmon
COPY scheduler ./scheduler
COPY bridge ./bridge
COPY streamlit_app ./streamlit_app
COPY grafana ./grafana
RUN pip install --no-deps '.[dask,s3]' && rm -rf build ./*.egg-info

# /data (one volume) holds projects.yaml (mount yours at /data/projects.yaml), the data it points
# at, the workspace, its staging folder (atomic renames need one file system), the archive and
# the quarantine of unreadable snapshot files
RUN useradd --create-home --uid 1000 evmon && mkdir -p /data && chown evmon:evmon /data
USER evmon
ENV EVMON_CONFIG=/data/projects.yaml \
    EVMON_WORKSPACE=/data/workspace \
    EVMON_STAGING=/data/.staging \
    EVMON_ARCHIVE=/data/.archive \
    EVMON_QUARANTINE=/data/.quarantine
WORKDIR /data

EXPOSE 8000 8501
ENTRYPOINT ["evmon"]
CMD ["--help"]
