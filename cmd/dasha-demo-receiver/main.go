// Command dasha-demo-receiver prints the notifications Alertmanager sends, as
// they arrive, for `make demo-stack`: the example routing
// (alerts/examples/alertmanager.yml) sends pages and tickets as Slack-style
// messages rendered from alerts/examples/dasha.tmpl to
// http://127.0.0.1:9097/<receiver>. It also accepts Alertmanager's plain
// webhook payload. It is a demo aid, not part of the exporter.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// message is a Slack-style message or an Alertmanager webhook payload.
type message struct {
	Attachments []struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"attachments"`
	Text   string `json:"text"`
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// printer writes each notification to out, one at a time.
type printer struct {
	mu  sync.Mutex
	out io.Writer
	now func() time.Time
}

func (p *printer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST notifications here", http.StatusMethodNotAllowed)
		return
	}
	var m message
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&m); err != nil {
		http.Error(w, "not a notification: "+err.Error(), http.StatusBadRequest)
		return
	}
	receiver := strings.Trim(r.URL.Path, "/")
	var b strings.Builder
	fmt.Fprintf(&b, "\n==== %s  to %s ====\n", p.now().Format("15:04:05"), receiver)
	switch {
	case len(m.Attachments) > 0:
		for _, a := range m.Attachments {
			fmt.Fprintf(&b, "%s\n%s\n", a.Title, strings.TrimSpace(a.Text))
		}
	case m.Alerts != nil:
		fmt.Fprintf(&b, "[%s] %d alerts (webhook)\n", strings.ToUpper(m.Status), len(m.Alerts))
		for _, a := range m.Alerts {
			fmt.Fprintf(&b, "- %s %s %s\n", a.Status, a.Labels["alertname"], a.Labels["phone_number"])
		}
	default:
		fmt.Fprintf(&b, "%s\n", m.Text)
	}
	p.mu.Lock()
	io.WriteString(p.out, b.String())
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "ok")
}

func main() {
	addr := flag.String("listen", "127.0.0.1:9097", "address to receive notifications on")
	flag.Parse()
	log.Printf("dasha-demo-receiver: printing the notifications posted to http://%s/<receiver>", *addr)
	srv := &http.Server{Addr: *addr, Handler: &printer{out: os.Stdout, now: time.Now}, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
