package connlimit

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

// Under --web.systemd-socket the activated socket is served, and limited:
// with room for one connection, an idle one is closed for a new request.
// The server runs in a child process, as systemd would start it: the
// socket as fd 3, LISTEN_PID and LISTEN_FDS naming it.
func TestSystemdSocketIsServedAndLimited(t *testing.T) {
	if os.Getenv("CONNLIMIT_SYSTEMD_CHILD") == "1" {
		serveActivatedSocket()
		return
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to set LISTEN_PID to the server's own pid")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // the child holds the socket now
	child := exec.Command("sh", "-c", `export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" -test.run='^TestSystemdSocketIsServedAndLimited$'`, os.Args[0])
	child.Env = append(os.Environ(), "CONNLIMIT_SYSTEMD_CHILD=1")
	child.ExtraFiles = []*os.File{f}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })

	ts := &testServer{t: t, addr: ln.Addr().String()}
	idle := ts.dial()
	if got := idle.get("/ok"); got != "ok" {
		t.Fatalf("the activated socket answered %q", got)
	}
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := fresh.Get("http://" + ts.addr + "/ok")
	if err != nil {
		t.Fatalf("a new request with an idle connection at the limit: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("got %q", body)
	}
	if !idle.closedByServer(5 * time.Second) {
		t.Error("the idle connection was not closed to make room on the activated socket")
	}
}

func serveActivatedSocket() {
	yes, none, noFile := true, []string{}, ""
	lim := New(1, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	flags := &web.FlagConfig{WebSystemdSocket: &yes, WebListenAddresses: &none, WebConfigFile: &noFile}
	err := lim.ListenAndServe(lim.Server(mux), flags, slog.New(slog.DiscardHandler))
	os.Stderr.WriteString("serving the activated socket: " + err.Error() + "\n")
	os.Exit(1)
}

func TestListenNeedsAnAddressOrASocket(t *testing.T) {
	no, noFile := false, ""
	if _, err := Listen(&web.FlagConfig{WebSystemdSocket: &no, WebListenAddresses: &[]string{}, WebConfigFile: &noFile}, slog.New(slog.DiscardHandler)); err != web.ErrNoListeners {
		t.Errorf("no address: %v", err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := []string{"127.0.0.1:0", busy.Addr().String()}
	if _, err := Listen(&web.FlagConfig{WebSystemdSocket: &no, WebListenAddresses: &free, WebConfigFile: &noFile}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a port in use was not an error")
	}
}
