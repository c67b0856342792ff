package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// module is the import path of the module whose map this is.
const module = "github.com/mockloop/mockloop"

// rule is one package's place in the map.
type rule struct {
	// may are the project packages (module-relative) its non-test code may
	// import. What is not listed is forbidden.
	may []string
}

// packageMap is the package map: every package of the module and what it
// may import, from the bottom up. Keep it in step with README.md,
// "Architecture", and with each package's doc.go.
var packageMap = map[string]rule{
	// Leaves: they import nothing of the project.
	"clock":               {},
	"units":               {},
	"configs":             {},
	"configs/grafana":     {}, // data: dashboards; its tests run their queries
	"live":                {},
	"internal/crc16":      {},
	"internal/strictyaml": {},
	"internal/durable":    {},
	"internal/termtext":   {},
	"internal/flock":      {},
	// Test-only helpers: imported by _test.go files, never by product code.
	"internal/golden":     {},
	"internal/influxtest": {},
	"internal/frametest":  {may: []string{"daq"}},
	"internal/testtool":   {},
	"internal/schematest": {},
	"internal/benchtest":  {},
	"internal/arch":       {},

	// Acquisition, actuation and their drivers. Drivers know their
	// interface package, never sim: the emulators serve them on periph's
	// bus interfaces.
	"daq": {may: []string{"units"}},
	// The closed-loop targets act on beats (daq) with units.
	"pumpctl":         {may: []string{"daq", "units"}},
	"daq/ads1115":     {may: []string{"daq"}},
	"daq/ads131m08":   {may: []string{"clock", "daq", "internal/crc16"}},
	"pumpctl/mcp4725": {may: []string{"pumpctl"}},
	// The simulated bench emulates chips at the bus level; it knows no
	// driver and no interface package.
	"sim": {may: []string{"clock", "internal/crc16"}},

	// The device under test and its simulation.
	"dut":        {may: []string{"clock", "internal/crc16"}},
	"dut/dutsim": {may: []string{"clock", "dut"}},
	// A device's profile: data (configs) decoded with positions.
	"dut/profile": {may: []string{"configs", "dut", "internal/strictyaml", "units"}},

	// The protocol language knows no hardware.
	"protocols": {may: []string{"internal/strictyaml", "units"}},

	// The bench's lock and control socket: one bench, one controller.
	"bench": {may: []string{"internal/flock"}},

	// The run record: what the engine writes and everything else reads.
	// It never imports rig, reports or influx: they build on it.
	"runlog": {may: []string{"clock", "daq", "internal/durable", "internal/flock", "units"}},
	// People's signing keys and the keyring of trusted ones; the
	// signatures themselves are the record's (runlog).
	"signing": {may: []string{"internal/durable", "runlog"}},
	// The InfluxDB sink, spool, replay and sync, split from runlog.
	"influx": {may: []string{"clock", "daq", "internal/durable", "runlog", "units"}},

	// Judging a criterion: one home for the engine and the reports, which
	// judge again from the record's frames and protocol copy.
	"verdict": {may: []string{"daq", "internal/strictyaml", "protocols", "runlog", "units"}},

	// Reports are made from the record (or from InfluxDB) alone; verdict
	// judges the record's criteria again from its protocol copy.
	"reports": {may: []string{"influx", "internal/flock", "internal/termtext", "runlog", "verdict"}},

	// The rig: config, plant on the buses, the run engine.
	"rig": {may: []string{
		"bench", "clock", "daq", "daq/ads1115", "daq/ads131m08", "dut", "dut/dutsim", "dut/profile",
		"influx", "internal/strictyaml", "internal/termtext", "protocols", "pumpctl",
		"pumpctl/mcp4725", "runlog", "sim", "units", "verdict",
	}},

	// The simulator's credibility report: its cases run through the rig;
	// its PDF is made with the reports' machinery.
	"fidelity": {may: []string{"protocols", "pumpctl", "reports", "rig", "runlog", "sim"}},

	// The bench view and the command on top.
	"serve": {may: []string{"bench", "influx", "internal/durable", "live", "protocols", "reports", "rig", "runlog", "units"}},
	// The client of a rig's serve (run|runs|report --remote): it decodes
	// serve's queue entry and checks its certificate's fingerprint as serve
	// prints it.
	"remote": {may: []string{"internal/termtext", "runlog", "serve", "units"}},
	"cmd/mockloop": {may: []string{
		"bench", "clock", "configs", "daq", "dut/dutsim", "fidelity", "influx", "internal/termtext", "protocols",
		"remote", "reports", "rig", "runlog", "serve", "signing", "units",
	}},
}

