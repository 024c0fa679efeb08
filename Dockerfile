# syntax=docker/dockerfile:1
# One bundled Space as a container, laid out like the Hub's Docker Spaces (user 1000, port 7860). The build
# context is only dist/spaces/ (.dockerignore), so run the pipeline first:
#
#   dvc repro                                                  # writes dist/spaces/<space>/
#   docker build --build-arg SPACE=emotion -t spacesuite-emotion .
#   docker run --rm -p 127.0.0.1:7860:7860 spacesuite-emotion  # or: SPACE=emotion docker compose up --build
#
# The page, TF Serving's REST API (/v1/models/<model>) and Prometheus metrics (/metrics/) share port 7860.
# Traffic logs go to /home/user/traffic (a volume in compose.yaml); SPACESUITE_TRAFFIC_REPO and HF_TOKEN, when
# given at run time, push them to a Hub dataset. The Python tag is pinned: bump it on purpose.
FROM python:3.11.14-slim-bookworm

# Which bundle to run: sign-language, bird-species, keras-basics, emotion or gender.
ARG SPACE=sign-language

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_DISABLE_TELEMETRY=1 \
    SPACESUITE_TRAFFIC_DIR=/home/user/traffic

# The Hub runs Docker Spaces as uid 1000. The app's folder is named after the Space (the app names its traffic
# log after its folder) and owned by the user (Gradio writes .gradio/ there); the traffic folder exists, owned by
# the user, before a volume is mounted there, so a new named volume starts with the same owner.
RUN useradd --create-home --uid 1000 --user-group user \
    && mkdir -p "/home/user/app/${SPACE}" /home/user/traffic \
    && chown -R user:user /home/user
WORKDIR /home/user/app/${SPACE}

# Dependencies first (the bundle's pinned requirements.txt), so a model change does not reinstall them; they go
# to the system site-packages, owned by root: the app cannot modify its own packages.
COPY --chown=user:user dist/spaces/${SPACE}/requirements.txt ./requirements.txt
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=user:user dist/spaces/${SPACE}/ ./

EXPOSE 7860
USER user

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/metrics/' % os.environ.get('GRADIO_SERVER_PORT', '7860'), timeout=4)"]

CMD ["python", "app.py"]
