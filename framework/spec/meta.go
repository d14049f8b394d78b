package spec

import "strings"

// fileMeta remembers where each field of a decoded file was, so that
// validation after decoding can still name lines.
type fileMeta struct {
	// lines maps a field path ("services[3].calls[1]") to the line of its value.
	lines map[string]int
	// bad holds paths that already have a decoding error (or are missing), so
	// validation does not report them a second time as zero values.
	bad map[string]bool
	// written maps a canonical path to the spelling used in the file, where
	// an alias was used ("workload.mem").
	written map[string]string
}

// line returns the line of path or, when the field is absent, of its
// nearest present ancestor.
func (m *fileMeta) line(path string) int {
	if m == nil {
		return 0
	}
	for {
		if l, ok := m.lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// isBad reports whether path or one of its ancestors failed to decode.
func (m *fileMeta) isBad(path string) bool {
	if m == nil {
		return false
	}
	for {
		if m.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// present reports whether the file set path explicitly.
func (m *fileMeta) present(path string) bool {
	if m == nil {
		return false
	}
	_, ok := m.lines[path]
	return ok
}

// display returns path as the file spelled it.
func (m *fileMeta) display(path string) string {
	if m == nil {
		return path
	}
	if w, ok := m.written[path]; ok {
		return w
	}
	return path
}

// parentPath drops the last element of a field path: "a.b[2]" → "a.b",
// "a.b" → "a", "a" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}