// pkg is what the test reads of one package directory.
type pkg struct {
	imports map[string][]string // project import → files importing it
	doc     bool                // doc.go exists and carries the package comment
	comment []string            // other non-test files with a package comment
}

// root is the module's directory: the nearest parent with a go.mod.
func root(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// packages parses every non-test Go file under dir, whatever its build
// constraints, and returns the packages by module-relative path. Hidden
// directories, testdata and directories whose names start with _ hold no
// packages, as for the go command.
func packages(t *testing.T, dir string) map[string]*pkg {
	t.Helper()
	fset := token.NewFileSet()
	pkgs := map[string]*pkg{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != dir && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, filepath.Dir(path))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		p := pkgs[rel]
		if p == nil {
			p = &pkg{imports: map[string][]string{}}
			pkgs[rel] = p
		}
		switch {
		case name == "doc.go":
			p.doc = f.Doc != nil
		case f.Doc != nil:
			p.comment = append(p.comment, name)
		}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if ip == module || strings.HasPrefix(ip, module+"/") {
				ip = strings.TrimPrefix(strings.TrimPrefix(ip, module), "/")
				p.imports[ip] = append(p.imports[ip], name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestImports holds every package to the imports the map allows it.
func TestImports(t *testing.T) {
	pkgs := packages(t, root(t))
	for _, path := range sortedKeys(pkgs) {
		r, ok := packageMap[path]
		if !ok {
			t.Errorf("package %s is not in the package map: add it to packageMap in internal/arch/arch_test.go with the project packages it may import, and to README.md, \"Architecture\"", path)
			continue
		}
		p := pkgs[path]
		for _, imp := range sortedKeys(p.imports) {
			if !slices.Contains(r.may, imp) {
				t.Errorf("%s imports %s (%s), which the package map does not allow; it may import only %v", path, imp, strings.Join(p.imports[imp], ", "), r.may)
			}
		}
	}
	for _, path := range sortedKeys(packageMap) {
		if _, ok := pkgs[path]; !ok {
			t.Errorf("package map lists %s, which does not exist: remove it", path)
		}
		for _, imp := range packageMap[path].may {
			if _, ok := packageMap[imp]; !ok {
				t.Errorf("package map: %s may import %s, which the map does not list", path, imp)
			}
		}
	}
}

// TestDocs checks that every package says what it is in doc.go, and only
// there, and that the README's map names it.
func TestDocs(t *testing.T) {
	dir := root(t)
	pkgs := packages(t, dir)
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, arch, ok := strings.Cut(string(readme), "\n## Architecture\n")
	if !ok {
		t.Fatal(`README.md has no "## Architecture" section`)
	}
	if end := strings.Index(arch, "\n## "); end >= 0 {
		arch = arch[:end]
	}
	for _, path := range sortedKeys(pkgs) {
		p := pkgs[path]
		if !p.doc {
			t.Errorf("%s has no doc.go with its package comment (its job, and which project packages it may import)", path)
		}
		if len(p.comment) > 0 {
			t.Errorf("%s: package comment outside doc.go, in %s: keep it in doc.go only", path, strings.Join(p.comment, ", "))
		}
		if !strings.Contains(arch, "`"+path+"`") {
			t.Errorf("README.md, \"Architecture\", does not name `%s`", path)
		}
	}
	arrows := readmeArrows(arch)
	for _, path := range sortedKeys(packageMap) {
		want := slices.Sorted(slices.Values(packageMap[path].may))
		if got := arrows[path]; !slices.Equal(got, want) {
			t.Errorf("README.md, \"Architecture\": %s → %v, but the package map says %v", path, got, want)
		}
	}
	for _, path := range sortedKeys(arrows) {
		if _, ok := packageMap[path]; !ok {
			t.Errorf("README.md, \"Architecture\", has arrows from %s, which the package map does not list", path)
		}
	}
}

// readmeArrows reads the import arrows of the README's architecture
// section: lines "pkg → a, b," in a fenced block, where a line starting
// with blanks continues the one before. The imports come back sorted.
func readmeArrows(arch string) map[string][]string {
	arrows := map[string][]string{}
	var from string
	for line := range strings.Lines(arch) {
		line = strings.TrimRight(line, "\n")
		to := ""
		switch {
		case strings.Contains(line, "→"):
			var head string
			head, to, _ = strings.Cut(line, "→")
			from = strings.TrimSpace(head)
		case from != "" && strings.HasPrefix(line, " "):
			to = line
		default:
			from = ""
			continue
		}
		for imp := range strings.SplitSeq(to, ",") {
			if imp = strings.TrimSpace(imp); imp != "" {
				arrows[from] = append(arrows[from], imp)
			}
		}
	}
	for _, to := range arrows {
		slices.Sort(to)
	}
	return arrows
}
