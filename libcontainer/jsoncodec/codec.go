// Package jsoncodec decodes and encodes the JSON documents every command
// touches (a bundle's config.json, the saved container config) with code
// generated for their types, instead of encoding/json's reflection.
//
// A command lives for a few milliseconds, so encoding/json builds its
// per-type tables (field lists, name indexes, encoders) from scratch
// every time: for the spec's and the config's type trees that was
// 0.7-1 ms of each create and exec. The generated code needs no tables.
//
// encoding/json stays the reference. The decoders here are strict
// (unknown or differently cased keys, anything encoding/json might read
// differently, are refused) and report only whether they succeeded; the
// callers then decode with encoding/json, whose result and error
// messages are the ones users see. So a document decodes to the same
// value either way, and only the common case is fast.
package jsoncodec

import (
	"encoding/json"

	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// DecodeSpec decodes config.json into s. false means it did not and s
// is unchanged: decode it with encoding/json instead.
func DecodeSpec(data []byte, s *specs.Spec) bool {
	var ls linuxSpec
	// A method value, not the Unmarshaler interface: the linker can then
	// drop linuxSpec's encoders, which nothing uses.
	if !decode(data, ls.UnmarshalEasyJSON) {
		return false
	}
	*s = specs.Spec{
		Version:     ls.Version,
		Process:     ls.Process,
		Root:        ls.Root,
		Hostname:    ls.Hostname,
		Domainname:  ls.Domainname,
		Mounts:      ls.Mounts,
		Hooks:       ls.Hooks,
		Annotations: ls.Annotations,
		Linux:       ls.Linux,
	}
	return true
}

// DecodeConfig decodes a saved config. false means it did not, and c
// may hold part of the document.
func DecodeConfig(data []byte, c *configs.Config) bool {
	return DecodeOwn(data, (*config)(c))
}

// EncodeConfig encodes c as encoding/json would (the same keys and
// values; map keys are not sorted).
func EncodeConfig(c *configs.Config) ([]byte, error) {
	return Encode((*config)(c))
}

// EncodeSeccomp encodes s as EncodeConfig does.
func EncodeSeccomp(s *specs.LinuxSeccomp) ([]byte, error) {
	return Encode((*seccomp)(s))
}

// Marshaler and Unmarshaler are what the generator gives a type (as in
// package easyjson, which is not imported: see types.go).
type Marshaler interface{ MarshalEasyJSON(*jwriter.Writer) }
type Unmarshaler interface{ UnmarshalEasyJSON(*jlexer.Lexer) }

// Encode encodes v with its generated encoder.
func Encode(v Marshaler) ([]byte, error) {
	var w jwriter.Writer
	v.MarshalEasyJSON(&w)
	return w.BuildBytes()
}

// DecodeOwn decodes data into v with its generated decoder (strict, as
// DecodeSpec; false as for DecodeConfig). It is for files skiff wrote
// itself (state.json, the saved config), so there is no validation
// pass: a file cut short or damaged does not need one (the lexer refuses
// it, and encoding/json then says what is wrong), and `list` would pay
// it for every container.
func DecodeOwn(data []byte, v Unmarshaler) bool {
	return lex(data, v.UnmarshalEasyJSON)
}

func decode(data []byte, unmarshal func(*jlexer.Lexer)) bool {
	// The generated lexer accepts some input that is not JSON (control
	// characters in strings, for one); encoding/json's validator is a
	// quick scan that allocates nothing.
	if !json.Valid(data) {
		return false
	}
	return lex(data, unmarshal)
}

func lex(data []byte, unmarshal func(*jlexer.Lexer)) bool {
	l := jlexer.Lexer{Data: data}
	unmarshal(&l)
	l.Consumed()
	return l.Error() == nil
}
