// Package influxtest runs a private InfluxDB 1.8 server for tests and
// benchmarks, so that the InfluxDB sink is tested against the real write and
// query paths (v2 write API, InfluxQL, Flux) rather than a fake.
//
// The server is the influxd binary that `make influxd` builds into
// .cache/bin (InfluxDB 1.8.10 OSS, from the Go module proxy; see
// REFERENCE.md, "InfluxDB server"), or the one $MOCKLOOP_INFLUXD names. Each
// Start makes a fresh server in a temporary directory, listening on
// loopback only, with the database "mockloop" created; it is stopped when
// the test ends. When the binary is missing a test is skipped, except under
// CI (the CI environment variable set), where it fails: CI must not go
// green by skipping the tests that matter.
//
// # Imports
//
// None of the project. It is for tests: only _test.go files import it,
// never product code.
package influxtest
