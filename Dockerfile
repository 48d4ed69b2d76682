# Multi-stage build: a static binary on a distroless, non-root base.
#   docker build -t dasha_exporter --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) --build-arg BUILD_DATE=$(date -u +%Y%m%d-%H:%M:%S) .
#   docker run -p 9612:9612 -e DASHA_API_KEY dasha_exporter
#   docker run -p 9612:9612 dasha_exporter --demo
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
ARG BUILD_DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=docker \
        -X github.com/prometheus/common/version.BuildUser=docker \
        -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
      -o /out/dasha_exporter .

# distroless/static has CA certificates (for https://blackbox.dasha.ai) and
# tzdata, no shell, and runs as nonroot (65532) by default.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dasha_exporter /bin/dasha_exporter
USER 65532:65532
EXPOSE 9612
ENTRYPOINT ["/bin/dasha_exporter"]
