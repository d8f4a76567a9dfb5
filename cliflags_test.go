package main

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// The wrapped flags parse, answer IsSet for any of their names and print
// the same help as the library's own.
func TestCachedFlagsBehaveAsTheLibrarys(t *testing.T) {
	newApp := func(got map[string]any) *cli.App {
		return &cli.App{
			Name:                      "t",
			DisableSliceFlagSeparator: true,
			Flags:                     []cli.Flag{&cli.BoolFlag{Name: "debug"}},
			Commands: []*cli.Command{{
				Name: "cmd",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "a bool"},
					&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Value: "root", Usage: "a string"},
					&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "a list"},
					&cli.IntFlag{Name: "n", Value: 3},
					&cli.UintFlag{Name: "m"},
					&cli.Int64SliceFlag{Name: "g"},
					&cli.DurationFlag{Name: "d"},
				},
				Action: func(ctx *cli.Context) error {
					got["tty"] = ctx.Bool("tty")
					got["t set"] = ctx.IsSet("t")
					got["user"] = ctx.String("u")
					got["user set"] = ctx.IsSet("user")
					got["env"] = ctx.StringSlice("env")
					got["n"] = ctx.Int("n")
					got["g"] = ctx.Int64Slice("g")
					got["d"] = ctx.Duration("d")
					got["debug"] = ctx.Bool("debug")
					return nil
				},
			}},
		}
	}
	args := []string{"t", "--debug", "cmd", "-t", "-e", "A=1,2", "-e", "B=3", "--n", "5", "--g", "7", "-d", "2s", "arg"}
	want := map[string]any{}
	if err := newApp(want).Run(args); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	app := newApp(got)
	withCachedNames(app)
	if err := app.Run(args); err != nil {
		t.Fatal(err)
	}
	for k, w := range want {
		if g := got[k]; !equalAny(g, w) {
			t.Errorf("%s: got %v, want %v (the library's)", k, g, w)
		}
	}
	if got["env"].([]string)[0] != "A=1,2" || got["d"] != 2*time.Second || got["user"] != "root" || got["t set"] != true {
		t.Errorf("parsed %v", got)
	}
	// (Run appended its help flag to the command's.)
	for i, f := range app.Commands[0].Flags[:7] {
		if _, wrapped := f.(*cli.BoolFlag); wrapped {
			t.Errorf("flag %d was not wrapped", i)
		}
		if names := f.Names(); !slices.Equal(names, newApp(nil).Commands[0].Flags[i].Names()) {
			t.Errorf("flag %d: names %v", i, names)
		}
	}

	help := func(wrap bool) string {
		a := newApp(map[string]any{})
		if wrap {
			withCachedNames(a)
		}
		var out bytes.Buffer
		a.Writer = &out
		if err := a.Run([]string{"t", "cmd", "--help"}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if a, b := help(false), help(true); a != b {
		t.Errorf("help differs:\n%s\nwrapped:\n%s", a, b)
	}
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case []string:
		return slices.Equal(x, b.([]string))
	case []int64:
		return slices.Equal(x, b.([]int64))
	}
	return a == b
}
