module github.com/dasha-exporter/dasha_exporter

go 1.26.8
