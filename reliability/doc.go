// Package reliability holds the suites that drive the real pocketguest
// binary as a child process: the sign-in load test (10,000 sign-ins from 64
// clients) and the crash harness (SIGKILL at random points, restart on the
// same pb_data, check the invariants). See RELIABILITY.md.
//
// The in-process suites live next to the code they test: the concurrent
// conversion mix and the endpoint/cookie fuzz targets in anonauth/
// (reliability_race_test.go, fuzz_*_test.go), the template router fuzz
// targets and the runaway template tests in jsvm/ (fuzz_*_test.go).
//
// Environment:
//
//	POCKETGUEST_RELIABILITY_BIN    use this binary instead of `go build`
//	POCKETGUEST_RELIABILITY_KILLS  crash iterations (default 15)
//	POCKETGUEST_RELIABILITY_SEED   random seed of the crash harness
//	POCKETGUEST_RELIABILITY_SIGNINS  sign-ins of the load test (default 10000)
package reliability
