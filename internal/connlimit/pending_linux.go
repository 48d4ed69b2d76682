package connlimit

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// pendingBytes reports how many received bytes wait in the kernel for the
// server to read them (FIONREAD), and whether it could tell.
func pendingBytes(nc net.Conn) (int, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	n, ioctlErr := 0, error(nil)
	if err := raw.Control(func(fd uintptr) { n, ioctlErr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ioctlErr != nil {
		return 0, false
	}
	return n, true
}
