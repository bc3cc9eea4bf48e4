# zapbase container image: a static binary on distroless (no shell, no
# package manager), running as the nonroot user (uid 65532).
#
#   docker build -t zapbase .
#   docker run --rm -p 8080:8080 --env-file .env zapbase          # serve
#   docker run --rm --env-file .env zapbase doctor                 # pre-flight checks
#
# tests/ops_build_test.go runs the same `go build` line as the build stage
# (it reads it from this file), so the two cannot drift.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/zapbase ./cmd/zapbase

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/zapbase /zapbase
USER nonroot:nonroot
ENV ZAPBASE_HTTP_ADDR=:8080
EXPOSE 8080
# distroless has no curl: the binary probes its own readiness endpoint.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/zapbase", "doctor", "--ready-url", "http://127.0.0.1:8080/readyz"]
# SIGTERM starts the graceful drain (ZAPBASE_SHUTDOWN_TIMEOUT, default 25s):
# give the container more than that before SIGKILL (docker stop -t 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/zapbase"]
CMD ["serve"]
