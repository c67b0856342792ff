// Package termtext makes text from outside the program safe to print on a
// terminal: protocol names and messages, a record's step names and abort
// reasons, a device's alarm text, error messages that quote them. A BEL
// rings, an ESC starts a sequence that can clear the screen, retitle the
// window or rewrite a line already printed (a PASS where a FAIL stood), so
// every control character is shown escaped, as Go writes it in a string
// literal (\a, \x1b, \u0085), and the rest of the text is left as it is.
//
// # Imports
//
// None of the project. rig (the progress line), reports (the run summary)
// and cmd/mockloop (errors, the runs list) import it.
package termtext
