// Package testtool finds the external programs some tests drive (Chromium,
// xmllint, qpdf, pdftotext), which scripts/test-deps.sh installs from
// Debian's packages.
//
// # Imports
//
// None of the project. It is for tests: only _test.go files import it,
// never product code.
package testtool
