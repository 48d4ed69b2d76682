{{- define "dasha-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dasha-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dasha-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dasha-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dasha-exporter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dasha-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dasha-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dasha-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The accounts' config file (contract "Several accounts"): the chart's
own fields existingSecret/secretKey become api_key_file; the rest is
passed through. */}}
{{- define "dasha-exporter.accountsConfig" -}}
{{- $accounts := dict }}
{{- range $name, $acct := .Values.accounts }}
{{- $a := omit $acct "existingSecret" "secretKey" }}
{{- if $acct.existingSecret }}
{{- $_ := set $a "api_key_file" (printf "/etc/dasha_exporter/keys/%s/%s" $name (default "api-key" $acct.secretKey)) }}
{{- end }}
{{- $_ := set $accounts $name $a }}
{{- end }}
{{- dict "accounts" $accounts | toYaml }}
{{- end }}

{{- define "dasha-exporter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default (printf "v%s" .Chart.AppVersion) .Values.image.tag) }}
{{- end }}
