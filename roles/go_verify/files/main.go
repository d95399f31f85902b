// The program go_verify cross-compiles: it names the platform it was built for.
package main

import (
	"os"
	"runtime"
)

func main() {
	os.Stdout.WriteString("gofleet-verify " + runtime.GOOS + "/" + runtime.GOARCH + " " + runtime.Version() + "\n")
}
