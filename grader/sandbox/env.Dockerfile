# An environment image: the base image plus one set of requirements, installed offline from wheels the
# host already downloaded. The build runs with no network at all.
#
# Stage 0 installs into /opt/venv; stage 1 starts again from the base and copies only the finished venv,
# so the wheels never stay in a layer of the final image. Stage 0's images carry grader.stage=install
# so the grader can delete them right after the build.
#
# No `chmod -R` over the venv: pip writes every file under the umask (022 below: readable by all, the
# executable bit only where the wheel asks for it), and a recursive chmod copied each of the base venv's
# 1,500 files up into the install layer, which the commit and stage 1's COPY then wrote twice more
# (benchmarks/notes.md, "Environment build steps"). Changing this file's meaning: bump
# grader.cache.IMAGE_LAYOUT so images built the old way are not reused.
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
RUN umask 022 \
 && if [ -s /tmp/requirements.txt ]; then \
        /opt/venv/bin/python -m pip install --no-index --no-cache-dir --only-binary=:all: --no-deps \
            --find-links /tmp/wheels -r /tmp/requirements.txt; \
    fi

FROM ${BASE}
ARG ROLE=env
ARG KEY=unknown
ARG VERSION=unknown
# COPY adds to the base's /opt/venv and deletes nothing: when pip replaced a package the base venv has (pip,
# setuptools), the grader inserts `RUN rm -rf /opt/venv` here (grader.sandbox.images.environment), or the
# base's files of the old version would stay beside the new ones.
COPY --from=0 /opt/venv /opt/venv
LABEL grader.role=${ROLE} grader.key=${KEY} grader.version=${VERSION}
