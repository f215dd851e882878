package replicas

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Percentile is the p-th percentile of ds (sorted in place).
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sortDurations(ds)
	i := int(float64(len(ds)-1) * p)
	return ds[i]
}

func sortDurations(ds []time.Duration) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j] < ds[j-1]; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// TCPPeers is the remote ports of the TCP connections the process opened
// (neither listeners nor connections accepted on its own port served),
// read from /proc: the sockets it owns (/proc/<pid>/fd) matched with the
// kernel's table of TCP sockets.
func TCPPeers(pid, served int) ([]int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var peers []int
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] || f[3] == "0A" { // 0A: listening
				continue
			}
			_, port, ok := strings.Cut(f[2], ":")
			_, local, ok2 := strings.Cut(f[1], ":")
			if !ok || !ok2 {
				continue
			}
			if l, err := strconv.ParseInt(local, 16, 32); err == nil && int(l) == served {
				continue
			}
			p, err := strconv.ParseInt(port, 16, 32)
			if err == nil {
				peers = append(peers, int(p))
			}
		}
	}
	return peers, nil
}
