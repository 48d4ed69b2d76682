# Image of a release: goreleaser (.goreleaser.yaml, dockers_v2) builds the
# binary for each platform and puts it at $TARGETPLATFORM/dasha_exporter in
# the build context, with LICENSE; the OCI labels come from its config. For a
# build from source use Dockerfile.
FROM gcr.io/distroless/static-debian13:nonroot
ARG TARGETPLATFORM
COPY $TARGETPLATFORM/dasha_exporter /bin/dasha_exporter
COPY LICENSE /LICENSE
USER 65532:65532
EXPOSE 9612
ENTRYPOINT ["/bin/dasha_exporter"]
