package jsoncodec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// fill sets every field reachable from v to a value that is not zero
// (skipping interfaces), so that a field the generated code lacks shows
// as an unknown key or as a difference.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", *n%7) + "\"\\<&\u00e9")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n%100) - 50)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n%200) + 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), n)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			e := reflect.New(v.Type().Elem()).Elem()
			fill(k, n)
			fill(e, n)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	}
}

func fullSpec() *specs.Spec {
	var s specs.Spec
	n := 0
	fill(reflect.ValueOf(&s).Elem(), &n)
	s.Solaris, s.Windows, s.VM, s.ZOS, s.FreeBSD = nil, nil, nil, nil, nil
	return &s
}

func TestDecodeSpecMatchesEncodingJSON(t *testing.T) {
	docs := map[string]*specs.Spec{
		"every linux field": fullSpec(),
		"empty":             {},
		"minimal":           {Version: "1.3.0", Root: &specs.Root{Path: "rootfs"}, Process: &specs.Process{Args: []string{"sh"}, Cwd: "/"}},
	}
	for name, want := range docs {
		data, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var fast, std specs.Spec
		if !DecodeSpec(data, &fast) {
			t.Fatalf("%s: the fast decoder refused a document encoding/json wrote:\n%s", name, data)
		}
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Errorf("%s: fast and encoding/json decode differently:\n%+v\n%+v", name, fast, std)
		}
	}
}

// What encoding/json reads in its own way, or refuses, the fast decoder
// must refuse so that the caller uses encoding/json.
func TestDecodeSpecRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown key":         `{"ociVersion":"1.3.0","foo":1}`,
		"unknown nested key":  `{"ociVersion":"1.3.0","process":{"args":["sh"],"bar":true}}`,
		"key in another case": `{"OCIVersion":"1.3.0"}`,
		"other platform":      `{"ociVersion":"1.3.0","windows":{"layerFolders":["c:"]}}`,
		"invalid":             `{"ociVersion":"1.3.0",}`,
		"trailing data":       `{"ociVersion":"1.3.0"} {}`,
		"control character":   "{\"ociVersion\":\"1.3\x01\"}",
		"wrong type":          `{"ociVersion":1}`,
		"overflow":            `{"process":{"user":{"uid":4294967296}}}`,
		"fraction":            `{"process":{"user":{"uid":1.5}}}`,
		"number as string":    `{"process":{"user":{"uid":"1"}}}`,
	} {
		var s specs.Spec
		if DecodeSpec([]byte(doc), &s) {
			t.Errorf("%s: the fast decoder accepted %s", name, doc)
		}
	}
}

// linuxSpec must have every field of specs.Spec but the other platforms'.
func TestLinuxSpecFields(t *testing.T) {
	otherPlatforms := map[string]bool{"Solaris": true, "Windows": true, "VM": true, "ZOS": true, "FreeBSD": true}
	lt := reflect.TypeOf(linuxSpec{})
	st := reflect.TypeOf(specs.Spec{})
	for i := range st.NumField() {
		f := st.Field(i)
		if otherPlatforms[f.Name] {
			continue
		}
		lf, ok := lt.FieldByName(f.Name)
		if !ok || lf.Type != f.Type || lf.Tag.Get("json") != f.Tag.Get("json") {
			t.Errorf("specs.Spec.%s (%s `json:%q`) is not in linuxSpec as it is: add it, copy it in DecodeSpec and run make generate", f.Name, f.Type, f.Tag.Get("json"))
		}
	}
	if lt.NumField() != st.NumField()-len(otherPlatforms) {
		t.Errorf("linuxSpec has %d fields, specs.Spec %d of which %d are other platforms'", lt.NumField(), st.NumField(), len(otherPlatforms))
	}
}

func TestConfigRoundTrip(t *testing.T) {
	var full configs.Config
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	full.Spec = nil // not saved
	for name, c := range map[string]*configs.Config{"every field": &full, "empty": {}} {
		data, err := EncodeConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		var std, fast configs.Config
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("%s: encoding/json cannot read the fast encoding: %v", name, err)
		}
		if !reflect.DeepEqual(&std, c) {
			t.Errorf("%s: encoding/json reads back something else:\n%+v\n%+v", name, std, *c)
		}
		// And what encoding/json writes (an older skiff's state) the fast
		// decoder reads the same.
		stdData, _ := json.Marshal(c)
		if !DecodeConfig(stdData, &fast) {
			t.Fatalf("%s: the fast decoder refused encoding/json's encoding", name)
		}
		if !reflect.DeepEqual(&fast, c) {
			t.Errorf("%s: the fast decoder reads back something else:\n%+v\n%+v", name, fast, *c)
		}
	}
}

func TestEncodeSeccompMatchesEncodingJSON(t *testing.T) {
	var s specs.LinuxSeccomp
	n := 0
	fill(reflect.ValueOf(&s).Elem(), &n)
	fast, err := EncodeSeccomp(&s)
	if err != nil {
		t.Fatal(err)
	}
	var back specs.LinuxSeccomp
	if err := json.Unmarshal(fast, &back); err != nil || !reflect.DeepEqual(&back, &s) {
		t.Errorf("encoding/json reads back something else (%v):\n%+v\n%+v", err, back, s)
	}
}
