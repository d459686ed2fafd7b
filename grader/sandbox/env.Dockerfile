# An environment image: the base image plus one set of requirements, installed offline from wheels the
# host already downloaded. The build runs with no network at all.
#
# Stage 0 installs into /opt/venv; stage 1 starts again from the base and copies only the finished venv,
# so the wheels never stay in a layer of the final image. Stage 0's images carry grader.stage=install
# so the grader can delete them right after the build.
ARG BASE
FROM ${BASE}
ARG KEY=unknown
LABEL grader.stage=install grader.build-key=${KEY}
USER root
COPY wheels/ /tmp/wheels/
COPY requirements.txt /tmp/requirements.txt
# --only-binary: never run a package's setup.py (the requirements come from the candidate).
# --no-deps: requirements.txt holds the whole resolution (exact pins, see grader.resolve), nothing more.
# An empty requirements.txt is valid: the image is then the base venv alone.
RUN if [ -s /tmp/requirements.txt ]; then \
        /opt/venv/bin/python -m pip install --no-index --no-cache-dir --only-binary=:all: --no-deps \
            --find-links /tmp/wheels -r /tmp/requirements.txt; \
    fi \
 && chmod -R a+rX /opt/venv

FROM ${BASE}
ARG ROLE=env
ARG KEY=unknown
ARG VERSION=unknown
COPY --from=0 /opt/venv /opt/venv
LABEL grader.role=${ROLE} grader.key=${KEY} grader.version=${VERSION}
