# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on a distroless, non-root base. The Go
# stage runs on the build machine's platform and cross-compiles for the
# target, so `docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7`
# needs no emulation. `make docker` passes the version build args; see the
# README's "Container image" section. (Releases use release.Dockerfile with
# the binaries goreleaser built.)
FROM --platform=$BUILDPLATFORM golang:1.26-trixie AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG TARGETVARIANT
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_DATE=unknown
# TARGETVARIANT is v7 for linux/arm/v7: GOARM wants the bare number.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} GOARM=${TARGETVARIANT#v} \
    go build -trimpath \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=${BRANCH} \
        -X github.com/prometheus/common/version.BuildUser=docker \
        -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
      -o /out/dasha_exporter .

# distroless/static has CA certificates (for https://blackbox.dasha.ai) and
# tzdata, no shell, and runs as nonroot (65532).
FROM gcr.io/distroless/static-debian13:nonroot
ARG VERSION=dev
ARG REVISION=unknown
# RFC 3339, as the OCI annotation wants (BUILD_DATE is the version package's format).
ARG CREATED=unknown
LABEL org.opencontainers.image.title="dasha_exporter" \
      org.opencontainers.image.description="Prometheus exporter for the SIP registrations of Dasha BlackBox phone numbers" \
      org.opencontainers.image.source="https://github.com/dasha-exporter/dasha_exporter" \
      org.opencontainers.image.url="https://github.com/dasha-exporter/dasha_exporter" \
      org.opencontainers.image.documentation="https://github.com/dasha-exporter/dasha_exporter#readme" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/dasha_exporter /bin/dasha_exporter
COPY LICENSE /LICENSE
USER 65532:65532
EXPOSE 9612
ENTRYPOINT ["/bin/dasha_exporter"]
