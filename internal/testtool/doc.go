// Package testtool finds the external programs some tests drive (Chromium,
// xmllint, qpdf, pdftotext), which scripts/test-deps.sh installs from
// Debian's packages, and holds the checks of a self-contained HTML page in
// headless Chromium that the V&V report's and the fidelity report's tests
// share (console errors, network requests, references outside the page).
//
// # Imports
//
// None of the project. It is for tests: only _test.go files import it,
// never product code.
package testtool
