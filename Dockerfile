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
# an empty package for each of pyproject's packages, so that this layer installs the dependencies alone
RUN python - <<'PY'
import pathlib, tomllib
settings = tomllib.load(open("pyproject.toml", "rb"))["tool"]["setuptools"]
mapping = settings["package-dir"]
for package in settings["packages"]:
    top = max((name for name in mapping if (package + ".").startswith(name + ".")), key=len)
    folder = pathlib.Path(mapping[top], *package.split(".")[len(top.split(".")):])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").touch()
PY
RUN pip install '.[dask,s3,online,explain]' \
    && pip uninstall -y evmon \
    && rm -rf evmon scheduler bridge streamlit_app grafana build ./*.egg-info

COPY evmon ./evmon
COPY scheduler ./scheduler
COPY bridge ./bridge
COPY streamlit_app ./streamlit_app
COPY grafana ./grafana
RUN pip install --no-deps '.[dask,s3,online,explain]' && rm -rf build ./*.egg-info

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
