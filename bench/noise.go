package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// The bench machine may be shared (other builds and tests on the same two
// cores). Each row therefore also records how much CPU everything else used
// while it ran: the whole machine's busy time (/proc/stat) minus the
// server's and the bench's own. Rows with a high figure were measured on a
// busy machine; CPU/op is unaffected by it, sign-ins/s and p99 are not.

const clockTicksPerSecond = 100 // USER_HZ on Linux

// machineBusy is the CPU time all cores spent busy since boot (0 where
// /proc/stat is missing).
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, f := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicksPerSecond
}

// processCPU is the user+system CPU time of a process from /proc/<pid>/stat.
func processCPU(pid string) time.Duration {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the ")" that ends the command name: utime and stime are
	// the 12th and 13th.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicksPerSecond
}

// cpuSnapshot is the machine's, the bench's and the server's CPU time at
// one moment.
type cpuSnapshot struct {
	machine, self, server time.Duration
}

func takeSnapshot(serverCPU func() time.Duration) cpuSnapshot {
	s := cpuSnapshot{machine: machineBusy(), self: processCPU("self")}
	if serverCPU != nil {
		s.server = serverCPU()
	}
	return s
}

// processRSS is the resident memory of a process (VmRSS in
// /proc/<pid>/status), in bytes; 0 where there is no /proc.
func processRSS(pid string) int64 {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
