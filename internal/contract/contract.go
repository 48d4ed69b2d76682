// Package contract lists the metric names the outside contract fixes
// (docs: the README's Metrics section), for the tests that check the
// exporter, the dashboards and the alerts against it.
package contract

// Metrics are the contract's metric names, per-number families first.
var Metrics = []string{
	"dasha_sip_phone_number_info",
	"dasha_sip_registration_enabled",
	"dasha_sip_registration_state",
	"dasha_sip_registration_healthy",
	"dasha_sip_registration_error",
	"dasha_sip_registration_error_info",
	"dasha_sip_registration_sip_response_code",
	"dasha_sip_registration_expiry_seconds",
	"dasha_sip_registration_expires_timestamp_seconds",
	"dasha_sip_registration_last_updated_timestamp_seconds",
	"dasha_sip_phone_number_created_timestamp_seconds",
	"dasha_up",
	"dasha_sip_phone_numbers",
	"dasha_scrape_duration_seconds",
	"dasha_last_success_timestamp_seconds",
	"dasha_api_requests_total",
	"dasha_api_request_duration_seconds",
	"dasha_exporter_build_info",
}

// ConfigFileMetrics are the contract's metrics that only a configuration
// file (--config.file) exports.
var ConfigFileMetrics = []string{
	"dasha_exporter_config_last_reload_successful",
	"dasha_exporter_config_last_reload_success_timestamp_seconds",
}
