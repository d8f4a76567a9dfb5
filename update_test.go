package main

import "testing"

func TestRAMInBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"512": 512, "64m": 64 << 20, "64M": 64 << 20, "1g": 1 << 30, "1GiB": 1 << 30, "1.5k": 1536,
		"100 kb": 100 << 10, "2t": 2 << 40, "1p": 1 << 50, "7b": 7,
	} {
		if got, err := ramInBytes(in); err != nil || got != want {
			t.Errorf("ramInBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "-5", "1x", "1.2.3m", "m", "1 m b"} {
		if _, err := ramInBytes(in); err == nil || err.Error() != "invalid size: '"+in+"'" {
			t.Errorf("ramInBytes(%q): %v", in, err)
		}
	}
}
