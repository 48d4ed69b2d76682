// Command fakeapi serves the built-in simulated fleet of --demo on a fake
// Dasha BlackBox API of its own, so that the configuration-file mode can be
// tried and tested without a key: point an account's url: at it.
//
//	go run ./cmd/fakeapi -listen 127.0.0.1:9700 -key demo-key &
//	# accounts: {demo: {url: http://127.0.0.1:9700, api_key_env: DEMO_KEY}}
//	DEMO_KEY=demo-key go run . --config.file=demo.yml
//
// With -numbers N it serves a generated fleet of N numbers instead.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9700", "address to serve the fake API on")
	key := flag.String("key", "", "API key the fake requires (empty: any key)")
	numbers := flag.Int("numbers", 0, "serve a generated fleet of this many numbers instead of the demo fleet")
	flag.Parse()

	fake := fakeapi.New(*key, nil)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *numbers == 0 {
			fake.SetNumbers(fakeapi.Demo(time.Now())) // it moves with the clock
		}
		fake.ServeHTTP(w, r)
	})
	if *numbers > 0 {
		fake.SetNumbers(fakeapi.Fleet(*numbers, time.Now()))
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "fake Dasha API on http://%s (%s)\n", ln.Addr(), map[bool]string{true: "any key", false: "one key"}[*key == ""])
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
