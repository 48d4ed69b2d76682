# Image of a release: goreleaser (.goreleaser.yaml, dockers) builds the
# binary for each platform and puts it and LICENSE in the build context; the
# labels come from its build flags. For a build from source use Dockerfile.
FROM gcr.io/distroless/static-debian13:nonroot
COPY dasha_exporter /bin/dasha_exporter
COPY LICENSE /LICENSE
USER 65532:65532
EXPOSE 9612
ENTRYPOINT ["/bin/dasha_exporter"]
