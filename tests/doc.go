// Package tests holds end-to-end and reliability suites that build and boot
// the real zapbase binary and talk HTTP and SQL to it.
//
// harness_test.go builds the binary once per test run (TestMain) and offers
// StartServe / StartDev to run it with its own database, capturing its logs
// (for secret-leak scans) and exposing its HTTP address.
package tests
