package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// MaxSize is the largest file accepted. Protocols and rig configs are a few
// kilobytes; anything near this bound is not one.
const MaxSize = 1 << 20

// maxNodes bounds the tree size; with aliases refused the tree is exactly as
// large as the text, so this only stops pathological but small-looking input.
const maxNodes = 100_000

// Node is a YAML node with its position.
type Node = yaml.Node

// Pos is a position in a file, 1-based.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one mistake at one position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every mistake found in a file, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Err returns the list sorted by position as an error, or nil if it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return l
}

// Errors collects positioned errors for one file.
type Errors struct {
	File string
	List ErrorList
}

// At records an error at node n (or at the start of the file if n is nil).
func (e *Errors) At(n *Node, format string, args ...any) {
	e.List = append(e.List, &Error{Pos: e.Pos(n), Msg: fmt.Sprintf(format, args...)})
}

// Pos returns the position of n in this file.
func (e *Errors) Pos(n *Node) Pos {
	if n == nil {
		return Pos{File: e.File, Line: 1, Col: 1}
	}
	return Pos{File: e.File, Line: n.Line, Col: n.Column}
}

// Parse decodes one YAML document and returns its root node, which is never a
// document node. Errors carry the file name and, where the YAML parser says, a
// line. It never panics.
func Parse(file string, data []byte) (root *Node, err error) {
	at := func(line int, format string, args ...any) error {
		return ErrorList{{Pos: Pos{File: file, Line: line, Col: 1}, Msg: fmt.Sprintf(format, args...)}}
	}
	switch {
	case len(data) > MaxSize:
		return nil, at(0, "file is %d bytes, more than the %d a protocol or config may have", len(data), MaxSize)
	case len(bytes.TrimSpace(data)) == 0:
		return nil, at(1, "file is empty")
	case bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data):
		return nil, at(0, "file is not UTF-8 text (binary data?)")
	}
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, at(0, "YAML parser failed on this input: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc Node
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(file, err)
	}
	var extra Node
	if err := dec.Decode(&extra); err == nil {
		return nil, at(extra.Line, "a second YAML document starts here; one file holds one document")
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	root = &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	var list ErrorList
	count := 0
	var walk func(n *Node)
	walk = func(n *Node) {
		count++
		if count > maxNodes {
			return
		}
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			list = append(list, &Error{Pos: Pos{file, n.Line, n.Column}, Msg: "YAML anchors and aliases are not supported; write the value out"})
			return
		}
		if n.Tag != "" && !strings.HasPrefix(n.Tag, "!!") {
			list = append(list, &Error{Pos: Pos{file, n.Line, n.Column}, Msg: fmt.Sprintf("YAML tag %s is not supported", n.Tag)})
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	if count > maxNodes {
		return nil, at(0, "document has more than %d values", maxNodes)
	}
	if err := list.Err(); err != nil {
		return nil, err
	}
	return root, nil
}

// yamlError turns the YAML library's error ("yaml: line 3: ...") into a
// positioned error.
func yamlError(file string, err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if n, rest, ok := strings.Cut(msg, ": "); ok {
		if _, e := fmt.Sscanf(n, "line %d", &line); e == nil {
			msg = rest
		}
	}
	return ErrorList{{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "invalid YAML: " + msg}}
}

// KV is one key and value of a mapping, in file order.
type KV struct {
	Key   string
	KeyN  *Node
	Value *Node
}

// Mapping returns the pairs of mapping n in file order. It reports a node that
// is not a mapping, keys that are not plain strings, duplicate keys, and keys
// not in known (when known is non-nil), naming the closest known key. what
// names the mapping in messages ("step", "criterion"). ok is false when n is
// not a mapping; fewer pairs than n has mean some keys were refused.
func (e *Errors) Mapping(n *Node, what string, known []string) (kvs []KV, ok bool) {
	if n.Kind != yaml.MappingNode {
		e.At(n, "%s must be a mapping of key: value, got %s", what, Describe(n))
		return nil, false
	}
	seen := make(map[string]*Node, len(n.Content)/2)
	kvs = make([]KV, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			e.At(k, "%s keys must be plain names", what)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			e.At(k, "duplicate key %q in %s (first at line %d)", k.Value, what, prev.Line)
			continue
		}
		seen[k.Value] = k
		if known != nil && !contains(known, k.Value) {
			e.At(k, "unknown key %q in %s%s", k.Value, what, Suggest(k.Value, known))
			continue
		}
		kvs = append(kvs, KV{Key: k.Value, KeyN: k, Value: v})
	}
	return kvs, true
}

// Sequence returns the items of sequence n, reporting a node that is not one.
func (e *Errors) Sequence(n *Node, what string) ([]*Node, bool) {
	if n.Kind != yaml.SequenceNode {
		e.At(n, "%s must be a list, got %s", what, Describe(n))
		return nil, false
	}
	return n.Content, true
}

// Scalar returns the text of scalar n, reporting a node that is not one.
func (e *Errors) Scalar(n *Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		e.At(n, "%s must be a single value, got %s", what, Describe(n))
		return "", false
	}
	if n.Tag == "!!null" {
		e.At(n, "%s is empty", what)
		return "", false
	}
	return n.Value, true
}

// Describe names the kind of a node for messages.
func Describe(n *Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// IsMapping, IsSequence and IsScalar report the kind of n.
func IsMapping(n *Node) bool  { return n.Kind == yaml.MappingNode }
func IsSequence(n *Node) bool { return n.Kind == yaml.SequenceNode }
func IsScalar(n *Node) bool   { return n.Kind == yaml.ScalarNode }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Suggest returns "; did you mean X?" for the closest of candidates to s, or
// "; expected one of A, B, C" when none is close.
func Suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := distance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(1, len(s)/3) {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	if len(candidates) == 0 {
		return ""
	}
	return "; expected one of " + strings.Join(candidates, ", ")
}

// distance is the optimal-string-alignment edit distance (Levenshtein plus
// transpositions of adjacent letters, the commonest typing slip), for suggestions.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1) // transposition: "hodl" → "hold"
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Inside is scalar n with its column moved to byte offset off of its
// value, so that an error inside an expression points at its column: for
// a plain or quoted scalar on one line (quoted: past the quote, escapes
// aside). Other scalars keep their own position.
func Inside(n *Node, off int) *Node {
	if n == nil || strings.Contains(n.Value, "\n") || n.Style&^(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.FlowStyle) != 0 {
		return n
	}
	m := *n
	m.Column += utf8.RuneCountInString(n.Value[:min(max(off, 0), len(n.Value))])
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		m.Column++
	}
	return &m
}
