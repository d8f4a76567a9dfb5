package main

import (
	"slices"
	"testing"
)

func TestPsArgs(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, []string{"-ef"}},
		{[]string{"--"}, []string{"-ef"}},
		{[]string{"--", "-o", "pid"}, []string{"-o", "pid"}},
		{[]string{"aux"}, []string{"aux"}},
		{[]string{"-x", "--"}, []string{"-x", "--"}},
	} {
		if got := psArgs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("psArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
