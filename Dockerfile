# cspark-impex in a container: built on Debian 12, run with runtime packages
# only (no compiler, no -dev packages). From the repository root:
#   docker build --target runtime -t cspark-impex .
# (runtime runs as an unprivileged user; the last stage, which GitHub builds
# for the Action in action.yml, runs as root as GitHub requires of Docker
# actions, to write to the runner's workspace. It lives at the root because
# the runner builds an action's image with the Dockerfile's folder as the
# context, and the build needs the whole tree.)
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      meson ninja-build g++ pkg-config libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
      libssl-dev zlib1g-dev libcli11-dev && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cd /src && meson setup /build -Dbuildtype=release -Dtests=disabled -Dbenchmarks=disabled \
      --prefix=/opt/cspark && ninja -C /build src/cli/cspark-impex src/emulator/cspark-emulator && \
    install -D -m 755 /build/src/cli/cspark-impex /opt/cspark/bin/cspark-impex && \
    install -D -m 755 /build/src/emulator/cspark-emulator /opt/cspark/bin/cspark-emulator

FROM debian:12-slim AS runtime
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libboost-json1.81.0 libboost-url1.81.0 libssl3 zlib1g ca-certificates jq && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/cspark/bin/ /usr/local/bin/
# The GitHub Action's entrypoint (action.yml): INPUT_* to one command.
COPY deploy/action-entrypoint /usr/local/bin/cspark-action
RUN useradd --system --uid 10001 cspark
USER 10001
ENTRYPOINT ["cspark-impex"]
CMD ["--help"]

FROM runtime AS action
USER root
ENTRYPOINT ["/usr/local/bin/cspark-action"]
CMD []
