package profile

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mockloop/mockloop/configs"
	"github.com/mockloop/mockloop/internal/strictyaml"
)

// shippedDir is where configs.FS holds the shipped profiles.
const shippedDir = "duts"

// Default is the profile of a rig config that names none: the device the
// simulated DUT has always been.
const Default = "impella-2.5"

// IsName reports whether ref names a shipped profile (impella-cp) rather
// than a file: it has no path separator and no .yaml suffix.
func IsName(ref string) bool {
	return ref != "" && !strings.ContainsRune(ref, '/') && !strings.HasSuffix(ref, ".yaml")
}

// Shipped lists the names of the profiles built into the binary, sorted.
func Shipped() []string {
	files, _ := fs.Glob(configs.FS, shippedDir+"/*.yaml")
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".yaml")
	}
	sort.Strings(names)
	return names
}

// Load reads profile ref: a shipped profile by name (IsName), or a file,
// relative to dir when its path is relative. The file is read with
// strictyaml's bounds (a regular file of at most strictyaml.MaxSize).
func Load(ref, dir string) (*Profile, error) {
	if IsName(ref) {
		data, err := strictyaml.ReadFS(configs.FS, shippedDir+"/"+ref+".yaml")
		if err != nil {
			return nil, fmt.Errorf("no shipped DUT profile %q%s (shipped: %s)", ref, strictyaml.Suggest(ref, Shipped()), strings.Join(Shipped(), ", "))
		}
		p, err := Parse("configs/duts/"+ref+".yaml (embedded)", data)
		if p != nil {
			p.Name = ref
		}
		return p, err
	}
	if !filepath.IsAbs(ref) {
		ref = filepath.Join(dir, ref)
	}
	data, err := strictyaml.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("DUT profile: %w", err)
	}
	return Parse(ref, data)
}
