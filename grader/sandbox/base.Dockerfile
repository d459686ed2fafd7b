# The grader's base image: one Python, a venv at /opt/venv and the unprivileged `sandbox` user.
#
# BASE is python:X.Y-slim when a registry answers (`grader sandbox bootstrap`), or grader-rootfs:<suite>,
# a debootstrapped Debian carrying its own python3 + python3-venv (`grader sandbox bootstrap --offline`).
# Both provide `python3` with the venv module and `useradd`, so one Dockerfile serves both.
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG PYTHON=3.11
ARG VERSION=unknown

# Fail the build, not a grading later, when BASE carries another Python than the tag promises
# (for example a Debian suite that does not match the requested version).
RUN actual="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
 && if [ "$actual" != "$PYTHON" ]; then echo "base image has Python $actual, expected $PYTHON" >&2; exit 1; fi

# The venv holds everything a grading installs, so env images only ever add to /opt/venv.
# /app receives the submission (mounted read-only); /data is the only place the app may write.
# --no-log-init: a high uid would otherwise create a large sparse /var/log/lastlog in the layer.
RUN python3 -m venv /opt/venv \
 && groupadd --gid 10001 sandbox \
 && useradd --uid 10001 --gid 10001 --no-log-init --create-home --home-dir /home/sandbox \
        --shell /usr/sbin/nologin sandbox \
 && mkdir -p /app /data \
 && chown sandbox:sandbox /data \
 && chmod 0755 /app /data

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
LABEL grader.role=base grader.python=${PYTHON} grader.version=${VERSION}
