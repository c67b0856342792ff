// Package grafana holds mockloop's Grafana dashboards (dashboards/*.json)
// and their provisioning files: data, no code. Its tests run every query
// of the dashboards against a real InfluxDB 1.8 after a real run on the
// simulated rig, so that a change to the schema of the points (package
// influx, the Measurement constants) that breaks a panel fails the suite.
// See README.md here for how to install them.
package grafana
