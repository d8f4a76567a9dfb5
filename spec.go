package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/specconv"
)

const specConfig = "config.json"

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "create a new specification file",
	Description: `The spec command creates the new specification file named "` + specConfig + `" for
the bundle.

The spec generated is just a starter file. Editing of the spec is required to
achieve desired results. For example, the newly generated spec includes an args
parameter that is initially set to call the "sh" command when the container is
started. Calling "sh" may work for an ubuntu container or busybox, but will not
work for containers that do not include the "sh" program.

To generate a spec for a container started without root on the host, pass
--rootless.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
		&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 0, exactArgs); err != nil {
			return err
		}
		spec := specconv.Example()
		if ctx.Bool("rootless") {
			specconv.ToRootless(spec)
		}
		data, err := json.MarshalIndent(spec, "", "\t")
		if err != nil {
			return err
		}
		bundle := ctx.String("bundle")
		if bundle != "" {
			if fi, err := os.Stat(bundle); err != nil {
				return err
			} else if !fi.IsDir() {
				return fmt.Errorf("bundle %s is not a directory", bundle)
			}
		}
		// O_EXCL: never overwrite a config.json, even one made meanwhile.
		f, err := os.OpenFile(filepath.Join(bundle, specConfig), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("File %s exists. Remove it first", specConfig)
		}
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	},
}
