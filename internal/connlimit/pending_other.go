//go:build !linux

package connlimit

import "net"

// pendingBytes cannot tell off Linux: an unread connection is then closed
// for room once it is UnreadGrace old, whatever it has sent.
func pendingBytes(net.Conn) (int, bool) { return 0, false }
