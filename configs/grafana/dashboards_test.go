package grafana

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// dashboardFiles are the dashboards that ship.
var dashboardFiles = []string{"dashboards/fleet.json", "dashboards/run.json"}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []annotation `json:"list"`
	} `json:"annotations"`
}

type panel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Targets         []target         `json:"targets"`
	Panels          []panel          `json:"panels"` // a collapsed row's
	FieldConfig     fieldConfig      `json:"fieldConfig"`
	Transformations []transformation `json:"transformations"`
}

type target struct {
	RefID        string `json:"refId"`
	RawQuery     bool   `json:"rawQuery"`
	Query        string `json:"query"`
	ResultFormat string `json:"resultFormat"`
	Alias        string `json:"alias"`
}

type fieldConfig struct {
	Overrides []struct {
		Matcher struct {
			ID      string `json:"id"`
			Options string `json:"options"`
		} `json:"matcher"`
	} `json:"overrides"`
}

type transformation struct {
	ID      string `json:"id"`
	Options struct {
		// extractFields
		Source    string `json:"source"`
		Format    string `json:"format"`
		JSONPaths []struct {
			Path  string `json:"path"`
			Alias string `json:"alias"`
		} `json:"jsonPaths"`
		// organize
		IndexByName   map[string]int    `json:"indexByName"`
		RenameByName  map[string]string `json:"renameByName"`
		ExcludeByName map[string]bool   `json:"excludeByName"`
		// sortBy
		Sort []struct {
			Field string `json:"field"`
		} `json:"sort"`
	} `json:"options"`
}

type variable struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Query any    `json:"query"` // a string for these; Grafana also writes objects
}

type annotation struct {
	Name   string `json:"name"`
	Query  string `json:"query"`
	Target struct {
		Query string `json:"query"`
	} `json:"target"`
	TextColumn string `json:"textColumn"`
	TagsColumn string `json:"tagsColumn"`
}

// loadDashboard reads and decodes a dashboard, strictly enough to notice
// a typo in the keys the tests rely on.
func loadDashboard(t *testing.T, file string) (dashboard, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: not valid JSON: %v", file, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return d, raw
}

// allPanels are the dashboard's panels, those in collapsed rows included.
func (d dashboard) allPanels() []panel {
	var ps []panel
	for _, p := range d.Panels {
		ps = append(ps, p)
		ps = append(ps, p.Panels...)
	}
	return ps
}

// The datasource is the variable ${datasource} everywhere, so that the
// dashboards import into any Grafana whatever its InfluxDB is called.
var datasourceRef = regexp.MustCompile(`^\$\{?datasource\}?$`)

// TestDashboardsWellFormed: the dashboards are valid JSON for Grafana ≥ 10
// (schemaVersion set), their datasource is a variable of type datasource
// for InfluxDB and no datasource uid is hard-coded anywhere, panel ids are
// unique, every panel but a row has an InfluxQL query, and rig and run_id
// are template variables from SHOW TAG VALUES.
func TestDashboardsWellFormed(t *testing.T) {
	uids := map[string]bool{}
	for _, file := range dashboardFiles {
		d, raw := loadDashboard(t, file)
		if d.SchemaVersion < 36 { // Grafana 9.x wrote 36-37; 10.x 38-39
			t.Errorf("%s: schemaVersion %d, want that of Grafana ≥ 10", file, d.SchemaVersion)
		}
		if d.UID == "" || uids[d.UID] {
			t.Errorf("%s: uid %q missing or used twice", file, d.UID)
		}
		uids[d.UID] = true
		vars := map[string]variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		if v := vars["datasource"]; v.Type != "datasource" || v.Query != "influxdb" {
			t.Errorf("%s: no variable datasource of type datasource for influxdb: %+v", file, v)
		}
		for _, name := range []string{"rig", map[string]string{"dashboards/run.json": "run_id"}[file]} {
			q, _ := vars[name].Query.(string)
			if name != "" && (vars[name].Type != "query" || !strings.HasPrefix(q, "SHOW TAG VALUES")) {
				t.Errorf("%s: variable %s is not a SHOW TAG VALUES query: %+v", file, name, vars[name])
			}
		}
		checkDatasources(t, file, "", raw)
		ids := map[int]string{}
		for _, p := range d.allPanels() {
			if prev, ok := ids[p.ID]; ok || p.ID == 0 {
				t.Errorf("%s: panel %q has id %d, as %q", file, p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.Type == "row" {
				continue
			}
			if p.Title == "" || len(p.Targets) == 0 {
				t.Errorf("%s: panel %d %q has no title or no query", file, p.ID, p.Title)
			}
			for _, tg := range p.Targets {
				if !tg.RawQuery || !strings.HasPrefix(tg.Query, "SELECT ") {
					t.Errorf("%s: panel %q: query %s %q is not raw InfluxQL", file, p.Title, tg.RefID, tg.Query)
				}
			}
		}
	}
}

// checkDatasources walks the JSON: every "datasource" is the variable,
// and no other uid names a datasource.
func checkDatasources(t *testing.T, file, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := path + "." + k
			if k == "datasource" {
				switch ds := e.(type) {
				case string:
					if !datasourceRef.MatchString(ds) {
						t.Errorf("%s: %s = %q, want the variable ${datasource}", file, p, ds)
					}
				case map[string]any:
					if uid, _ := ds["uid"].(string); !datasourceRef.MatchString(uid) || ds["type"] != "influxdb" {
						t.Errorf("%s: %s = %v, want {type: influxdb, uid: ${datasource}}", file, p, ds)
					}
					continue
				default:
					t.Errorf("%s: %s = %v", file, p, ds)
				}
			}
			checkDatasources(t, file, p, e)
		}
	case []any:
		for i, e := range x {
			checkDatasources(t, file, path+"["+strconv.Itoa(i)+"]", e)
		}
	}
}

// TestProvisioningFiles: the provisioning files point Grafana at the
// dashboards' directory and at InfluxDB 1.8 with InfluxQL.
func TestProvisioningFiles(t *testing.T) {
	for file, want := range map[string][]string{
		"provisioning/dashboards.yaml":  {"apiVersion: 1", "providers:", "type: file", "path:"},
		"provisioning/datasources.yaml": {"apiVersion: 1", "type: influxdb", "url: $INFLUX_URL", "dbName: mockloop", "DBRP", "InfluxQL"},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s does not say %q", file, w)
			}
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil || doc["apiVersion"] != 1 {
			t.Errorf("%s: not YAML with apiVersion 1: %v", file, err)
		}
	}
}
