// Package specconv turns an OCI bundle's config.json into a validated
// configs.Config, and provides the default spec that `skiff spec` writes.
//
// Every error about the user's input names the config.json field it is
// about, so that a bad bundle can be fixed without reading skiff's code.
package specconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/jsoncodec"
	"github.com/skiff-runtime/skiff/libcontainer/sysfile"
)

// FieldError is a problem with one field of config.json.
type FieldError struct {
	Field string // e.g. "linux.namespaces[2].type"
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrInvalidID is what runc reports, word for word, for a bad container ID.
var ErrInvalidID = errors.New("invalid container ID format")

// maxIDLen keeps IDs usable as a single path component of the state root.
const maxIDLen = 1024

// ValidateID checks a container ID the way runc does: 1 to 1024 of
// [A-Za-z0-9_+.-], and not "." or "..", so that the ID is always one
// plain directory name under the state root.
func ValidateID(id string) error {
	if id == "" || len(id) > maxIDLen || id == "." || id == ".." {
		return ErrInvalidID
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '+', c == '.', c == '-':
		default:
			return ErrInvalidID
		}
	}
	return nil
}

// LoadSpec reads and decodes <bundle>/config.json. It does not validate
// the contents; ToConfig does.
func LoadSpec(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	data, err := sysfile.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config.json: missing from bundle: %w", err)
		}
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return DecodeSpec(data)
}

// DecodeSpec decodes config.json contents, locating any error by line
// and column since a byte offset alone is hard to find in an editor.
func DecodeSpec(data []byte) (*specs.Spec, error) {
	var spec specs.Spec
	if jsoncodec.DecodeSpec(data, &spec) {
		return &spec, nil
	}
	// encoding/json is the reference: what the fast decoder refuses is
	// decoded (or refused, with a position) here.
	err := json.Unmarshal(data, &spec)
	if err == nil {
		return &spec, nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off, line, col := position(data, syn.Offset)
		return nil, fmt.Errorf("config.json: invalid JSON at line %d, column %d (byte %d): %w", line, col, off, err)
	case errors.As(err, &typ):
		off, line, col := position(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return nil, fmt.Errorf("config.json: line %d, column %d (byte %d): %s: cannot use a JSON %s as %s", line, col, off, field, typ.Value, typ.Type)
	}
	return nil, fmt.Errorf("config.json: %w", err)
}

// position turns encoding/json's offset, which counts the bytes read
// up to and including the offending one, into that byte's 0-based offset
// and its 1-based line and column.
func position(data []byte, read int64) (off int64, line, col int) {
	off = min(max(read-1, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return off, line, col
}
