package connlimit

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/mdlayher/vsock"
	"github.com/prometheus/exporter-toolkit/web"
)

// ListenAndServe is exporter-toolkit's web.ListenAndServe with every
// listener wrapped by l: it listens where flags say (--web.listen-address,
// vsock:// addresses included, or --web.systemd-socket's activated
// sockets) and serves srv on them with web.ServeMultiple, which applies
// --web.config.file's TLS and authentication.
func (l *Limiter) ListenAndServe(srv *http.Server, flags *web.FlagConfig, logger *slog.Logger) error {
	listeners, err := Listen(flags, logger)
	if err != nil {
		return err
	}
	for i, ln := range listeners {
		listeners[i] = l.Listener(ln)
		defer listeners[i].Close()
	}
	logger.Info("Limiting HTTP connections", "max_connections", l.max, "read_header_timeout", ReadHeaderTimeout, "idle_timeout", IdleTimeout, "send_timeout", l.sendTimeout)
	return web.ServeMultiple(listeners, srv, flags, logger)
}

// Listen opens the listeners exporter-toolkit's ListenAndServe would.
func Listen(flags *web.FlagConfig, logger *slog.Logger) ([]net.Listener, error) {
	if flags == nil || flags.WebConfigFile == nil {
		return nil, web.ErrMissingFlag
	}
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		logger.Info("Listening on systemd activated listeners instead of port listeners.")
		listeners, err := activation.Listeners()
		if err != nil {
			return nil, err
		}
		if len(listeners) < 1 {
			return nil, errors.New("no socket activation file descriptors found")
		}
		return listeners, nil
	}
	if flags.WebListenAddresses == nil || len(*flags.WebListenAddresses) == 0 {
		return nil, web.ErrNoListeners
	}
	var listeners []net.Listener
	for _, address := range *flags.WebListenAddresses {
		ln, err := listen(address)
		if err != nil {
			for _, open := range listeners {
				open.Close()
			}
			return nil, err
		}
		listeners = append(listeners, ln)
	}
	return listeners, nil
}

func listen(address string) (net.Listener, error) {
	if !strings.HasPrefix(address, "vsock://") {
		return net.Listen("tcp", address)
	}
	uri, err := url.Parse(address)
	if err != nil {
		return nil, err
	}
	_, portStr, err := net.SplitHostPort(uri.Host)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("vsock port %q: %w", portStr, err)
	}
	return vsock.Listen(uint32(port), nil)
}
