# A service image (PostgreSQL or Redis) the grader starts beside the app, one per grading.
#
# BASE is the official image when a registry answers (postgres:15, redis:7), or grader-service-rootfs:<suite>,
# a debootstrapped Debian carrying Debian's own postgresql and redis-server packages (the offline path).
# Either way the grader runs it as uid 10001 on a read-only root with its data on a tmpfs, so the image only
# needs that user (initdb refuses a uid without a name) and the data directory's mount point.
ARG BASE=postgres:15
FROM ${BASE}

ARG KIND=postgres
ARG SERVICE_VERSION=15
ARG VERSION=unknown
ARG REVISION=0

# Fail the build, not a grading later, when BASE carries another major version than the tag promises.
RUN if [ "$KIND" = postgres ]; then \
      initdb="$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb | tail -n 1)"; \
      actual="$("$initdb" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"; \
    else \
      actual="$(redis-server --version | sed -E 's/.* v=([0-9]+).*/\1/')"; \
    fi \
 && if [ "$actual" != "${SERVICE_VERSION%%.*}" ]; then \
      echo "$BASE has $KIND $actual, expected $SERVICE_VERSION" >&2; exit 1; fi \
 && if ! grep -q '^[^:]*:[^:]*:10001:' /etc/passwd; then \
      echo 'sandbox:x:10001:10001:grader sandbox:/tmp:/usr/sbin/nologin' >> /etc/passwd; \
      grep -q '^[^:]*:[^:]*:10001:' /etc/group || echo 'sandbox:x:10001:' >> /etc/group; \
    fi \
 && mkdir -p /var/lib/grader && chown 10001:10001 /var/lib/grader

# The official images' entrypoints set up a server as root; the grader runs its own start script instead.
ENTRYPOINT []
CMD []
LABEL grader.role=service grader.service=${KIND} grader.service-version=${SERVICE_VERSION} \
      grader.service-revision=${REVISION} grader.version=${VERSION}
