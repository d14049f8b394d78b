package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
)

// DefaultStateFile is where `vecro deploy` saves its Deployment unless told
// otherwise, relative to the working directory.
const DefaultStateFile = ".vecro/state.json"

// stateMode keeps the state file private: it holds every agent's token.
const stateMode = 0o600

// Save writes d to path as JSON with mode 0600, creating the directory
// (0700) if needed. The file is written beside its final name and renamed
// into place, so a reader never sees half a file.
func Save(path string, d *Deployment) error {
	if d == nil {
		return fmt.Errorf("save state file %s: no deployment", path)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("save state file %s: %w", path, err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save state file %s: %w", path, err)
	}
	// CreateTemp makes the file 0600 from the start, so the tokens are never
	// readable by others, not even between create and chmod.
	f, err := os.CreateTemp(dir, ".state-*.json")
	if err != nil {
		return fmt.Errorf("save state file %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("save state file %s: %w", path, err)
	}
	if err := f.Chmod(stateMode); err != nil {
		f.Close()
		return fmt.Errorf("save state file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save state file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save state file %s: %w", path, err)
	}
	return nil
}

// Load reads a state file written by Save. It refuses a file that others
// can read or write, as ssh does with a key, because it holds agent tokens.
// Whether the deployment is still running is a separate question: see
// OwnerAlive.
func Load(path string) (*Deployment, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read state file %s: no such file: is a system deployed (`vecro deploy SYSTEM.yaml`), or is it in another directory (--state)?", path)
		}
		return nil, fmt.Errorf("read state file %s: %w", path, err)
	}
	if goruntime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read state file %s: mode %04o lets others read it, and it holds agent tokens: run `chmod 600 %s`", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read state file %s: %w", path, err)
	}
	var d Deployment
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("read state file %s: %w", path, err)
	}
	if d.Runtime == "" || d.System == "" {
		return nil, fmt.Errorf("read state file %s: not a deployment (no runtime or system)", path)
	}
	for i, s := range d.Services {
		if s.Name == "" {
			return nil, fmt.Errorf("read state file %s: service %d has no name", path, i)
		}
	}
	return &d, nil
}

// OwnerAlive reports whether the process that saved the deployment (PID) is
// still running on this machine. A deployment without a PID counts as alive:
// its runtime does not tie it to a process.
func (d *Deployment) OwnerAlive() bool {
	if d.PID <= 0 {
		return true
	}
	return processAlive(d.PID)
}
