// Package nsenter holds skiff's C stage. Importing it (for its side
// effect) installs a constructor that runs before the Go runtime: when
// the binary is started as "skiff init <fd>", the constructor carries
// out the init plan read from <fd> and never returns to Go.
package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2
#cgo LDFLAGS: -Wl,--wrap=mmap
*/
import "C"
