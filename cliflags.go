package main

import "github.com/urfave/cli/v2"

// urfave/cli v2 asks every flag for its Names() once for every flag of
// the command when it runs flag actions and checks required flags and
// IsSet (runFlagActions, lookupFlag): a number of calls that grows with
// the square of the flags, and each runs a regexp (cli.FlagNames). For
// exec, with some 20 flags, that was ~0.2 ms of CPU on every call. The
// flag types below are the library's own, embedded, with Names()
// answered from the first answer; everything else (parsing, help,
// completion) is the embedded flag's.

type boolFlag struct {
	*cli.BoolFlag
	names []string
}

func (f *boolFlag) Names() []string { return cachedNames(&f.names, f.BoolFlag) }

type stringFlag struct {
	*cli.StringFlag
	names []string
}

func (f *stringFlag) Names() []string { return cachedNames(&f.names, f.StringFlag) }

type stringSliceFlag struct {
	*cli.StringSliceFlag
	names []string
}

func (f *stringSliceFlag) Names() []string { return cachedNames(&f.names, f.StringSliceFlag) }

type intFlag struct {
	*cli.IntFlag
	names []string
}

func (f *intFlag) Names() []string { return cachedNames(&f.names, f.IntFlag) }

type uintFlag struct {
	*cli.UintFlag
	names []string
}

func (f *uintFlag) Names() []string { return cachedNames(&f.names, f.UintFlag) }

type int64SliceFlag struct {
	*cli.Int64SliceFlag
	names []string
}

func (f *int64SliceFlag) Names() []string { return cachedNames(&f.names, f.Int64SliceFlag) }

type durationFlag struct {
	*cli.DurationFlag
	names []string
}

func (f *durationFlag) Names() []string { return cachedNames(&f.names, f.DurationFlag) }

func cachedNames(cache *[]string, f cli.Flag) []string {
	if *cache == nil {
		*cache = f.Names()
	}
	return *cache
}

// withCachedNames wraps the flags of app and of every command in it, and
// the help and version flags the library adds to them.
func withCachedNames(app *cli.App) {
	app.Flags = cachedFlags(app.Flags)
	cli.HelpFlag = cachedFlags([]cli.Flag{cli.HelpFlag})[0]
	cli.VersionFlag = cachedFlags([]cli.Flag{cli.VersionFlag})[0]
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.Flags = cachedFlags(c.Flags)
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

func cachedFlags(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		switch t := f.(type) {
		case *cli.BoolFlag:
			out[i] = &boolFlag{BoolFlag: t}
		case *cli.StringFlag:
			out[i] = &stringFlag{StringFlag: t}
		case *cli.StringSliceFlag:
			out[i] = &stringSliceFlag{StringSliceFlag: t}
		case *cli.IntFlag:
			out[i] = &intFlag{IntFlag: t}
		case *cli.UintFlag:
			out[i] = &uintFlag{UintFlag: t}
		case *cli.Int64SliceFlag:
			out[i] = &int64SliceFlag{Int64SliceFlag: t}
		case *cli.DurationFlag:
			out[i] = &durationFlag{DurationFlag: t}
		default:
			out[i] = f
		}
	}
	return out
}
