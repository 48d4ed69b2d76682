package accounts

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkIsolation times probes of an account (5000 numbers, five pages,
// 20ms of API latency each) alone and while three probes of another
// account hang on its API: the figures should match (see the issue-9 note).
//
//	go test -run '^$' -bench Isolation ./accounts
func BenchmarkIsolation(b *testing.B) {
	for _, hung := range []bool{false, true} {
		b.Run(fmt.Sprintf("beside_hung_account=%v", hung), func(b *testing.B) {
			slow := newPlatform(b, "", 10)
			fast := newPlatform(b, "", 5000)
			fast.Latency = 20 * time.Millisecond
			release := make(chan struct{})
			slow.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
				<-release
				return false
			})
			defer close(release)
			f := newFixture(b, fmt.Sprintf("accounts:\n  slow:\n    url: %s\n    api_key_env: K\n    timeout: 1h\n  fast:\n    url: %s\n    api_key_env: K\n", slow.srv.URL, fast.srv.URL), map[string]string{"K": "k"})
			if hung {
				for range 3 {
					go f.get("GET", "/probe?target=slow")
				}
				for slow.Requests() == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			f.get("GET", "/probe?target=fast") // the first listing learns the page count
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/probe?target=fast", nil)
				rec := httptest.NewRecorder()
				f.mux.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
