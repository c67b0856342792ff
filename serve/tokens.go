package serve

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// maxTokenFile bounds a token file read: a few hundred CI jobs' tokens.
const maxTokenFile = 1 << 20

// ReadTokens reads a token file (ParseTokens).
func ReadTokens(path string) ([]Token, error) {
	b, err := runlog.ReadFile(path, maxTokenFile)
	if err != nil {
		return nil, err
	}
	return ParseTokens(path, b)
}

// ParseTokens parses a token file: one token a line, "NAME ROLE SECRET"
// separated by blanks (NAME as a user's, ROLE operator, reviewer or admin,
// SECRET at least MinTokenLen characters, `mockloop serve --new-token`
// prints one); blank lines and lines starting with # aside. Each CI job
// gets its own, and the runs it starts and stops name it. Errors say
// name:line:col.
func ParseTokens(name string, b []byte) ([]Token, error) {
	var out []Token
	seen := map[string]bool{}
	for i, line := range bytes.Split(b, []byte("\n")) {
		text := strings.TrimRight(string(line), "\r")
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		fields := strings.Fields(text)
		col := func(k int) int { // the column of field k, from 1
			at := 0
			for j := 0; j <= k && j < len(fields); j++ {
				at += strings.Index(text[at:], fields[j])
				if j < k {
					at += len(fields[j])
				}
			}
			return at + 1
		}
		where := func(k int) string { return fmt.Sprintf("%s:%d:%d", name, i+1, col(k)) }
		switch {
		case len(fields) != 3:
			return nil, fmt.Errorf("%s: want NAME ROLE SECRET, got %d fields", where(0), len(fields))
		case !validName.MatchString(fields[0]):
			return nil, fmt.Errorf("%s: name %q: 1 to 64 letters, digits, . _ @ -", where(0), fields[0])
		case seen[fields[0]]:
			return nil, fmt.Errorf("%s: token %s appears twice", where(0), fields[0])
		case !slices.Contains(Roles, fields[1]):
			return nil, fmt.Errorf("%s: role %q: one of %s", where(1), fields[1], strings.Join(Roles, ", "))
		}
		if err := CheckToken(fields[2]); err != nil {
			return nil, fmt.Errorf("%s: token %s %w", where(2), fields[0], err)
		}
		seen[fields[0]] = true
		out = append(out, Token{Name: fields[0], Role: fields[1], Secret: fields[2]})
	}
	return out, nil
}
