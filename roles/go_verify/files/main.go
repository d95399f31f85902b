// The program go_verify builds for each target: it names the platform it was built for (on
// stderr: println needs no package beyond the runtime, so a build on a slow, emulated host
// compiles as little as possible).
package main

import "runtime"

func main() {
	println("gofleet-verify", runtime.GOOS+"/"+runtime.GOARCH, runtime.Version())
}
